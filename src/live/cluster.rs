//! The cluster adapter on PostgreSQL LISTEN/NOTIFY: one dedicated listening connection per
//! node, one channel. Messages are small JSON with the origin node: ids, counts and versions,
//! never HTML (each node renders from its own cache). A node never re-publishes what it
//! received. After a lost LISTEN connection a node reconnects with backoff, listens again and
//! reloads its cache from the database before it trusts events again (NOTIFY replays nothing).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use diesel_async::SimpleAsyncConnection;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Live;
use super::channels::cart;
use super::presence::{Diff, Entries};
use crate::config::PgTarget;
use crate::domain::{ItemId, ProductId};
use crate::inventory::{InventoryEvent, Published};
use crate::store::Db;

pub const CHANNEL: &str = "sneakers";
/// NOTIFY payloads must stay under 8,000 bytes; keep a margin for the envelope.
pub const MAX_PAYLOAD: usize = 7_800;
const QUEUE: usize = 100_000;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Message {
    Stock {
        item: ItemId,
        count: i32,
        version: i64,
    },
    Released {
        product: ProductId,
    },
    Cart {
        cart: String,
        serialized: String,
        origin: u64,
    },
    Presence {
        joins: Entries,
        leaves: Entries,
    },
    State {
        entries: Entries,
        first: bool,
    },
    Heartbeat,
    /// "I am new here (or back): send me your state."
    Hello,
    Bye,
}

#[derive(Serialize, Deserialize, Debug)]
struct Envelope {
    /// The origin node.
    n: String,
    m: Vec<Message>,
}

/// Whether this node hears the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedStatus {
    /// No cluster (embedded database).
    Local = 0,
    Live = 1,
    Down = 2,
}

#[derive(Default)]
pub struct Feed {
    status: AtomicU8,
    queue: std::sync::OnceLock<mpsc::Sender<Message>>,
}

impl Feed {
    pub fn status(&self) -> FeedStatus {
        match self.status.load(Ordering::Relaxed) {
            1 => FeedStatus::Live,
            2 => FeedStatus::Down,
            _ => FeedStatus::Local,
        }
    }

    fn set(&self, status: FeedStatus) {
        self.status.store(status as u8, Ordering::Relaxed);
    }

    /// Queues a message for the other nodes (nothing without a cluster).
    pub fn send(&self, message: Message) {
        if let Some(queue) = self.queue.get()
            && queue.try_send(message).is_err()
        {
            metrics::counter!("sneakers_cluster_dropped_total").increment(1);
            tracing::warn!(
                "cluster queue full: a message was dropped; other nodes resync on their next reconnect"
            );
        }
    }
}

#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub target: PgTarget,
    /// A node silent this long has its presence dropped.
    pub down_after: Duration,
}

impl ClusterConfig {
    fn heartbeat(&self) -> Duration {
        (self.down_after / 3).clamp(Duration::from_millis(100), Duration::from_secs(2))
    }
}

/// Starts the adapter's tasks: publisher, listener, presence shipping, inventory forwarding.
pub fn spawn(live: &Arc<Live>, db: Db, config: ClusterConfig) -> Vec<JoinHandle<()>> {
    let (tx, rx) = mpsc::channel(QUEUE);
    if live.feed.queue.set(tx).is_err() {
        tracing::warn!("cluster adapter already running");
        return Vec::new();
    }
    live.feed.set(FeedStatus::Down);
    vec![
        tokio::spawn(publisher(live.node_name.clone(), db, rx)),
        tokio::spawn(listener(Arc::clone(live), config.clone())),
        tokio::spawn(presence_shipper(Arc::clone(live), config)),
        tokio::spawn(inventory_forwarder(Arc::clone(live))),
    ]
}

/// Says goodbye so other nodes drop this node's presence now rather than after the down
/// period. Sent directly (not queued): it is the last thing a node says.
pub async fn say_goodbye(db: &Db, node: &str) {
    let payload = json!({ "n": node, "m": [Message::Bye] }).to_string();
    if let Err(error) = notify(db, &payload).await {
        tracing::warn!(%error, "could not say goodbye to the cluster");
    }
}

async fn notify(db: &Db, payload: &str) -> Result<(), crate::store::StoreError> {
    crate::store::notify::notify(db, CHANNEL, payload).await
}

