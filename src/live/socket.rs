//! One WebSocket connection speaking Phoenix V2: heartbeats, joins, leaves, pushes, and the
//! frames its channels' subscriptions bring. One task per connection; bad input gets an error
//! reply and never ends the socket; a client too slow for its queue is closed.
//! (Longer than most files: the connection loop and the join/leave/push handling share the
//! connection's state; splitting them would only pass it around.)

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame as WsFrame};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_util::bytes::Bytes;

use super::channels::{self, Channel, Ctx, HandleResult};
use super::flood::{self, CLOSE_POLICY, Flood, Verdict};
use super::hub::{Broadcast, Outbound, SubscriptionId};
use super::outbox::{Next, Outbox};
use super::protocol::{self, Frame};
use super::{Identity, Live};

/// Phoenix's cap on channels per socket.
pub const MAX_CHANNELS: usize = 100;
/// Application frames are small (joins, cart events); bigger ones get an error reply. The
/// transport refuses anything past `MAX_TRANSPORT_BYTES` outright.
pub const MAX_FRAME_BYTES: usize = 8 * 1024;
pub const MAX_TRANSPORT_BYTES: usize = 64 * 1024;
/// Frames waiting for one client. A browser reads them in microseconds; a client that lets
/// this many pile up is not reading and is dropped (it rejoins and converges).
const QUEUE_CAPACITY: usize = 128;
/// Frames written per flush when several are waiting.
const BATCH: usize = 64;
/// The transport keeps buffers as large as the largest frame it ever read or wrote, for the
/// socket's whole life: reads start small (shoppers send heartbeats and joins of a few hundred
/// bytes), and a push bigger than this (a whole size selector, a cart panel) goes out as
/// fragments of this size, so no socket keeps kilobytes for one join.
const READ_BUFFER: usize = 1024;
const FRAGMENT: usize = 512;

pub const CLOSE_SERVICE_RESTART: u16 = 1012;
const CLOSE_TOO_SLOW: u16 = 1013;
const CLOSE_IDLE: u16 = 1000;

/// How this store's sockets are set up (both the shopper's and the admin's).
pub fn transport_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(FRAGMENT)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(Some(MAX_TRANSPORT_BYTES))
        .max_frame_size(Some(MAX_TRANSPORT_BYTES))
}

struct Joined {
    topic: String,
    join_ref: Option<String>,
    channel: Channel,
    subscriptions: Vec<(String, SubscriptionId)>,
}

struct Connection {
    live: Arc<Live>,
    identity: Identity,
    outbox: Outbox,
    /// A handful at most (a page joins two): a vector is smaller than a map and as fast.
    channels: Vec<Joined>,
}

/// Why the server ends a socket (a client's close or a broken connection needs no frame).
type Ending = Option<(u16, &'static str)>;

pub async fn run<S>(mut ws: WebSocketStream<S>, live: Arc<Live>, identity: Identity)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    metrics::gauge!("sneakers_sockets").increment(1.0);
    let outbox = Outbox::new(QUEUE_CAPACITY);
    let idle = live.idle_timeout;
    // Everything the loop waits on is made once: a loop that made a new timer and a new
    // shutdown waiter on each wake-up would touch the shared timer wheel and the node-wide
    // shutdown token for every frame it writes.
    let shutdown = live.shutdown.clone().cancelled_owned();
    tokio::pin!(shutdown);
    let mut shutting_down = false;
    let mut closing_at: Option<Instant> = None;
    let mut last_heard = Instant::now();
    let timer = sleep_until(last_heard + idle);
    tokio::pin!(timer);
    let flood = Flood::new(live.socket_events);
    let mut conn = Connection {
        live,
        identity,
        outbox: outbox.clone(),
        channels: Vec::new(),
    };
    let mut queued: Vec<Outbound> = Vec::new();
    let mut out: Vec<Utf8Bytes> = Vec::new();
    let close: Ending = loop {
        tokio::select! {
            biased;
            // Pushes first: a wake-up for a push never polls the socket's read side.
            next = outbox.next(&mut queued, BATCH) => match next {
                Next::Killed => break Some((CLOSE_TOO_SLOW, "too slow: rejoin")),
                Next::Messages => {
                    for outbound in queued.drain(..) {
                        conn.take(outbound, &mut out);
                    }
                }
            },
            incoming = ws.next() => {
                last_heard = Instant::now();
                match incoming {
                    Some(Ok(Message::Close(_))) => {
                        // tungstenite has queued its answer (1002 for a code nobody may send).
                        let _ = tokio::time::timeout(Duration::from_secs(1), ws.flush()).await;
                        break None;
                    }
                    Some(Ok(message)) => match flood::check(flood.as_ref()) {
                        Verdict::Allow => conn.handle_message(message, &mut out),
                        Verdict::Refuse => out.push(rate_limited(&message)),
                        Verdict::Close => break Some((CLOSE_POLICY, "rate limited")),
                    },
                    None => break None,
                    Some(Err(error)) => {
                        tracing::debug!(%error, "socket read failed");
                        break super::violation::close_for(error);
                    }
                }
            }
            () = &mut timer => {
                let now = Instant::now();
                if closing_at.is_some_and(|at| at <= now) {
                    break Some((CLOSE_SERVICE_RESTART, "service restart"));
                }
                if now >= last_heard + idle {
                    break Some((CLOSE_IDLE, "idle timeout"));
                }
                timer.as_mut().reset(next_wake(last_heard + idle, closing_at));
            }
            () = &mut shutdown, if !shutting_down => {
                shutting_down = true;
                // Not all at once: every client would reconnect in the same second.
                let spread = conn.live.shutdown_spread.as_millis() as u64;
                let at = Instant::now() + Duration::from_millis(rand::random_range(0..=spread));
                closing_at = Some(at);
                timer.as_mut().reset(next_wake(last_heard + idle, closing_at));
            }
        }
        if !out.is_empty() && !write_all(&mut ws, &mut out, &outbox).await {
            break None;
        }
        // An idle socket should not keep the room of its biggest burst (the join's pushes).
        if out.capacity() > 4 {
            out = Vec::new();
        }
        if queued.capacity() > 4 {
            queued = Vec::new();
        }
    };
    tracing::debug!(?close, channels = conn.channels.len(), "socket ends");
    conn.leave_all();
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: Utf8Bytes::from_static(reason),
        };
        // Best effort, within a second: a client that stopped reading will not see it. Then
        // wait for its answering close (RFC 6455), dropping what it still sends: closing with
        // its frames unread would reset the connection and lose our last frames on its side.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            ws.send(Message::Close(Some(frame))).await?;
            while let Some(Ok(message)) = ws.next().await {
                if let Message::Close(_) = message {
                    break;
                }
            }
            Ok::<(), tokio_tungstenite::tungstenite::Error>(())
        })
        .await;
    }
    metrics::gauge!("sneakers_sockets").decrement(1.0);
}

