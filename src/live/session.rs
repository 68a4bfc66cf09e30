//! One connection's channels, whatever carries its frames (a WebSocket, a longpoll session):
//! frames in -> heartbeats, joins, leaves, channel events -> frames out, plus what the
//! channels' subscriptions deliver. Bad input gets an error reply and never ends the
//! connection; a failed channel is ended alone; over the flood limit the caller is told to
//! close. The transports only move frames (`socket.rs`, `longpoll.rs`).

use std::net::IpAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::channels::{self, Channel, Ctx, HandleResult};
use super::flood::{self, Flood, Verdict};
use super::hub::{Broadcast, Outbound, SubscriptionId};
use super::outbox::Outbox;
use super::protocol::{self, Frame};
use super::{Identity, Live};

/// Phoenix's cap on channels per socket.
pub const MAX_CHANNELS: usize = 100;
/// Application frames are small (joins, cart events); bigger ones get an error reply.
pub const MAX_FRAME_BYTES: usize = 8 * 1024;

/// A message from the client as the session sees it.
#[derive(Clone, Copy, Debug)]
pub enum Incoming<'a> {
    Text(&'a str),
    /// A binary frame (Phoenix V2 JSON has none).
    Binary,
    /// A ping or pong: counted, nothing to answer.
    Control,
}

/// The client sent past its flood limit and is to be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many events: closed for flooding")]
pub struct Flooded;

/// The error reply to an event over the rate, addressed to it when it can be read.
fn rate_limited(incoming: Incoming<'_>) -> Utf8Bytes {
    let (join_ref, msg_ref, topic) = match incoming {
        Incoming::Text(text) if text.len() <= MAX_FRAME_BYTES => protocol::salvage_refs(text),
        _ => (None, None, "phoenix".to_string()),
    };
    protocol::error_reply(
        join_ref.as_deref(),
        msg_ref.as_deref(),
        &topic,
        "rate_limited",
    )
}

struct Joined {
    topic: String,
    join_ref: Option<String>,
    channel: Channel,
    subscriptions: Vec<(String, SubscriptionId)>,
}

pub struct Session {
    live: Arc<Live>,
    identity: Identity,
    /// Where the client connected from (the upgrade's, or the request that opened a LongPoll
    /// session): channels charge its per-address budgets.
    address: IpAddr,
    outbox: Outbox,
    /// A handful at most (a page joins two): a vector is smaller than a map and as fast.
    channels: Vec<Joined>,
    flood: Option<Flood>,
    /// Signed in: the session this connection was opened under and its key among that
    /// session's connections (see `signed_in`).
    signed_in: Option<(crate::domain::SessionId, u64)>,
}

/// Runs one channel callback with its context. A panic is caught: that channel failed, while
/// the socket and its other channels carry on (`None`). Returns the frames it pushed too.
fn callback<R>(
    live: &Live,
    (identity, address): (&Identity, IpAddr),
    outbox: &Outbox,
    (topic, join_ref, msg_ref): (&str, Option<&str>, Option<&str>),
    subscriptions: &mut Vec<(String, SubscriptionId)>,
    f: impl FnOnce(&mut Ctx) -> R,
) -> (Option<R>, Vec<Utf8Bytes>) {
    let mut pushes = Vec::new();
    let result = {
        let mut ctx = Ctx {
            live,
            identity,
            address,
            topic,
            join_ref,
            msg_ref,
            outbox,
            out: &mut pushes,
            subscriptions,
        };
        catch_unwind(AssertUnwindSafe(|| f(&mut ctx))).ok()
    };
    (result, pushes)
}

impl Session {
    /// A connection's channel state; `outbox` is where its subscriptions deliver.
    pub fn new(live: Arc<Live>, identity: Identity, address: IpAddr, outbox: Outbox) -> Session {
        let flood = Flood::new(live.socket_events);
        let signed_in = match &identity {
            Identity::Shopper {
                account: Some(account),
                ..
            } => {
                let key = live.signed_in.register(account.session, &outbox);
                // Ended between the token's check and now: the end was told before we listened.
                if live.inventory.session_ended(account.session) {
                    outbox.sign_out();
                }
                Some((account.session, key))
            }
            _ => None,
        };
        Session {
            live,
            identity,
            address,
            outbox,
            channels: Vec::new(),
            flood,
            signed_in,
        }
    }

