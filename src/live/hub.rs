//! Pubsub: topic -> subscribers. A broadcast is serialized to one frame once and the same bytes
//! are queued for every subscriber, each in its connection's bounded [`Outbox`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

pub use super::outbox::Outbox;
use super::protocol;

/// A message published on a topic: its frame (`[null, null, topic, event, payload]`) is made
/// once, at publish time.
#[derive(Debug)]
pub struct Broadcast {
    pub topic: String,
    pub event: String,
    pub payload: Value,
    pub frame: Utf8Bytes,
}

/// What a connection's task receives.
#[derive(Debug)]
pub enum Outbound {
    /// Bytes to write as they are.
    Frame(Utf8Bytes),
    /// A message for one of the connection's channels to handle (`handle_info`).
    Info {
        channel: Arc<str>,
        message: Arc<Broadcast>,
    },
}

/// How a subscriber wants a topic's messages.
#[derive(Clone, Debug)]
pub enum Delivery {
    /// Straight to the socket: the shared frame, untouched (fastlane).
    Frame,
    /// To a channel's `handle_info`, which decides what to push.
    Info(Arc<str>),
}

#[derive(Clone, Debug)]
struct Subscriber {
    outbox: Outbox,
    delivery: Delivery,
}

pub type SubscriptionId = u64;

/// Who is told when a topic under `prefix` gains its first subscriber (`true`) or loses its
/// last (`false`).
struct Watch {
    prefix: &'static str,
    changes: mpsc::UnboundedSender<(String, bool)>,
}

impl Watch {
    /// Called under the topics' lock, so a topic's changes arrive in the order they happened.
    fn tell(&self, topic: &str, occupied: bool) {
        if topic.starts_with(self.prefix) {
            let _ = self.changes.send((topic.to_string(), occupied));
        }
    }
}

#[derive(Default)]
pub struct Hub {
    topics: RwLock<HashMap<String, HashMap<SubscriptionId, Subscriber>>>,
    next_id: AtomicU64,
    pushes: AtomicU64,
    watch: OnceLock<Watch>,
}