/// Packs messages into as few NOTIFYs as fit; a message too big for one is refused loudly.
pub fn pack(node: &str, messages: Vec<Message>) -> Vec<String> {
    let overhead = json!({ "n": node, "m": [] }).to_string().len();
    let mut payloads = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = overhead;
    for message in messages {
        let Ok(text) = serde_json::to_string(&message) else {
            continue;
        };
        if text.len() + overhead > MAX_PAYLOAD {
            metrics::counter!("sneakers_cluster_refused_total").increment(1);
            tracing::error!(
                bytes = text.len(),
                "cluster message too big for NOTIFY: refused, not truncated"
            );
            continue;
        }
        if size + text.len() + 1 > MAX_PAYLOAD && !current.is_empty() {
            payloads.push(format!(
                "{{\"n\":{},\"m\":[{}]}}",
                json!(node),
                current.join(",")
            ));
            current.clear();
            size = overhead;
        }
        size += text.len() + 1;
        current.push(text);
    }
    if !current.is_empty() {
        payloads.push(format!(
            "{{\"n\":{},\"m\":[{}]}}",
            json!(node),
            current.join(",")
        ));
    }
    payloads
}

/// Splits presence entries into messages that each fit in a NOTIFY.
pub fn chunk_entries(entries: Entries, make: impl Fn(Entries, bool) -> Message) -> Vec<Message> {
    let mut messages = Vec::new();
    let mut chunk = Entries::new();
    let mut size = 0;
    for (key, metas) in entries {
        let bytes = serde_json::to_string(&metas).map_or(0, |s| s.len()) + key.len() + 8;
        if size + bytes > MAX_PAYLOAD / 2 && !chunk.is_empty() {
            messages.push(make(std::mem::take(&mut chunk), messages.is_empty()));
            size = 0;
        }
        size += bytes;
        chunk.insert(key, metas);
    }
    if !chunk.is_empty() || messages.is_empty() {
        messages.push(make(chunk, messages.is_empty()));
    }
    messages
}

async fn publisher(node: String, db: Db, mut queue: mpsc::Receiver<Message>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < 1_000 {
            match queue.try_recv() {
                Ok(message) => batch.push(message),
                Err(_) => break,
            }
        }
        for payload in pack(&node, batch) {
            if let Err(error) = notify(&db, &payload).await {
                tracing::warn!(%error, "cluster publish failed; peers resync when their feed recovers");
            }
            metrics::counter!("sneakers_cluster_published_total").increment(1);
        }
    }
}

fn listener_target(config: &ClusterConfig, node: &str) -> PgTarget {
    let name: String = node
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut target = config.target.clone();
    let separator = if target.url.contains('?') { '&' } else { '?' };
    target.url = format!(
        "{}{separator}application_name=sneakers-listen-{name}",
        target.url
    );
    target
}