fn next_wake(idle_at: Instant, closing_at: Option<Instant>) -> Instant {
    closing_at.map_or(idle_at, |at| at.min(idle_at))
}

/// The error reply to an event over the socket's rate, addressed to it when it can be read.
fn rate_limited(message: &Message) -> Utf8Bytes {
    let (join_ref, msg_ref, topic) = match message {
        Message::Text(text) if text.len() <= MAX_FRAME_BYTES => protocol::salvage_refs(text),
        _ => (None, None, "phoenix".to_string()),
    };
    protocol::error_reply(
        join_ref.as_deref(),
        msg_ref.as_deref(),
        &topic,
        "rate_limited",
    )
}

/// Writes and flushes; gives up when the client is dropped meanwhile.
async fn write_all<S>(
    ws: &mut WebSocketStream<S>,
    out: &mut Vec<Utf8Bytes>,
    outbox: &Outbox,
) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let write = async {
        for frame in out.drain(..) {
            if frame.len() <= FRAGMENT {
                ws.feed(Message::Text(frame)).await?;
                continue;
            }
            let bytes = Bytes::from(frame);
            let mut start = 0;
            while start < bytes.len() {
                let end = (start + FRAGMENT).min(bytes.len());
                let opcode = if start == 0 {
                    Data::Text
                } else {
                    Data::Continue
                };
                let fragment = WsFrame::message(
                    bytes.slice(start..end),
                    OpCode::Data(opcode),
                    end == bytes.len(),
                );
                ws.feed(Message::Frame(fragment)).await?;
                start = end;
            }
        }
        ws.flush().await
    };
    tokio::select! {
        result = write => result.is_ok(),
        () = outbox.killed() => false,
    }
}

/// Runs one channel callback with its context. A panic is caught: that channel failed, while
/// the socket and its other channels carry on (`None`). Returns the frames it pushed too.
fn callback<R>(
    live: &Live,
    identity: &Identity,
    outbox: &Outbox,
    (topic, join_ref): (&str, Option<&str>),
    subscriptions: &mut Vec<(String, SubscriptionId)>,
    f: impl FnOnce(&mut Ctx) -> R,
) -> (Option<R>, Vec<Utf8Bytes>) {
    let mut pushes = Vec::new();
    let result = {
        let mut ctx = Ctx {
            live,
            identity,
            topic,
            join_ref,
            outbox,
            out: &mut pushes,
            subscriptions,
        };
        catch_unwind(AssertUnwindSafe(|| f(&mut ctx))).ok()
    };
    (result, pushes)
}

impl Connection {
    fn remove_channel(&mut self, topic: &str) -> Option<Joined> {
        let at = self.channels.iter().position(|j| j.topic == topic)?;
        Some(self.channels.swap_remove(at))
    }

    fn take(&mut self, outbound: Outbound, out: &mut Vec<Utf8Bytes>) {
        match outbound {
            Outbound::Frame(frame) => out.push(frame),
            Outbound::Info { channel, message } => self.handle_info(&channel, &message, out),
        }
    }

    fn handle_message(&mut self, message: Message, out: &mut Vec<Utf8Bytes>) {
        match message {
            Message::Text(text) => self.handle_text(&text, out),
            Message::Binary(_) => out.push(protocol::error_reply(
                None,
                None,
                "phoenix",
                "binary frames are not supported",
            )),
            // tungstenite answers pings itself; a close ends the loop before it gets here; raw
            // frames are never what it reads.
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {}
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
            &self.identity,
            &self.outbox,
            (&topic, join_ref.as_deref()),
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
            &self.identity,
            &self.outbox,
            (&frame.topic, joined.join_ref.as_deref()),
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
            &self.identity,
            &self.outbox,
            (channel_topic, joined.join_ref.as_deref()),
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

    fn leave_all(&mut self) {
        for mut joined in self.channels.drain(..) {
            for (topic, id) in &joined.subscriptions {
                self.live.hub.unsubscribe(topic, *id);
            }
            joined.channel.terminate(&self.live);
            self.live.channels.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
