//! The Redis adapter. What every node must hear (inventory, presence, heartbeats) goes through
//! one stream, `XADD … MAXLEN ~`, with ids `0-1, 0-2, …` that Redis numbers itself, so every
//! node reads one order and sees a gap as a skipped number; each node reads on from its last
//! id, so one that blinked misses nothing. Only when the stream was trimmed past it, or Redis
//! lost its data (the epoch key, set once per data set, changed), does it resync from the
//! database, as after a NOTIFY gap. What only some nodes need goes on pub/sub: requests to a
//! node on that node's channel, a cart's updates on the cart's channel, which only the nodes
//! holding that cart open subscribe to.
//!
//! Three connections: a publisher (redis-rs' `ConnectionManager`, which reconnects by itself;
//! a round's messages go in one pipeline, and a round that failed is sent again once Redis is
//! back), the stream reader (a blocking `XREAD` of its own), and the subscriber (a RESP3
//! `ConnectionManager` that resubscribes by itself). Pub/sub channels carry the Redis database
//! number, which pub/sub ignores, so apps sharing a server on different databases stay apart.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use ::redis::{AsyncConnectionConfig, Client, ProtocolVersion, PushInfo, PushKind, RedisError};
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::outgoing::Outgoing;
use super::wire::{self, Message, Route};
use super::{Adapter, Bus, FeedStatus, NodeEvent};
use crate::config::RedisTarget;

/// Entries the stream keeps (about: `~` trims whole nodes). Each is one round of one node.
const STREAM_LENGTH: usize = 100_000;
/// A stream entry or pub/sub message holds at most this; Redis takes far more, but a message
/// this big is a bug.
const MAX_PAYLOAD: usize = 512 * 1024;
/// Entries read per `XREAD`, and how long it waits for one.
const READ_COUNT: usize = 500;
const READ_BLOCK: Duration = Duration::from_millis(1_000);
/// Pub/sub messages waiting for the node; past it they are lost and the node resyncs.
const PUSH_QUEUE: usize = 10_000;
const MAX_BACKOFF: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A command Redis does not answer within this has lost its connection.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the subscriber checks its connection (and brings it back).
const PING_EVERY: Duration = Duration::from_millis(500);
const EVENTS: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum RedisBusError {
    #[error("cannot open REDIS_URL {url}")]
    Open {
        url: String,
        #[source]
        source: RedisError,
    },
}

/// Where things live in Redis.
struct Keys {
    stream: String,
    epoch: String,
    channels: String,
}

impl Keys {
    fn new(db: i64) -> Keys {
        Keys {
            stream: "sneakers:stream".into(),
            epoch: "sneakers:epoch".into(),
            channels: format!("sneakers:{db}:"),
        }
    }

    fn node(&self, node: &str) -> String {
        format!("{}node:{node}", self.channels)
    }

    fn cart(&self, cart_id: &str) -> String {
        format!("{}cart:{cart_id}", self.channels)
    }
}

/// Carts to follow or let go, for the subscriber.
type Follow = (String, bool);

pub struct Redis {
    node: String,
    keys: Keys,
    outgoing: Outgoing,
    events: Mutex<Option<mpsc::Receiver<NodeEvent>>>,
    follows: mpsc::UnboundedSender<Follow>,
    /// The stream reader and the subscriber each hear Redis right now.
    reading: AtomicBool,
    subscribed: AtomicBool,
    /// The publisher's connection, for the goodbye.
    publisher: ConnectionManager,
}

