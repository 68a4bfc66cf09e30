//! The cluster: how one node hears the others. An [`Adapter`] moves [`wire::Message`]s between
//! nodes over a bus; [`replicate`] decides what a node says and what it does with what it hears,
//! whatever the bus. Three adapters: [`local::Local`] (one node, embedded database: nothing to
//! say to anyone), [`postgres::Postgres`] (LISTEN/NOTIFY on the shared database) and
//! [`redis::Redis`] (a stream for what every node hears, pub/sub for what one node or the
//! holders of one cart need). [`Cluster`] is the node's handle on it: the adapter, the
//! request/answer primitive ([`request`]) and the other nodes' figures ([`peers`]).

pub mod chunk;
pub mod local;
pub mod outgoing;
pub mod peers;
pub mod postgres;
pub mod redis;
pub mod replicate;
pub mod request;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use wire::Message;

/// What an adapter reports to its node.
#[derive(Debug)]
pub enum NodeEvent {
    /// The feed is live, at start or after an outage that may have lost messages: reload from
    /// the database, then trust what comes.
    Connected,
    /// The feed is live again and nothing this node must hear was lost meanwhile (it read on
    /// from where it was).
    Resumed,
    /// Messages were lost while the feed was up (a trimmed stream, a reader that fell
    /// behind): reload from the database.
    Gap,
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

/// Which bus the cluster runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bus {
    Local,
    Postgres,
    Redis,
}

impl Bus {
    pub fn as_str(self) -> &'static str {
        match self {
            Bus::Local => "local",
            Bus::Postgres => "postgres",
            Bus::Redis => "redis",
        }
    }
}

pub trait Adapter: Send + Sync {
    fn bus(&self) -> Bus;

    /// Queues a message for the nodes its [`wire::Route`] names. Never waits: delivery is at
    /// most once, and a node that misses something resyncs.
    fn publish(&self, message: Message);

    /// The node events; the replicator takes them once, at start.
    fn subscribe(&self) -> mpsc::Receiver<NodeEvent>;

    fn status(&self) -> FeedStatus;

    /// The largest payload the bus carries.
    fn max_payload(&self) -> usize;

    /// This node now holds (`true`) or no longer holds a cart open: that cart's messages must
    /// (no longer) reach it. Adapters that bring every message to every node ignore it.
    fn follow_cart(&self, _cart_id: &str, _following: bool) {}

    /// The last word of a stopping node, sent at once rather than queued.
    fn leave(&self) -> BoxFuture<'_, ()>;
}

/// This node's handle on the cluster.
pub struct Cluster {
    adapter: Arc<dyn Adapter>,
    node: String,
    pub requests: request::Requests,
    pub peers: peers::Peers,
}

impl Cluster {
    pub fn new(adapter: Arc<dyn Adapter>, node: &str, peer_down_after: Duration) -> Cluster {
        Cluster {
            adapter,
            node: node.to_string(),
            requests: request::Requests::default(),
            peers: peers::Peers::new(peer_down_after),
        }
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn bus(&self) -> Bus {
        self.adapter.bus()
    }

    pub fn status(&self) -> FeedStatus {
        self.adapter.status()
    }

    /// Whether the bus works for this node now: it hears the others (a lone node's local bus
    /// always works).
    pub fn connected(&self) -> bool {
        self.status() != FeedStatus::Down
    }

    pub fn publish(&self, message: Message) {
        self.adapter.publish(message);
    }

    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        &self.adapter
    }

    /// Asks node `to`'s `service` (see [`request`]); `None` when no answer came within `limit`.
    pub async fn ask(
        &self,
        to: &str,
        service: &str,
        body: &str,
        limit: Duration,
    ) -> Option<String> {
        self.requests
            .ask(&*self.adapter, to, service, body, limit)
            .await
    }

    pub async fn leave(&self) {
        self.adapter.leave().await;
    }
}