async fn listener(live: Arc<Live>, config: ClusterConfig) {
    let target = listener_target(&config, &live.node_name);
    let mut backoff = Duration::from_millis(100);
    loop {
        match crate::store::backend::connect_pg(&target).await {
            Ok(mut conn) => match conn.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                Ok(()) => {
                    // Listening first, then reloading: nothing can fall between the two.
                    if let Err(error) = live.inventory.reload().await {
                        tracing::warn!(%error, "cache reload after (re)connecting failed");
                    }
                    live.feed.set(FeedStatus::Live);
                    backoff = Duration::from_millis(100);
                    tracing::info!(node = %live.node_name, "cluster feed live");
                    live.feed.send(Message::Hello);
                    send_state(&live);
                    let mut stream = std::pin::pin!(conn.notifications_stream());
                    while let Some(notification) = stream.next().await {
                        match notification {
                            Ok(n) => receive(&live, &n.payload),
                            Err(error) => {
                                tracing::warn!(%error, "cluster feed lost");
                                break;
                            }
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "LISTEN failed"),
            },
            Err(error) => tracing::warn!(%error, "cluster feed: cannot connect"),
        }
        live.feed.set(FeedStatus::Down);
        metrics::counter!("sneakers_cluster_reconnects_total").increment(1);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn send_state(live: &Live) {
    let entries = live.presence.local_entries();
    for message in chunk_entries(entries, |entries, first| Message::State { entries, first }) {
        live.feed.send(message);
    }
}

/// Applies what another node said. Our own messages come back too; they are ignored.
fn receive(live: &Live, payload: &str) {
    let envelope: Envelope = match serde_json::from_str(payload) {
        Ok(envelope) => envelope,
        Err(error) => {
            tracing::warn!(%error, "unreadable cluster message ignored");
            return;
        }
    };
    if envelope.n == live.node_name {
        return;
    }
    let node = envelope.n.as_str();
    let unknown = live.presence.heard_from(node);
    let mut resync = false;
    for message in envelope.m {
        match message {
            Message::Stock {
                item,
                count,
                version,
            } => {
                resync |= !live.inventory.apply_replicated_stock(item, count, version);
            }
            Message::Released { product } => live.inventory.apply_replicated_release(product),
            Message::Cart {
                cart: cart_id,
                serialized,
                origin,
            } => {
                live.hub.broadcast(
                    &cart::updates_topic(&cart_id),
                    "cart_updated",
                    json!({ "serialized": serialized, "origin": origin }),
                );
            }
            Message::Presence { joins, leaves } => {
                live.presence.apply_remote(node, Diff { joins, leaves })
            }
            Message::State { entries, first } => {
                live.presence.apply_remote_state(node, entries, first)
            }
            Message::Heartbeat => {}
            Message::Hello => send_state(live),
            Message::Bye => live.presence.drop_node(node),
        }
    }
    if unknown {
        // A node we did not know (new, or we restarted): ask for everyone's state.
        live.feed.send(Message::Hello);
    }
    if resync {
        tracing::warn!("a gap in the cluster feed (or an unknown item): reloading the catalog");
        let live = live.inventory.clone();
        tokio::spawn(async move {
            let _ = live.reload().await;
        });
    }
}

async fn presence_shipper(live: Arc<Live>, config: ClusterConfig) {
    let mut ship = tokio::time::interval(Duration::from_millis(100));
    let heartbeat_every = config.heartbeat();
    let mut last_heartbeat = tokio::time::Instant::now();
    loop {
        ship.tick().await;
        if let Some(diff) = live.presence.take_outgoing() {
            for message in chunk_entries(diff.joins, |joins, _| Message::Presence {
                joins,
                leaves: Entries::new(),
            }) {
                live.feed.send(message);
            }
            for message in chunk_entries(diff.leaves, |leaves, _| Message::Presence {
                joins: Entries::new(),
                leaves,
            }) {
                live.feed.send(message);
            }
        }
        if last_heartbeat.elapsed() >= heartbeat_every {
            last_heartbeat = tokio::time::Instant::now();
            live.feed.send(Message::Heartbeat);
            for node in live.presence.expire(config.down_after) {
                tracing::warn!(%node, "node went silent: its shoppers left");
            }
        }
    }
}

async fn inventory_forwarder(live: Arc<Live>) {
    let mut events = live.inventory.subscribe();
    loop {
        match events.recv().await {
            Ok(Published { event, local: true }) => live.feed.send(match event {
                InventoryEvent::Released { product_id } => Message::Released {
                    product: product_id,
                },
                InventoryEvent::StockChanged(change) => Message::Stock {
                    item: change.item_id,
                    count: change.new_count,
                    version: change.version,
                },
            }),
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "cluster forwarder fell behind; peers will resync");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::presence::Meta;

    #[test]
    fn packs_messages_under_the_notify_limit() {
        let messages: Vec<Message> = (0..2_000)
            .map(|i| Message::Stock {
                item: i,
                count: 5,
                version: 9,
            })
            .collect();
        let payloads = pack("node-a", messages);
        assert!(payloads.len() > 1);
        let mut seen = 0;
        for payload in &payloads {
            assert!(payload.len() <= MAX_PAYLOAD, "{}", payload.len());
            let envelope: Envelope =
                serde_json::from_str(payload).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(envelope.n, "node-a");
            seen += envelope.m.len();
        }
        assert_eq!(seen, 2_000, "nothing lost");
    }

    #[test]
    fn an_oversized_message_is_refused_not_truncated() {
        let huge = Message::Cart {
            cart: "c".into(),
            serialized: "x".repeat(9_000),
            origin: 1,
        };
        let small = Message::Heartbeat;
        let payloads = pack("n", vec![huge, small]);
        assert_eq!(payloads.len(), 1);
        assert!(payloads[0].contains("heartbeat") && !payloads[0].contains("xxxx"));
    }

    #[test]
    fn presence_state_is_chunked() {
        let meta = |i: usize| Meta {
            page: "/".into(),
            items: vec![1, 2, 3],
            online_at: 0,
            phx_ref: format!("r{i}"),
            phx_ref_prev: None,
        };
        let entries: Entries = (0..500)
            .map(|i| (format!("{i:064}"), vec![meta(i)]))
            .collect();
        let chunks = chunk_entries(entries, |entries, first| Message::State { entries, first });
        assert!(chunks.len() > 1);
        let firsts = chunks
            .iter()
            .filter(|m| matches!(m, Message::State { first: true, .. }))
            .count();
        assert_eq!(firsts, 1);
        let total: usize = chunks
            .iter()
            .map(|m| {
                if let Message::State { entries, .. } = m {
                    entries.len()
                } else {
                    0
                }
            })
            .sum();
        assert_eq!(total, 500);
        for payload in pack("n", chunks) {
            assert!(payload.len() <= MAX_PAYLOAD);
        }
    }
}
