//! What a node carries, as its own admin panel shows it and its heartbeat tells the others.

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFigures {
    pub sockets: i64,
    pub channels: i64,
    pub pushes_per_second: u64,
}
