//! One WebSocket connection speaking Phoenix V2: the transport around a [`Session`] (which
//! holds the channels and answers frames). One task per connection: it reads messages, writes
//! what the session and its subscriptions produce (framed here, a batch per write), closes
//! an idle socket, a client too slow for its queue, a flooder or a protocol breaker, and closes
//! with 1012 at a random moment within the shutdown spread when the node stops.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::flood::CLOSE_POLICY;
use super::hub::Outbound;
use super::outbox::{Next, Outbox};
use super::session::{Incoming, Session};
use super::wake_flag::WakeFlag;
use super::{Identity, Live};

pub use super::session::{MAX_CHANNELS, MAX_FRAME_BYTES};
/// The transport refuses anything past this outright (frames past `MAX_FRAME_BYTES` get an
/// error reply).
pub const MAX_TRANSPORT_BYTES: usize = 64 * 1024;
/// Frames waiting for one client. A browser reads them in microseconds; a client that lets
/// this many pile up is not reading and is dropped (it rejoins and converges).
const QUEUE_CAPACITY: usize = 128;
/// Frames written per flush when several are waiting.
const BATCH: usize = 64;
/// The transport keeps buffers as large as the largest frame it ever read or wrote, for the
/// socket's whole life: reads start small (shoppers send heartbeats and joins of a few hundred
/// bytes). Pushes do not go through its write buffer (see `write_all`); only its own control
/// frames (pongs, the close) do.
const READ_BUFFER: usize = 1024;
const WRITE_BUFFER: usize = 512;

pub const CLOSE_SERVICE_RESTART: u16 = 1012;
const CLOSE_TOO_SLOW: u16 = 1013;
const CLOSE_IDLE: u16 = 1000;

/// How this store's sockets are set up (both the shopper's and the admin's).
pub fn transport_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(Some(MAX_TRANSPORT_BYTES))
        .max_frame_size(Some(MAX_TRANSPORT_BYTES))
}