impl Redis {
    /// Starts the publisher, the stream reader and the subscriber on `target`. Fails only on a
    /// URL the client cannot use; Redis itself may be down (the node serves, and connects when
    /// it can).
    pub fn start(
        target: &RedisTarget,
        node: &str,
    ) -> Result<(Arc<Redis>, Vec<JoinHandle<()>>), RedisBusError> {
        // redis-rs builds its TLS configuration from rustls' process-wide provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let open = |protocol: ProtocolVersion| {
            let info = ::redis::IntoConnectionInfo::into_connection_info(target.url.as_str())?;
            let settings = info.redis_settings().clone().set_protocol(protocol);
            Client::open(info.set_redis_settings(settings))
        };
        let error = |source| RedisBusError::Open {
            url: target.redacted(),
            source,
        };
        let client = open(ProtocolVersion::RESP2).map_err(error)?;
        let db = client.get_connection_info().redis_settings().db();
        let manager = |config: ConnectionManagerConfig| {
            config
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(RESPONSE_TIMEOUT))
                .set_max_delay(MAX_BACKOFF)
                .set_number_of_retries(2)
        };
        let publisher = ConnectionManager::new_lazy_with_config(
            client.clone(),
            manager(ConnectionManagerConfig::new()),
        )
        .map_err(error)?;
        let (pushes, pushed) = mpsc::channel(PUSH_QUEUE);
        let lagged = Arc::new(AtomicBool::new(false));
        let lagging = Arc::clone(&lagged);
        let push = move |info: PushInfo| {
            if pushes.try_send(info).is_err() {
                lagging.store(true, Ordering::Relaxed);
            }
            Ok::<(), ()>(())
        };
        let subscriber = ConnectionManager::new_lazy_with_config(
            open(ProtocolVersion::RESP3).map_err(error)?,
            manager(ConnectionManagerConfig::new())
                .set_push_sender(push)
                .set_automatic_resubscription(),
        )
        .map_err(error)?;
        let (outgoing, queue) = Outgoing::new();
        let (events_tx, events) = mpsc::channel(EVENTS);
        let (follows, following) = mpsc::unbounded_channel();
        let adapter = Arc::new(Redis {
            node: node.to_string(),
            keys: Keys::new(db),
            outgoing,
            events: Mutex::new(Some(events)),
            follows,
            reading: AtomicBool::new(false),
            subscribed: AtomicBool::new(false),
            publisher: publisher.clone(),
        });
        let tasks = vec![
            tokio::spawn(publish(Arc::clone(&adapter), publisher, queue)),
            tokio::spawn(read(Arc::clone(&adapter), client, events_tx.clone())),
            tokio::spawn(subscribe(
                Arc::clone(&adapter),
                subscriber,
                Pushes {
                    pushed,
                    lagged,
                    following,
                },
                events_tx,
            )),
        ];
        Ok((adapter, tasks))
    }

    /// A round's messages as one pipeline: the stream's share as entries, each other route's
    /// as messages on its channel.
    fn pipeline(&self, round: Vec<Message>) -> ::redis::Pipeline {
        let mut all = Vec::new();
        let mut routed: BTreeMap<String, Vec<Message>> = BTreeMap::new();
        for message in round {
            match message.route() {
                Route::All => all.push(message),
                Route::Node(node) => {
                    let channel = self.keys.node(node);
                    routed.entry(channel).or_default().push(message);
                }
                Route::Cart(cart) => {
                    let channel = self.keys.cart(cart);
                    routed.entry(channel).or_default().push(message);
                }
            }
        }
        let mut pipe = ::redis::pipe();
        if !all.is_empty() {
            for payload in wire::pack(&self.node, all, MAX_PAYLOAD) {
                pipe.cmd("XADD")
                    .arg(&self.keys.stream)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(STREAM_LENGTH)
                    .arg("0-*")
                    .arg("m")
                    .arg(payload)
                    .ignore();
            }
        }
        for (channel, messages) in routed {
            for payload in wire::pack(&self.node, messages, MAX_PAYLOAD) {
                pipe.cmd("PUBLISH").arg(&channel).arg(payload).ignore();
            }
        }
        pipe
    }

    fn event(&self, text: &str) -> Option<NodeEvent> {
        match wire::unpack(text) {
            // Our own messages come back too.
            Ok(envelope) if envelope.n == self.node => None,
            Ok(envelope) => Some(NodeEvent::Received {
                node: envelope.n,
                messages: envelope.m,
            }),
            Err(error) => {
                tracing::warn!(%error, "unreadable cluster message ignored");
                None
            }
        }
    }
}

impl Adapter for Redis {
    fn bus(&self) -> Bus {
        Bus::Redis
    }

    fn publish(&self, message: Message) {
        self.outgoing.push(message);
    }

    fn subscribe(&self) -> mpsc::Receiver<NodeEvent> {
        let taken = self
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        taken.unwrap_or_else(|| {
            tracing::error!("the cluster feed has one subscriber; a second one hears nothing");
            mpsc::channel(1).1
        })
    }

    fn status(&self) -> FeedStatus {
        if self.reading.load(Ordering::Relaxed) && self.subscribed.load(Ordering::Relaxed) {
            FeedStatus::Live
        } else {
            FeedStatus::Down
        }
    }

    fn max_payload(&self) -> usize {
        MAX_PAYLOAD
    }

    fn follow_cart(&self, cart_id: &str, following: bool) {
        let _ = self.follows.send((cart_id.to_string(), following));
    }

    /// Says goodbye so other nodes drop this node's presence now rather than after the down
    /// period.
    fn leave(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut conn = self.publisher.clone();
            let pipe = self.pipeline(vec![Message::Bye]);
            let said = tokio::time::timeout(RESPONSE_TIMEOUT, pipe.exec_async(&mut conn)).await;
            if !matches!(said, Ok(Ok(()))) {
                tracing::warn!("could not say goodbye to the cluster");
            }
        })
    }
}

