//! The benches' WebSocket client, speaking Phoenix V2: connect (from a spread of loopback source
//! addresses), join a topic, push and await the reply, then read pushes and heartbeat until told
//! to stop. [`Shopper`] is the `fanout` client: it joins `product:<id>` and reports when each
//! `stock_change` arrives; only pushes that mention `stock_change` are parsed at all.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::bench_error;
use crate::cli::CliError;

/// Heartbeat period; the server closes a socket silent for 60 s.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// Source addresses 127.0.0.2 ..= 127.0.0.201: each gives ~28k ephemeral ports to one server port.
const SOURCE_ADDRESSES: u32 = 200;

pub type Socket = WebSocketStream<TcpStream>;

/// The shopper socket's path.
pub const SHOPPER_SOCKET: &str = "/socket/websocket";
/// The admin socket's path.
pub const ADMIN_SOCKET: &str = "/admin_socket/websocket";

/// Where and how clients connect to one server.
pub struct Target {
    /// The server's address (resolved once).
    pub addr: SocketAddr,
    /// `ws://host:port` (the socket path and query are appended).
    pub ws_base: String,
    /// Sent as `Origin`, so a server that checks it sees its own origin.
    pub origin: String,
    /// Bind each socket to 127.0.0.X before connecting (loopback servers only).
    pub spread_sources: bool,
    /// For a connection, a join, or a reply.
    pub timeout: Duration,
}

impl Target {
    /// The socket address for `base` (`http://host:port`).
    pub async fn resolve(base: &str, timeout: Duration) -> Result<Target, CliError> {
        let url =
            reqwest::Url::parse(base).map_err(|e| bench_error(format!("bad url {base}: {e}")))?;
        if url.scheme() != "http" {
            return Err(bench_error(format!(
                "only http:// servers can be benched, not {base}"
            )));
        }
        let host = url
            .host_str()
            .ok_or_else(|| bench_error(format!("no host in {base}")))?;
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| bench_error(format!("cannot resolve {host}: {e}")))?
            .collect();
        let addr = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .copied()
            .ok_or_else(|| bench_error(format!("{host} resolves to no address")))?;
        let authority = format!("{host}:{port}");
        Ok(Target {
            addr,
            ws_base: format!("ws://{authority}"),
            origin: format!("http://{authority}"),
            spread_sources: addr.is_ipv4() && addr.ip().is_loopback(),
            timeout,
        })
    }

    /// The source address client `id` binds to, if sources are spread (for HTTP clients too).
    pub fn source(&self, id: u32) -> Option<IpAddr> {
        self.spread_sources.then(|| source_address(id))
    }
}

/// Small buffers: thousands of these live in one process.
pub fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(64 * 1024)
        .max_message_size(Some(1024 * 1024))
}

/// For the one admin socket, whose presence pushes list every shopper.
pub fn large_config() -> WebSocketConfig {
    WebSocketConfig::default().max_message_size(Some(64 * 1024 * 1024))
}

/// Opens `path?vsn=2.0.0&token=<token>` on the target as client `id`.
pub async fn connect(
    id: u32,
    target: &Target,
    path: &str,
    token: &str,
    config: WebSocketConfig,
) -> Result<Socket, String> {
    let tcp = match target.addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| format!("socket: {e}"))?;
    if let Some(source) = target.source(id) {
        tcp.bind(SocketAddr::new(source, 0))
            .map_err(|e| format!("bind {source}: {e}"))?;
    }
    let url = format!("{}{path}?vsn=2.0.0&token={}", target.ws_base, encode(token));
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("bad url {url}: {e}"))?;
    if let Ok(origin) = HeaderValue::from_str(&target.origin) {
        request.headers_mut().insert("origin", origin);
    }
    let upgrade = async {
        let stream = tcp
            .connect(target.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", target.addr))?;
        let _ = stream.set_nodelay(true);
        tokio_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .map_err(|e| describe(&e))
    };
    let (socket, _) = tokio::time::timeout(target.timeout, upgrade)
        .await
        .map_err(|_| {
            format!(
                "no WebSocket connection within {} s",
                target.timeout.as_secs()
            )
        })??;
    Ok(socket)
}

/// A channel's answer to a push: `{"status": "ok" | "error", "response": ...}`.
#[derive(Deserialize, Debug)]
pub struct Reply {
    pub status: String,
    #[serde(default)]
    pub response: Value,
}