/// Why the server ends a socket (a client's close or a broken connection needs no frame).
type Ending = Option<(u16, &'static str)>;

pub async fn run<S>(
    mut ws: WebSocketStream<S>,
    live: Arc<Live>,
    identity: Identity,
    address: std::net::IpAddr,
) where
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
    let mut conn = Session::new(live, identity, address, outbox.clone());
    let mut queued: Vec<Outbound> = Vec::new();
    let mut out: Vec<Utf8Bytes> = Vec::new();
    // Most wake-ups are pushes: the read side is polled only when it woke the task.
    let readable = WakeFlag::new();
    // Whether tungstenite may hold bytes of its own (a pong, a close answer): only reading
    // makes it queue any, and they must go out before our frames.
    let mut transport_dirty = false;
    let close: Ending = loop {
        tokio::select! {
            biased;
            // Pushes first; a wake-up for a push polls the read side only if it woke too.
            next = outbox.next(&mut queued, BATCH) => match next {
                Next::Killed if outbox.is_signed_out() => break Some((CLOSE_POLICY, "signed out")),
                Next::Killed => break Some((CLOSE_TOO_SLOW, "too slow: rejoin")),
                Next::Messages => {
                    for outbound in queued.drain(..) {
                        conn.take(outbound, &mut out);
                    }
                }
            },
            incoming = poll_fn(|cx| readable.poll(cx, |cx| ws.poll_next_unpin(cx))) => {
                last_heard = Instant::now();
                transport_dirty = true;
                match incoming {
                    Some(Ok(Message::Close(_))) => {
                        // tungstenite has queued its answer (1002 for a code nobody may send).
                        let _ = tokio::time::timeout(Duration::from_secs(1), ws.flush()).await;
                        break None;
                    }
                    Some(Ok(message)) => {
                        if conn.receive(incoming_of(&message), &mut out).is_err() {
                            break Some((CLOSE_POLICY, "rate limited"));
                        }
                    }
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
                let spread = conn.live().shutdown_spread.as_millis() as u64;
                let at = Instant::now() + Duration::from_millis(rand::random_range(0..=spread));
                closing_at = Some(at);
                timer.as_mut().reset(next_wake(last_heard + idle, closing_at));
            }
        }
        if !out.is_empty() && !write_all(&mut ws, &mut out, &outbox, &mut transport_dirty).await {
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
    tracing::debug!(?close, channels = conn.channel_count(), "socket ends");
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

/// A WebSocket message as the session sees it. tungstenite answers pings itself; a close ends
/// the loop before it gets here; raw frames are never what it reads.
fn incoming_of(message: &Message) -> Incoming<'_> {
    match message {
        Message::Text(text) => Incoming::Text(text),
        Message::Binary(_) => Incoming::Binary,
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {
            Incoming::Control
        }
    }
}

/// Writes and flushes; gives up when the client is dropped meanwhile.
///
/// Text frames are framed here, the whole batch in one buffer and one write, instead of going
/// through tungstenite's write buffer: that buffer flushes every `WRITE_BUFFER` bytes (a bigger one
/// would be kept by every socket for its whole life), so a join's state (a reply and 15 pushes,
/// 5 KB) took 8 writes, each a TCP segment the client must wake for. The buffer here lives for
/// one batch. Server frames are unmasked, so framing is a header before each payload;
/// tungstenite is flushed first when a read may have left it a pong or a close answer, so those
/// never land inside one of these.
async fn write_all<S>(
    ws: &mut WebSocketStream<S>,
    out: &mut Vec<Utf8Bytes>,
    outbox: &Outbox,
    transport_dirty: &mut bool,
) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let write = async {
        if *transport_dirty {
            if ws.flush().await.is_err() {
                return false;
            }
            *transport_dirty = false;
        }
        let buffer = frame_text(out);
        out.clear();
        let stream = ws.get_mut();
        stream.write_all(&buffer).await.is_ok() && stream.flush().await.is_ok()
    };
    // The write first: when it completes at once (a client that reads), the kill switch is
    // never polled, which would cost a lock per push.
    tokio::select! {
        biased;
        written = write => written,
        () = outbox.killed() => false,
    }
}

/// `texts` as unfragmented, unmasked WebSocket text frames (RFC 6455 5.2), back to back.
fn frame_text(texts: &[Utf8Bytes]) -> Vec<u8> {
    let size: usize = texts.iter().map(|t| t.len() + 10).sum();
    let mut buffer = Vec::with_capacity(size);
    for text in texts {
        let payload = text.as_bytes();
        buffer.push(0x81); // FIN, text
        match payload.len() {
            len @ 0..=125 => buffer.push(len as u8),
            len @ 126..=0xFFFF => {
                buffer.push(126);
                buffer.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                buffer.push(127);
                buffer.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        buffer.extend_from_slice(payload);
    }
    buffer
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::protocol::Role;

    use super::*;

    /// What a client reads from `frame_text`'s bytes: tungstenite's own reader, as a client.
    async fn read_back(bytes: Vec<u8>) -> Vec<String> {
        let (mut server_end, client_end) = tokio::io::duplex(1 << 20);
        server_end.write_all(&bytes).await.expect("duplex has room");
        drop(server_end);
        let mut client = WebSocketStream::from_raw_socket(client_end, Role::Client, None).await;
        let mut texts = Vec::new();
        while let Some(Ok(Message::Text(text))) = client.next().await {
            texts.push(text.to_string());
        }
        texts
    }

    #[tokio::test]
    async fn frames_every_length_class_as_a_client_reads_it() {
        let texts: Vec<String> = [0, 125, 126, 65_535, 65_536, 200_000]
            .iter()
            .map(|&len| "é".repeat(len / 2) + &"x".repeat(len % 2))
            .collect();
        let frames: Vec<Utf8Bytes> = texts.iter().map(|t| Utf8Bytes::from(t.clone())).collect();
        assert_eq!(read_back(frame_text(&frames)).await, texts);
    }
}