/// Sends each round; a round Redis did not take is sent again when it is back (requests and
/// answers excepted: their asker has given up by then), so a blink loses nothing. Meanwhile
/// the queue fills, and past its bound the others are told to reload.
async fn publish(
    adapter: Arc<Redis>,
    mut conn: ConnectionManager,
    mut queue: mpsc::Receiver<Message>,
) {
    while let Some(mut round) = adapter.outgoing.round(&mut queue).await {
        let mut backoff = Duration::from_millis(50);
        loop {
            let pipe = adapter.pipeline(round.clone());
            match pipe.exec_async(&mut conn).await {
                Ok(()) => {
                    metrics::counter!("sneakers_cluster_published_total").increment(1);
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "cluster publish failed; trying again");
                    metrics::counter!("sneakers_cluster_publish_failures_total").increment(1);
                    round.retain(|m| !matches!(m, Message::Relay { .. }));
                    if round.is_empty() {
                        break;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// Where the stream reader stands: the epoch of the data it read and the last entry's number.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    epoch: String,
    seq: u64,
}

/// What a (re)connected reader does, given where it was and what Redis holds now.
#[derive(Debug, PartialEq, Eq)]
enum Start {
    /// First connect, or Redis lost (or went back on) its data: resync, read from its top.
    Resync(Position),
    /// Same data, and it reaches where we were: read on.
    ReadOn,
}

fn start_from(was: Option<&Position>, epoch: &str, top: u64) -> Start {
    let now = Position {
        epoch: epoch.to_string(),
        seq: top,
    };
    match was {
        Some(was) if was.epoch == epoch && top >= was.seq => Start::ReadOn,
        _ => Start::Resync(now),
    }
}

/// The number of a stream id `0-N`.
fn seq_of(id: &str) -> Option<u64> {
    id.strip_prefix("0-")?.parse().ok()
}

type Entries = Vec<(String, Vec<(String, String)>)>;

async fn read(adapter: Arc<Redis>, client: Client, events: mpsc::Sender<NodeEvent>) {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(READ_BLOCK + RESPONSE_TIMEOUT));
    let mut position: Option<Position> = None;
    let mut backoff = Duration::from_millis(100);
    loop {
        match client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(mut conn) => match where_to_start(&adapter, &mut conn, position.as_ref()).await {
                Ok(start) => {
                    let event = match start {
                        Start::Resync(now) => {
                            if position.is_some() {
                                tracing::warn!(
                                    "Redis lost its data (restarted or flushed): resyncing"
                                );
                            }
                            position = Some(now);
                            NodeEvent::Connected
                        }
                        Start::ReadOn => NodeEvent::Resumed,
                    };
                    adapter.reading.store(true, Ordering::Relaxed);
                    backoff = Duration::from_millis(100);
                    tracing::info!(node = %adapter.node, "cluster stream live");
                    if events.send(event).await.is_err() {
                        return;
                    }
                    let Some(at) = position.as_mut() else {
                        continue;
                    };
                    match read_on(&adapter, &mut conn, at, &events).await {
                        Ok(()) => return,
                        Err(error) => tracing::warn!(%error, "cluster stream lost"),
                    }
                }
                Err(error) => tracing::warn!(%error, "cluster stream: cannot find where to start"),
            },
            Err(error) => tracing::warn!(%error, "cluster stream: cannot connect"),
        }
        adapter.reading.store(false, Ordering::Relaxed);
        metrics::counter!("sneakers_cluster_reconnects_total").increment(1);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Reads the epoch (setting it if this data set has none) and the stream's top, together.
async fn where_to_start(
    adapter: &Redis,
    conn: &mut MultiplexedConnection,
    was: Option<&Position>,
) -> Result<Start, RedisError> {
    let fresh = format!("{:032x}", rand::random::<u128>());
    let (epoch, top): (String, Entries) = ::redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(&adapter.keys.epoch)
        .arg(&fresh)
        .arg("NX")
        .ignore()
        .cmd("GET")
        .arg(&adapter.keys.epoch)
        .cmd("XREVRANGE")
        .arg(&adapter.keys.stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await?;
    let top = top.first().and_then(|(id, _)| seq_of(id)).unwrap_or(0);
    Ok(start_from(was, &epoch, top))
}

/// Reads the stream from `at` on until the connection fails (`Ok` once the node is gone).
async fn read_on(
    adapter: &Redis,
    conn: &mut MultiplexedConnection,
    at: &mut Position,
    events: &mpsc::Sender<NodeEvent>,
) -> Result<(), RedisError> {
    loop {
        let reply: Option<Vec<(String, Entries)>> = ::redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(READ_BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&adapter.keys.stream)
            .arg(format!("0-{}", at.seq))
            .query_async(conn)
            .await?;
        let entries = reply.into_iter().flatten().flat_map(|(_, entries)| entries);
        for (id, fields) in entries {
            let Some(seq) = seq_of(&id) else {
                tracing::warn!(%id, "a stream entry this store did not write ignored");
                continue;
            };
            if seq != at.seq + 1 {
                // Trimmed past us: what was between is gone.
                tracing::warn!(
                    from = at.seq,
                    to = seq,
                    "the cluster stream was trimmed past this node"
                );
                metrics::counter!("sneakers_cluster_gaps_total").increment(1);
                if events.send(NodeEvent::Gap).await.is_err() {
                    return Ok(());
                }
            }
            at.seq = seq;
            let text = fields.iter().find(|(field, _)| field == "m");
            if let Some(event) = text.and_then(|(_, text)| adapter.event(text))
                && events.send(event).await.is_err()
            {
                return Ok(());
            }
        }
    }
}

/// What reaches the subscriber task besides its connection.
struct Pushes {
    pushed: mpsc::Receiver<PushInfo>,
    /// Set when a pushed message found the queue full (and was lost).
    lagged: Arc<AtomicBool>,
    following: mpsc::UnboundedReceiver<Follow>,
}

/// Subscribes to this node's channel and the carts it follows, and hands on what comes.
/// redis-rs reconnects and resubscribes by itself; a ping now and then notices a lost
/// connection (and brings it back), and the carts are subscribed again after one, in case a
/// follow came while Redis was away.
async fn subscribe(
    adapter: Arc<Redis>,
    mut conn: ConnectionManager,
    mut pushes: Pushes,
    events: mpsc::Sender<NodeEvent>,
) {
    let node_channel = adapter.keys.node(&adapter.node);
    let mut carts: HashSet<String> = HashSet::new();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut live = false;
    loop {
        tokio::select! {
            pushed = pushes.pushed.recv() => {
                let Some(info) = pushed else { return };
                match info.kind {
                    PushKind::Message => {
                        let text = info.data.get(1).and_then(|v| {
                            ::redis::from_redis_value_ref::<String>(v).ok()
                        });
                        if let Some(event) = text.and_then(|text| adapter.event(&text))
                            && events.send(event).await.is_err()
                        {
                            return;
                        }
                    }
                    PushKind::Disconnection => {
                        live = false;
                        adapter.subscribed.store(false, Ordering::Relaxed);
                        tracing::warn!("cluster subscriptions lost; reconnecting");
                    }
                    _ => {}
                }
                if pushes.lagged.swap(false, Ordering::Relaxed) {
                    tracing::warn!("this node fell behind its pub/sub messages: resyncing");
                    if events.send(NodeEvent::Gap).await.is_err() {
                        return;
                    }
                }
            }
            follow = pushes.following.recv() => {
                let Some((cart, following)) = follow else { return };
                let channel = adapter.keys.cart(&cart);
                let done = if following {
                    carts.insert(cart);
                    conn.subscribe(&channel).await
                } else {
                    carts.remove(&cart);
                    conn.unsubscribe(&channel).await
                };
                if let Err(error) = done {
                    tracing::debug!(%error, "cart subscription deferred until Redis is back");
                }
            }
            _ = ping.tick() => {
                let pong: Result<(), RedisError> = async {
                    if !live {
                        conn.subscribe(&node_channel).await?;
                        for cart in &carts {
                            conn.subscribe(adapter.keys.cart(cart)).await?;
                        }
                    }
                    ::redis::cmd("PING").query_async::<()>(&mut conn).await
                }
                .await;
                match pong {
                    Ok(()) if !live => {
                        live = true;
                        adapter.subscribed.store(true, Ordering::Relaxed);
                        tracing::info!(node = %adapter.node, "cluster subscriptions live");
                    }
                    Ok(()) => {}
                    Err(error) => {
                        if live {
                            tracing::warn!(%error, "cluster subscriptions lost");
                        }
                        live = false;
                        adapter.subscribed.store(false, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_reads_on_only_from_the_same_data_that_reaches_it() {
        let was = Position {
            epoch: "e1".into(),
            seq: 40,
        };
        let resync = |epoch: &str, seq| {
            Start::Resync(Position {
                epoch: epoch.into(),
                seq,
            })
        };
        assert_eq!(start_from(None, "e1", 7), resync("e1", 7));
        assert_eq!(start_from(Some(&was), "e1", 40), Start::ReadOn);
        assert_eq!(start_from(Some(&was), "e1", 90), Start::ReadOn);
        // Restarted without its data: a new epoch.
        assert_eq!(start_from(Some(&was), "e2", 3), resync("e2", 3));
        // Back on an older snapshot: its numbers will be used again for other entries.
        assert_eq!(start_from(Some(&was), "e1", 12), resync("e1", 12));
        assert_eq!(seq_of("0-17"), Some(17));
        assert_eq!(seq_of("1700000000000-0"), None);
    }
}
