//! The PostgreSQL adapter: NOTIFY on one channel to publish (a round's payloads in one
//! statement, so one commit), one dedicated LISTEN connection per node to hear. After a lost
//! LISTEN connection it reconnects with backoff, listens again and reports
//! [`NodeEvent::Connected`], so the node reloads before it trusts events again (NOTIFY replays
//! nothing). Every node hears every message: routes are the receivers' business. It also
//! watches the server's notification queue (`pg_notification_queue_usage()`).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use diesel_async::SimpleAsyncConnection;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::outgoing::Outgoing;
use super::wire::{self, Message, NOTIFY_PAYLOAD};
use super::{Adapter, Bus, FeedStatus, NodeEvent};
use crate::config::PgTarget;
use crate::store::Db;

pub const CHANNEL: &str = "sneakers";
const QUEUE: usize = 100_000;
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the notification queue's usage is read, and past which share of it to warn.
const QUEUE_CHECK: Duration = Duration::from_secs(5);
const QUEUE_WARN: f64 = 0.5;

pub struct Postgres {
    node: String,
    db: Db,
    status: AtomicU8,
    outgoing: Outgoing,
    events: Mutex<Option<mpsc::Receiver<NodeEvent>>>,
}

const LIVE: u8 = 1;
const DOWN: u8 = 2;

impl Postgres {
    /// Starts publishing on `db` and listening on a connection of its own to `target`.
    pub fn start(db: Db, target: &PgTarget, node: &str) -> (Arc<Postgres>, Vec<JoinHandle<()>>) {
        let (outgoing, queue) = Outgoing::new();
        let (events_tx, events) = mpsc::channel(QUEUE);
        let adapter = Arc::new(Postgres {
            node: node.to_string(),
            db,
            status: AtomicU8::new(DOWN),
            outgoing,
            events: Mutex::new(Some(events)),
        });
        let tasks = vec![
            tokio::spawn(publisher(Arc::clone(&adapter), queue)),
            tokio::spawn(watch_queue(adapter.db.clone())),
            tokio::spawn(listener(
                Arc::clone(&adapter),
                listener_target(target, node),
                events_tx,
            )),
        ];
        (adapter, tasks)
    }

    async fn notify(&self, payloads: &[String]) -> Result<(), crate::store::StoreError> {
        crate::store::notify::notify(&self.db, CHANNEL, payloads).await
    }
}

impl Adapter for Postgres {
    fn bus(&self) -> Bus {
        Bus::Postgres
    }

    fn publish(&self, message: Message) {
        self.outgoing.push(message);
    }

    fn max_payload(&self) -> usize {
        NOTIFY_PAYLOAD
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
        match self.status.load(Ordering::Relaxed) {
            LIVE => FeedStatus::Live,
            _ => FeedStatus::Down,
        }
    }

    /// Says goodbye so other nodes drop this node's presence now rather than after the down
    /// period.
    fn leave(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let payloads = wire::pack(&self.node, vec![Message::Bye], NOTIFY_PAYLOAD);
            if let Err(error) = self.notify(&payloads).await {
                tracing::warn!(error = %crate::error_chain::ErrorChain(&error), "could not say goodbye to the cluster");
            }
        })
    }
}

async fn publisher(adapter: Arc<Postgres>, mut queue: mpsc::Receiver<Message>) {
    while let Some(round) = adapter.outgoing.round(&mut queue).await {
        let payloads = wire::pack(&adapter.node, round, NOTIFY_PAYLOAD);
        match adapter.notify(&payloads).await {
            Ok(()) => metrics::counter!("sneakers_cluster_published_total")
                .increment(payloads.len() as u64),
            Err(error) => {
                tracing::warn!(error = %crate::error_chain::ErrorChain(&error), "cluster publish failed; peers resync when their feed recovers");
            }
        }
    }
}

/// Reads the notification queue's usage into `sneakers_notify_queue_usage` (0 to 1), warning
/// past half: a listener that stopped reading fills it for everyone, then every NOTIFY fails.
async fn watch_queue(db: Db) {
    let mut every = tokio::time::interval(QUEUE_CHECK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match crate::store::notify::queue_usage(&db).await {
            Ok(Some(usage)) => {
                metrics::gauge!("sneakers_notify_queue_usage").set(usage);
                if usage > QUEUE_WARN {
                    tracing::warn!(
                        usage,
                        "the PostgreSQL notification queue is over half full: a listener is not reading (look for an idle LISTEN session in pg_stat_activity)"
                    );
                }
            }
            Ok(None) => return,
            Err(error) => {
                tracing::debug!(error = %crate::error_chain::ErrorChain(&error), "cannot read the notification queue's usage")
            }
        }
    }
}

/// The listening connection names itself after the node (visible in `pg_stat_activity`).
fn listener_target(target: &PgTarget, node: &str) -> PgTarget {
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
    let mut target = target.clone();
    let separator = if target.url.contains('?') { '&' } else { '?' };
    target.url = format!(
        "{}{separator}application_name=sneakers-listen-{name}",
        target.url
    );
    target
}

async fn listener(adapter: Arc<Postgres>, target: PgTarget, events: mpsc::Sender<NodeEvent>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match crate::store::backend::connect_pg(&target).await {
            Ok(mut conn) => match conn.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                Ok(()) => {
                    adapter.status.store(LIVE, Ordering::Relaxed);
                    backoff = Duration::from_millis(100);
                    tracing::info!(node = %adapter.node, "cluster feed live");
                    // Listening first, then resyncing: nothing can fall between the two.
                    if events.send(NodeEvent::Connected).await.is_err() {
                        return;
                    }
                    let mut stream = std::pin::pin!(conn.notifications_stream());
                    while let Some(notification) = stream.next().await {
                        let notification = match notification {
                            Ok(n) => n,
                            Err(error) => {
                                tracing::warn!(error = %crate::error_chain::ErrorChain(&error), "cluster feed lost");
                                break;
                            }
                        };
                        let envelope = match wire::unpack(&notification.payload) {
                            Ok(envelope) => envelope,
                            Err(error) => {
                                tracing::warn!(error = %crate::error_chain::ErrorChain(&error), "unreadable cluster message ignored");
                                continue;
                            }
                        };
                        // Our own messages come back too.
                        if envelope.n == adapter.node {
                            continue;
                        }
                        let received = NodeEvent::Received {
                            node: envelope.n,
                            messages: envelope.m,
                        };
                        if events.send(received).await.is_err() {
                            return;
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %crate::error_chain::ErrorChain(&error), "LISTEN failed")
                }
            },
            Err(error) => {
                tracing::warn!(error = %crate::error_chain::ErrorChain(&error), "cluster feed: cannot connect")
            }
        }
        adapter.status.store(DOWN, Ordering::Relaxed);
        metrics::counter!("sneakers_cluster_reconnects_total").increment(1);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
