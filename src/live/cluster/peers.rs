//! The other nodes as their heartbeats describe them, for the admin's cluster panel.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::domain::figures::NodeFigures;
use crate::html::fragments::admin::NodeRow;

/// Another node, as its last heartbeat said.
#[derive(Debug, Clone)]
struct Peer {
    figures: NodeFigures,
    feed: String,
    heard_at: Instant,
}

pub struct Peers {
    /// A node silent this long is shown down.
    down_after: Duration,
    peers: Mutex<BTreeMap<String, Peer>>,
}

impl Peers {
    pub fn new(down_after: Duration) -> Peers {
        Peers {
            down_after,
            peers: Mutex::default(),
        }
    }

    pub fn heard(&self, node: &str, figures: NodeFigures, feed: String) {
        let peer = Peer {
            figures,
            feed,
            heard_at: Instant::now(),
        };
        let mut peers = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
        peers.insert(node.to_string(), peer);
    }

    /// Every node: this one first (as `this` describes it), then the others, a silent one
    /// marked down.
    pub fn rows(&self, this: NodeRow) -> Vec<NodeRow> {
        let mut rows = vec![this];
        let peers = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
        for (name, peer) in peers.iter() {
            rows.push(NodeRow {
                name: name.clone(),
                figures: peer.figures,
                feed: peer.feed.clone(),
                up: peer.heard_at.elapsed() < self.down_after,
                this: false,
            });
        }
        rows
    }
}