impl Reply {
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// Joins `topic` (join ref "1") with `payload`; the join's response, or why it was refused.
pub async fn join(
    socket: &mut Socket,
    topic: &str,
    payload: &Value,
    timeout: Duration,
) -> Result<Value, String> {
    let reply = request(socket, topic, "1", "phx_join", payload, timeout)
        .await
        .map_err(|e| format!("join {topic}: {e}"))?;
    if reply.is_ok() {
        Ok(reply.response)
    } else {
        Err(format!("join {topic} refused: {}", reply.response))
    }
}

/// Sends `event` on a joined `topic` (join ref "1") with `reference`, and waits for its reply.
/// Pushes that arrive in between are skipped.
pub async fn request(
    socket: &mut Socket,
    topic: &str,
    reference: &str,
    event: &str,
    payload: &Value,
    timeout: Duration,
) -> Result<Reply, String> {
    request_seeing(socket, topic, reference, event, payload, timeout, |_| {}).await
}

/// [`request`], showing `on_push` every other frame that arrives before the reply.
pub async fn request_seeing(
    socket: &mut Socket,
    topic: &str,
    reference: &str,
    event: &str,
    payload: &Value,
    timeout: Duration,
    on_push: impl FnMut(&str),
) -> Result<Reply, String> {
    let frame = serde_json::json!(["1", reference, topic, event, payload]).to_string();
    socket
        .send(Message::text(frame))
        .await
        .map_err(|e| describe(&e))?;
    tokio::time::timeout(timeout, reply(socket, reference, on_push))
        .await
        .map_err(|_| format!("no reply to {event} within {} s", timeout.as_secs()))?
}

/// Waits for the reply to `reference`; pushes that come first go to `on_push`.
async fn reply(
    socket: &mut Socket,
    reference: &str,
    mut on_push: impl FnMut(&str),
) -> Result<Reply, String> {
    #[derive(Deserialize)]
    struct Frame<'a>(IgnoredAny, Option<&'a str>, IgnoredAny, &'a str, Reply);
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                if let Ok(Frame(_, Some(r), _, "phx_reply", reply)) = serde_json::from_str(&text)
                    && r == reference
                {
                    return Ok(reply);
                }
                on_push(&text);
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(match frame {
                    Some(frame) => format!(
                        "closed by the server ({} {})",
                        u16::from(frame.code),
                        frame.reason
                    ),
                    None => "closed by the server".into(),
                });
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(describe(&e)),
            None => return Err("connection closed".into()),
        }
    }
}

/// The event of a frame, `[join_ref, ref, topic, event, payload]`.
pub fn event_of(text: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Frame(IgnoredAny, IgnoredAny, IgnoredAny, String, IgnoredAny);
    serde_json::from_str::<Frame>(text).ok().map(|f| f.3)
}

/// Reads pushes (each text frame goes to `on_text`, with the time it was read) and heartbeats
/// until `stop` completes (`None`) or the socket fails (the reason).
pub async fn listen(
    socket: &mut Socket,
    stop: impl Future<Output = ()>,
    mut on_text: impl FnMut(&str, Instant),
) -> Option<String> {
    let first = Duration::from_millis(rand::rng().random_range(0..HEARTBEAT.as_millis() as u64));
    let mut heartbeat = tokio::time::interval_at(Instant::now() + first, HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reference: u64 = 1_000;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => on_text(&text, Instant::now()),
                Some(Ok(Message::Close(frame))) => {
                    return Some(match frame {
                        Some(frame) => format!("closed by the server ({} {})", u16::from(frame.code), frame.reason),
                        None => "closed by the server".into(),
                    });
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Some(describe(&e)),
                None => return Some("connection closed".into()),
            },
            _ = heartbeat.tick() => {
                reference += 1;
                let frame = format!(r#"[null,"{reference}","phoenix","heartbeat",{{}}]"#);
                if let Err(e) = socket.send(Message::text(frame)).await {
                    return Some(format!("heartbeat failed: {}", describe(&e)));
                }
            }
            () = &mut stop => return None,
        }
    }
}

/// Closes politely: a close frame, then whatever the server still sends, for at most 2 s.
pub async fn close(socket: &mut Socket) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        if socket.close(None).await.is_ok() {
            while let Some(Ok(_)) = socket.next().await {}
        }
    })
    .await;
}

/// The `fanout` client: one small task per shopper on `product:<id>`.
pub struct Shopper {
    pub id: u32,
    pub target: Arc<Target>,
    /// `product:<id>`.
    pub topic: Arc<str>,
    pub token: Arc<str>,
    /// Bounds the connects in flight.
    pub gate: Arc<Semaphore>,
    /// Connect + join time (once its turn came), or why it failed.
    pub connected: mpsc::UnboundedSender<Result<Duration, String>>,
    pub updates: mpsc::UnboundedSender<Update>,
    /// Flips to true (or closes) when the bench is done.
    pub stop: watch::Receiver<bool>,
}