impl Hub {
    pub fn subscribe(&self, topic: &str, outbox: &Outbox, delivery: Delivery) -> SubscriptionId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let subscriber = Subscriber {
            outbox: outbox.clone(),
            delivery,
        };
        let mut topics = self.topics.write().unwrap_or_else(PoisonError::into_inner);
        let subscribers = topics.entry(topic.to_string()).or_default();
        subscribers.insert(id, subscriber);
        if subscribers.len() == 1
            && let Some(watch) = self.watch.get()
        {
            watch.tell(topic, true);
        }
        id
    }

    pub fn unsubscribe(&self, topic: &str, id: SubscriptionId) {
        let mut topics = self.topics.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(subscribers) = topics.get_mut(topic) {
            subscribers.remove(&id);
            if subscribers.is_empty() {
                topics.remove(topic);
                if let Some(watch) = self.watch.get() {
                    watch.tell(topic, false);
                }
            }
        }
    }

    /// Topics under `prefix` as they become occupied (`true`) and empty (`false`), starting
    /// with those occupied now. One watcher per hub; a second call gets `None`.
    pub fn watch(&self, prefix: &'static str) -> Option<mpsc::UnboundedReceiver<(String, bool)>> {
        let (changes, receiver) = mpsc::unbounded_channel();
        let topics = self.topics.read().unwrap_or_else(PoisonError::into_inner);
        let watch = Watch { prefix, changes };
        for topic in topics.keys() {
            watch.tell(topic, true);
        }
        self.watch.set(watch).ok()?;
        Some(receiver)
    }

    /// Messages queued for subscribers since start.
    pub fn pushes(&self) -> u64 {
        self.pushes.load(Ordering::Relaxed)
    }

    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.topics
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic)
            .map_or(0, HashMap::len)
    }

    /// Publishes on this node. Returns how many subscribers it reached.
    pub fn broadcast(&self, topic: &str, event: &str, payload: Value) -> usize {
        // Most sales happen with no page open on some product: skip the serializing then.
        if self.subscriber_count(topic) == 0 {
            return 0;
        }
        let started = Instant::now();
        let frame = protocol::encode(None, None, topic, event, &payload);
        let message = Arc::new(Broadcast {
            topic: topic.to_string(),
            event: event.to_string(),
            payload,
            frame,
        });
        let topics = self.topics.read().unwrap_or_else(PoisonError::into_inner);
        let Some(subscribers) = topics.get(topic) else {
            return 0;
        };
        let mut reached = 0;
        for subscriber in subscribers.values() {
            let outbound = match &subscriber.delivery {
                Delivery::Frame => Outbound::Frame(message.frame.clone()),
                Delivery::Info(channel) => Outbound::Info {
                    channel: Arc::clone(channel),
                    message: Arc::clone(&message),
                },
            };
            if subscriber.outbox.offer(outbound) {
                reached += 1;
            }
        }
        drop(topics);
        self.pushes.fetch_add(reached as u64, Ordering::Relaxed);
        metrics::counter!("sneakers_pushes_total").increment(reached as u64);
        metrics::histogram!("sneakers_broadcast_fanout_seconds")
            .record(started.elapsed().as_secs_f64());
        reached
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn one_frame_for_every_subscriber() {
        let hub = Hub::default();
        let (a, b) = (Outbox::new(4), Outbox::new(4));
        hub.subscribe("product:1", &a, Delivery::Frame);
        let sub = hub.subscribe("product:1", &b, Delivery::Info("cart:x".into()));
        assert_eq!(
            hub.broadcast("product:1", "stock_change", json!({"level": "low"})),
            2
        );
        let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
        a.next(&mut got_a, 8).await;
        b.next(&mut got_b, 8).await;
        let frame_a = match got_a.pop() {
            Some(Outbound::Frame(frame)) => frame,
            other => panic!("{other:?}"),
        };
        let frame_b = match got_b.pop() {
            Some(Outbound::Info { message, channel }) => {
                assert_eq!(&*channel, "cart:x");
                message.frame.clone()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(frame_a, frame_b);
        assert_eq!(
            frame_a.as_str(),
            r#"[null,null,"product:1","stock_change",{"level":"low"}]"#
        );
        hub.unsubscribe("product:1", sub);
        assert_eq!(hub.subscriber_count("product:1"), 1);
        assert_eq!(hub.broadcast("product:2", "x", json!({})), 0);
    }

    #[tokio::test]
    async fn a_full_queue_drops_that_subscriber_only() {
        let hub = Hub::default();
        let (slow, fast) = (Outbox::new(1), Outbox::new(8));
        hub.subscribe("t", &slow, Delivery::Frame);
        hub.subscribe("t", &fast, Delivery::Frame);
        hub.broadcast("t", "e", json!(1));
        hub.broadcast("t", "e", json!(2));
        assert!(slow.is_killed());
        assert!(!fast.is_killed());
        let mut got = Vec::new();
        fast.next(&mut got, 8).await;
        assert_eq!(got.len(), 2);
    }

    #[tokio::test]
    async fn a_watcher_hears_topics_fill_and_empty_once_each() {
        let hub = Hub::default();
        let (a, b) = (Outbox::new(4), Outbox::new(4));
        let before = hub.subscribe("cart_updates:old", &a, Delivery::Frame);
        let Some(mut changes) = hub.watch("cart_updates:") else {
            panic!("the first watcher is taken");
        };
        assert!(hub.watch("cart_updates:").is_none(), "one watcher per hub");
        let first = hub.subscribe("cart_updates:x", &a, Delivery::Frame);
        let second = hub.subscribe("cart_updates:x", &b, Delivery::Frame);
        hub.subscribe("product:1", &a, Delivery::Frame);
        hub.unsubscribe("cart_updates:x", first);
        hub.unsubscribe("cart_updates:x", second);
        hub.unsubscribe("cart_updates:old", before);
        let mut seen = Vec::new();
        while let Ok(change) = changes.try_recv() {
            seen.push(change);
        }
        let change = |t: &str, on| (t.to_string(), on);
        assert_eq!(
            seen,
            [
                change("cart_updates:old", true),
                change("cart_updates:x", true),
                change("cart_updates:x", false),
                change("cart_updates:old", false),
            ]
        );
    }
}