    pub fn live(&self) -> &Arc<Live> {
        &self.live
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// One message from the client, counted against the flood limit (every message counts,
    /// pings too); what it calls for is appended to `out`. `Err` when the client is to be closed
    /// for flooding.
    pub fn receive(
        &mut self,
        incoming: Incoming<'_>,
        out: &mut Vec<Utf8Bytes>,
    ) -> Result<(), Flooded> {
        match flood::check(self.flood.as_ref()) {
            Verdict::Allow => {}
            Verdict::Refuse => {
                out.push(rate_limited(incoming));
                return Ok(());
            }
            Verdict::Close => return Err(Flooded),
        }
        match incoming {
            Incoming::Text(text) => self.handle_text(text, out),
            Incoming::Binary => out.push(protocol::error_reply(
                None,
                None,
                "phoenix",
                "binary frames are not supported",
            )),
            Incoming::Control => {}
        }
        Ok(())
    }

    fn remove_channel(&mut self, topic: &str) -> Option<Joined> {
        let at = self.channels.iter().position(|j| j.topic == topic)?;
        Some(self.channels.swap_remove(at))
    }

    /// What a subscription delivered: a frame to write, or a message for a channel.
    pub fn take(&mut self, outbound: Outbound, out: &mut Vec<Utf8Bytes>) {
        match outbound {
            Outbound::Frame(frame) => out.push(frame),
            Outbound::Info { channel, message } => self.handle_info(&channel, &message, out),
        }
    }

    fn handle_text(&mut self, text: &str, out: &mut Vec<Utf8Bytes>) {
        if text.len() > MAX_FRAME_BYTES {
            let (join_ref, msg_ref, topic) = protocol::salvage_refs(text);
            out.push(protocol::error_reply(
                join_ref.as_deref(),
                msg_ref.as_deref(),
                &topic,
                "frame too large",
            ));
            return;
        }
        let frame = match protocol::decode(text) {
            Ok(frame) => frame,
            Err(error) => {
                let (join_ref, msg_ref, topic) = protocol::salvage_refs(text);
                out.push(protocol::error_reply(
                    join_ref.as_deref(),
                    msg_ref.as_deref(),
                    &topic,
                    &error.to_string(),
                ));
                return;
            }
        };
        match (frame.topic.as_str(), frame.event.as_str()) {
            ("phoenix", "heartbeat") => out.push(protocol::reply(
                frame.join_ref.as_deref(),
                frame.msg_ref.as_deref(),
                "phoenix",
                true,
                json!({}),
            )),
            (_, "phx_join") => self.join(frame, out),
            (_, "phx_leave") => self.leave(frame, out),
            _ => self.handle_in(frame, out),
        }
    }

    fn join(&mut self, frame: Frame, out: &mut Vec<Utf8Bytes>) {
        let Frame {
            join_ref,
            msg_ref,
            topic,
            payload,
            ..
        } = frame;
        let refuse = |out: &mut Vec<Utf8Bytes>, reason: &str| {
            out.push(protocol::error_reply(
                join_ref.as_deref(),
                msg_ref.as_deref(),
                &topic,
                reason,
            ));
        };
        if let Some(previous) = self.remove_channel(&topic) {
            // A second join of a topic replaces the first, which is told it is closed.
            self.end(&topic, previous, out, "phx_close", json!({}));
        } else if self.channels.len() >= MAX_CHANNELS {
            return refuse(out, "too many channels");
        }
        let mut channel = match channels::route(&topic, &self.identity) {
            Ok(channel) => channel,
            Err(reason) => return refuse(out, reason),
        };
        let mut subscriptions = Vec::new();
        let (result, mut pushes) = callback(
            &self.live,
            (&self.identity, self.address),
            &self.outbox,
            (&topic, join_ref.as_deref(), msg_ref.as_deref()),
            &mut subscriptions,
            |ctx| channel.join(ctx, &payload),
        );
        match result {
            Some(Ok(response)) => {
                metrics::counter!("sneakers_channel_joins_total").increment(1);
                self.live.channels.fetch_add(1, Ordering::Relaxed);
                out.push(protocol::reply(
                    join_ref.as_deref(),
                    msg_ref.as_deref(),
                    &topic,
                    true,
                    response,
                ));
                out.append(&mut pushes);
                self.channels.push(Joined {
                    topic,
                    join_ref,
                    channel,
                    subscriptions,
                });
            }
            Some(Err(response)) => {
                self.unsubscribe_all(&subscriptions);
                channel.terminate(&self.live);
                out.push(protocol::reply(
                    join_ref.as_deref(),
                    msg_ref.as_deref(),
                    &topic,
                    false,
                    response,
                ));
            }
            None => {
                tracing::error!(%topic, "channel panicked in join");
                self.unsubscribe_all(&subscriptions);
                channel.terminate(&self.live);
                refuse(out, "channel_crash");
            }
        }
    }

    fn leave(&mut self, frame: Frame, out: &mut Vec<Utf8Bytes>) {
        match self.remove_channel(&frame.topic) {
            Some(joined) => {
                out.push(protocol::reply(
                    frame.join_ref.as_deref(),
                    frame.msg_ref.as_deref(),
                    &frame.topic,
                    true,
                    json!({}),
                ));
                self.end(&frame.topic, joined, out, "phx_close", json!({}));
            }
            None => out.push(protocol::error_reply(
                frame.join_ref.as_deref(),
                frame.msg_ref.as_deref(),
                &frame.topic,
                "unmatched topic",
            )),
        }
    }

    fn handle_in(&mut self, frame: Frame, out: &mut Vec<Utf8Bytes>) {
        let reply = |ok: bool, response: Value| {
            protocol::reply(
                frame.join_ref.as_deref(),
                frame.msg_ref.as_deref(),
                &frame.topic,
                ok,
                response,
            )
        };
        let Some(joined) = self.channels.iter_mut().find(|j| j.topic == frame.topic) else {
            out.push(reply(false, json!({ "reason": "unmatched topic" })));
            return;
        };
        let channel = &mut joined.channel;
        let (result, mut pushes) = callback(
            &self.live,
            (&self.identity, self.address),
            &self.outbox,
            (
                &frame.topic,
                joined.join_ref.as_deref(),
                frame.msg_ref.as_deref(),
            ),
            &mut joined.subscriptions,
            |ctx| channel.handle_in(ctx, &frame.event, &frame.payload),
        );
        match result {
            Some(HandleResult::Reply(Ok(response))) => out.push(reply(true, response)),
            Some(HandleResult::Reply(Err(response))) => out.push(reply(false, response)),
            Some(HandleResult::NoReply) => {}
            Some(HandleResult::UnknownEvent) => {
                out.push(reply(
                    false,
                    json!({ "reason": format!("unknown event {:?}", frame.event) }),
                ));
            }
            None => {
                tracing::error!(topic = %frame.topic, event = %frame.event, "channel panicked");
                self.crash(&frame.topic, out);
                return;
            }
        }
        out.append(&mut pushes);
    }

    fn handle_info(&mut self, channel_topic: &str, message: &Broadcast, out: &mut Vec<Utf8Bytes>) {
        let Some(joined) = self.channels.iter_mut().find(|j| j.topic == channel_topic) else {
            return;
        };
        let channel = &mut joined.channel;
        let (result, mut pushes) = callback(
            &self.live,
            (&self.identity, self.address),
            &self.outbox,
            (channel_topic, joined.join_ref.as_deref(), None),
            &mut joined.subscriptions,
            |ctx| channel.handle_info(ctx, message),
        );
        match result {
            Some(()) => out.append(&mut pushes),
            None => {
                tracing::error!(topic = %channel_topic, "channel panicked in handle_info");
                self.crash(channel_topic, out);
            }
        }
    }

    /// A failed channel is removed and its client told to rejoin; the socket and its other
    /// channels carry on.
    fn crash(&mut self, topic: &str, out: &mut Vec<Utf8Bytes>) {
        if let Some(joined) = self.remove_channel(topic) {
            self.end(
                topic,
                joined,
                out,
                "phx_error",
                json!({ "reason": "channel_crash" }),
            );
        }
    }

    fn end(
        &mut self,
        topic: &str,
        mut joined: Joined,
        out: &mut Vec<Utf8Bytes>,
        event: &str,
        payload: Value,
    ) {
        self.unsubscribe_all(&joined.subscriptions);
        joined.channel.terminate(&self.live);
        self.live.channels.fetch_sub(1, Ordering::Relaxed);
        let join_ref = joined.join_ref.as_deref();
        out.push(protocol::encode(join_ref, join_ref, topic, event, &payload));
    }

    fn unsubscribe_all(&self, subscriptions: &[(String, SubscriptionId)]) {
        for (topic, id) in subscriptions {
            self.live.hub.unsubscribe(topic, *id);
        }
    }

    /// Ends every channel (presence sees the leaves), as when the connection closes.
    pub fn leave_all(&mut self) {
        for mut joined in self.channels.drain(..) {
            for (topic, id) in &joined.subscriptions {
                self.live.hub.unsubscribe(topic, *id);
            }
            joined.channel.terminate(&self.live);
            self.live.channels.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Session {
    /// However the connection ends (even by a panic in its task), its channels end with it.
    fn drop(&mut self) {
        self.leave_all();
        if let Some((session, key)) = self.signed_in.take() {
            self.live.signed_in.unregister(session, key);
        }
    }
}