/// What a [`Shopper`] tells the bench after it is connected.
pub enum Update {
    /// A `stock_change` push on the topic, and when it was read.
    Got {
        client: u32,
        at: Instant,
        item_id: i64,
        level: String,
    },
    /// The socket closed or failed.
    Lost { client: u32, reason: String },
}

impl Shopper {
    pub async fn run(mut self) {
        let (socket, started) = {
            let Ok(_permit) = self.gate.acquire().await else {
                return;
            };
            let started = Instant::now();
            let (id, target, topic, token) = (self.id, &self.target, &self.topic, &self.token);
            let connect_and_join = async move {
                let mut socket = connect(id, target, SHOPPER_SOCKET, token, config()).await?;
                // As the shim does on a page that already shows the sizes.
                let payload = serde_json::json!({ "sizes_shown": true });
                join(&mut socket, topic, &payload, target.timeout).await?;
                Ok::<_, String>(socket)
            };
            tokio::select! {
                joined = connect_and_join => (joined, started),
                _ = self.stop.changed() => return,
            }
        };
        let mut socket = match socket {
            Ok(socket) => {
                let _ = self.connected.send(Ok(started.elapsed()));
                socket
            }
            Err(reason) => {
                let _ = self.connected.send(Err(reason));
                return;
            }
        };
        let (id, topic, updates) = (self.id, Arc::clone(&self.topic), self.updates.clone());
        // One waiter for the whole run: a fresh `changed()` per frame would lock the channel's
        // shared waiter list twice for every frame, across thousands of tasks.
        let stop = async move {
            let _ = self.stop.changed().await;
        };
        let on_text = |text: &str, at: Instant| {
            if text.contains("stock_change")
                && let Some((item_id, level)) = stock_change(text, &topic)
            {
                let _ = updates.send(Update::Got {
                    client: id,
                    at,
                    item_id,
                    level,
                });
            }
        };
        match listen(&mut socket, stop, on_text).await {
            Some(reason) => {
                let _ = self.updates.send(Update::Lost { client: id, reason });
            }
            None => close(&mut socket).await,
        }
    }
}

/// `[join_ref, null, topic, "stock_change", {item_id, level, ...}]` on our topic.
fn stock_change(text: &str, topic: &str) -> Option<(i64, String)> {
    #[derive(Deserialize)]
    struct Push<'a>(IgnoredAny, IgnoredAny, &'a str, &'a str, Payload);
    #[derive(Deserialize)]
    struct Payload {
        item_id: i64,
        level: String,
    }
    let Push(_, _, pushed_topic, event, payload) = serde_json::from_str(text).ok()?;
    (pushed_topic == topic && event == "stock_change").then_some((payload.item_id, payload.level))
}

fn source_address(id: u32) -> IpAddr {
    let last = 2 + id % SOURCE_ADDRESSES;
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last as u8))
}

pub fn describe(error: &WsError) -> String {
    match error {
        WsError::Http(response) => format!("upgrade refused with HTTP {}", response.status()),
        other => other.to_string(),
    }
}

/// Percent-encodes a token for the query string (tokens are URL-safe already; this is a guard).
fn encode(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    for byte in token.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_stock_changes_on_the_topic() {
        let push = r#"[null,null,"product:3","stock_change",{"product_id":3,"item_id":12,"level":"low","html":"<form id=\"item-12\"></form>"}]"#;
        assert_eq!(stock_change(push, "product:3"), Some((12, "low".into())));
        assert_eq!(stock_change(push, "product:4"), None);
        let released =
            r#"["1",null,"product:3","released",{"product_id":3,"html":"stock_change"}]"#;
        assert_eq!(stock_change(released, "product:3"), None);
    }

    #[test]
    fn spreads_sources_over_200_loopback_addresses() {
        assert_eq!(source_address(0), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
        assert_eq!(
            source_address(199),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 201))
        );
        assert_eq!(source_address(200), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    }

    #[test]
    fn reads_the_event_of_a_frame() {
        let push = r#"["1",null,"cart:abc","new_token",{"token":"t"}]"#;
        assert_eq!(event_of(push).as_deref(), Some("new_token"));
        assert_eq!(event_of("[1,2]"), None);
    }

    #[test]
    fn encodes_tokens() {
        assert_eq!(encode("SFMyNTY.g2g-_"), "SFMyNTY.g2g-_");
        assert_eq!(encode("a+b/c="), "a%2Bb%2Fc%3D");
    }
}
