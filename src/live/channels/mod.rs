//! The channel registry: a topic pattern -> a channel implementation with `join`, `handle_in`,
//! `handle_info` and `terminate`. Channels hold no business rules: they call the inventory and
//! render views. Adding a channel is one more entry in [`route`] and one more enum arm.

pub mod admin;
pub mod cart;
pub mod forms;
pub mod product;
pub mod product_form;

use std::sync::Arc;

use serde_json::Value;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::hub::{Broadcast, Delivery, Outbound, Outbox, SubscriptionId};
use super::{Identity, Live, protocol};

/// A joined channel of one socket.
pub enum Channel {
    Product(product::ProductChannel),
    Cart(cart::CartChannel),
    Admin(admin::AdminChannel),
}

/// The topic of the answers [`Ctx::spawn_work`] delivers (no client can subscribe to it).
pub const WORK_TOPIC: &str = "\u{0}work";

/// Why a join is refused; the text is the reply's `reason`.
pub type Refusal = &'static str;

/// Finds the channel for a topic, or refuses (`"unmatched topic"`, `"unauthorized"`).
pub fn route(topic: &str, identity: &Identity) -> Result<Channel, Refusal> {
    let (prefix, rest) = topic.split_once(':').unwrap_or((topic, ""));
    match (prefix, identity) {
        ("product", Identity::Shopper { .. }) => {
            product::ProductChannel::route(rest).map(Channel::Product)
        }
        ("cart", _) => cart::CartChannel::route(rest, identity).map(Channel::Cart),
        ("admin", _) => admin::AdminChannel::route(rest, identity).map(Channel::Admin),
        _ => Err("unmatched topic"),
    }
}

pub enum HandleResult {
    Reply(Result<Value, Value>),
    NoReply,
    UnknownEvent,
}

impl Channel {
    pub fn join(&mut self, ctx: &mut Ctx, payload: &Value) -> Result<Value, Value> {
        match self {
            Channel::Product(c) => c.join(ctx, payload),
            Channel::Cart(c) => c.join(ctx, payload),
            Channel::Admin(c) => c.join(ctx, payload),
        }
    }

    pub fn handle_in(&mut self, ctx: &mut Ctx, event: &str, payload: &Value) -> HandleResult {
        match self {
            Channel::Product(_) => HandleResult::UnknownEvent,
            Channel::Admin(c) => c.handle_in(ctx, event, payload),
            Channel::Cart(c) => c.handle_in(ctx, event, payload),
        }
    }

    pub fn handle_info(&mut self, ctx: &mut Ctx, message: &Broadcast) {
        match self {
            Channel::Product(_) => {}
            Channel::Admin(c) => c.handle_info(ctx),
            Channel::Cart(c) => c.handle_info(ctx, message),
        }
    }

    /// The channel ended, for whatever reason (leave, close, timeout, crash, replaced).
    pub fn terminate(&mut self, live: &Live) {
        match self {
            Channel::Product(_) | Channel::Admin(_) => {}
            Channel::Cart(c) => c.terminate(live),
        }
    }
}

/// What a channel's callbacks may do: push to their client, subscribe to topics (removed
/// automatically when the channel ends), and reach the shared services.
pub struct Ctx<'a> {
    pub live: &'a Live,
    pub identity: &'a Identity,
    /// The client's address, for per-address budgets.
    pub address: std::net::IpAddr,
    pub topic: &'a str,
    pub join_ref: Option<&'a str>,
    /// The ref of the client's message being handled (`handle_in`), for a reply sent later.
    pub msg_ref: Option<&'a str>,
    pub(super) outbox: &'a Outbox,
    pub(super) out: &'a mut Vec<Utf8Bytes>,
    pub(super) subscriptions: &'a mut Vec<(String, SubscriptionId)>,
}

impl Ctx<'_> {
    /// Pushes `[join_ref, null, topic, event, payload]` to this client only.
    pub fn push(&mut self, event: &str, payload: &Value) {
        self.out.push(protocol::encode(
            self.join_ref,
            None,
            self.topic,
            event,
            payload,
        ));
    }

    /// Replies to the client's message `msg_ref` (one handled earlier, whose answer needed the
    /// database: see [`Ctx::spawn_work`]).
    pub fn reply(&mut self, msg_ref: Option<&str>, ok: bool, payload: Value) {
        self.out.push(protocol::reply(
            self.join_ref,
            msg_ref,
            self.topic,
            ok,
            payload,
        ));
    }

    /// Runs `work` (the database's part of an event) off the connection's task, so a slow
    /// query never holds up the connection's other frames; its answer comes back to this
    /// channel's `handle_info` as a message of topic [`WORK_TOPIC`] and event `event`.
    pub fn spawn_work(
        &self,
        event: &'static str,
        work: impl std::future::Future<Output = Value> + Send + 'static,
    ) {
        let outbox = self.outbox.clone();
        let channel: Arc<str> = Arc::from(self.topic);
        tokio::spawn(async move {
            let payload = work.await;
            let message = Broadcast {
                topic: WORK_TOPIC.to_string(),
                event: event.to_string(),
                payload,
                frame: Utf8Bytes::from_static(""),
            };
            // A connection gone meanwhile drops it; one too slow to read is closed anyway.
            let _ = outbox.offer(Outbound::Info {
                channel,
                message: Arc::new(message),
            });
        });
    }

    /// [`Ctx::push`] for a payload already serialized.
    pub fn push_raw(&mut self, event: &str, payload_json: &str) {
        self.out.push(protocol::encode_raw(
            self.join_ref,
            None,
            self.topic,
            event,
            payload_json,
        ));
    }

    /// Broadcast frames of `topic` go straight to this client.
    pub fn subscribe_frames(&mut self, topic: &str) {
        let id = self.live.hub.subscribe(topic, self.outbox, Delivery::Frame);
        self.subscriptions.push((topic.to_string(), id));
    }

    /// Messages on `topic` come to this channel's `handle_info`.
    pub fn subscribe_info(&mut self, topic: &str) {
        let channel: Arc<str> = Arc::from(self.topic);
        let id = self
            .live
            .hub
            .subscribe(topic, self.outbox, Delivery::Info(channel));
        self.subscriptions.push((topic.to_string(), id));
    }

    pub fn unsubscribe(&mut self, topic: &str) {
        let hub = &self.live.hub;
        self.subscriptions.retain(|(t, id)| {
            if t == topic {
                hub.unsubscribe(t, *id);
                false
            } else {
                true
            }
        });
    }

    pub fn subscribed_topics(&self) -> impl Iterator<Item = String> + '_ {
        self.subscriptions.iter().map(|(t, _)| t.clone())
    }

    pub fn is_subscribed(&self, topic: &str) -> bool {
        self.subscriptions.iter().any(|(t, _)| t == topic)
    }
}
