//! The cluster: how one node hears the others. An [`Adapter`] moves [`wire::Message`]s between
//! nodes (publish, subscribe, node events); [`replicate`] decides what a node says and what it
//! does with what it hears. Two adapters: [`local::Local`] (one node, embedded database: nothing
//! to say to anyone) and [`postgres::Postgres`] (LISTEN/NOTIFY on the shared database). A Redis
//! or NATS adapter would be one more file implementing the trait.

pub mod local;
pub mod postgres;
pub mod replicate;
pub mod wire;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use wire::Message;

/// What an adapter reports to its node.
#[derive(Debug)]
pub enum NodeEvent {
    /// The feed is live (again). Anything said while it was down is lost: resync.
    Connected,
    /// Another node's messages, in the order it sent them (never this node's own).
    Received {
        node: String,
        messages: Vec<Message>,
    },
}

/// Whether this node hears the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedStatus {
    /// No cluster (embedded database).
    Local,
    Live,
    Down,
}

impl FeedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedStatus::Local => "local",
            FeedStatus::Live => "live",
            FeedStatus::Down => "down",
        }
    }
}

pub trait Adapter: Send + Sync {
    /// Queues a message for every other node. Never waits: delivery is at most once, and a
    /// node that misses something resyncs when its feed comes back.
    fn publish(&self, message: Message);

    /// The node events; the replicator takes them once, at start.
    fn subscribe(&self) -> mpsc::Receiver<NodeEvent>;

    fn status(&self) -> FeedStatus;

    /// The last word of a stopping node, sent at once rather than queued.
    fn leave(&self) -> BoxFuture<'_, ()>;
}
