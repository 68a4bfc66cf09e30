//! The benches' WebSocket client, speaking Phoenix V2 with the store's own codec
//! (`sneakers::live::protocol`): connect (from a spread of loopback source addresses), join a
//! topic, push and await the reply, then read pushes and heartbeat until told to stop. Frames
//! are routed by [`protocol::peek`] (topic and event from the first bytes); only replies the
//! bench waits for are decoded in full.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{Value, json};
use sneakers::live::protocol;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::error::BenchError;

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
    pub async fn resolve(base: &str, timeout: Duration) -> Result<Target, BenchError> {
        let url = reqwest::Url::parse(base)
            .map_err(|e| BenchError::Usage(format!("bad url {base}: {e}")))?;
        if url.scheme() != "http" {
            return Err(BenchError::Usage(format!(
                "only http:// servers can be benched, not {base}"
            )));
        }
        let host = url
            .host_str()
            .ok_or_else(|| BenchError::Usage(format!("no host in {base}")))?;
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| BenchError::Usage(format!("cannot resolve {host}: {e}")))?
            .collect();
        let addr = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .copied()
            .ok_or_else(|| BenchError::Usage(format!("{host} resolves to no address")))?;
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
pub fn small_config() -> WebSocketConfig {
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
    let url = format!(
        "{}{path}?vsn=2.0.0&token={}",
        target.ws_base,
        percent_encode(token)
    );
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
#[derive(Debug, PartialEq)]
pub struct Reply {
    pub ok: bool,
    pub response: Value,
}

/// Joins `topic` (join ref "1") with `payload`; the join's response, or why it was refused.
pub async fn join(
    socket: &mut Socket,
    topic: &str,
    payload: &Value,
    timeout: Duration,
) -> Result<Value, String> {
    let reply = request(socket, topic, "1", "phx_join", payload, timeout, |_, _| {})
        .await
        .map_err(|e| format!("join {topic}: {e}"))?;
    if reply.ok {
        Ok(reply.response)
    } else {
        Err(format!("join {topic} refused: {}", reply.response))
    }
}

/// Sends `event` on a joined `topic` (join ref "1") with `reference` and waits for its reply;
/// every other frame that arrives first goes to `on_push` as (topic, event).
pub async fn request(
    socket: &mut Socket,
    topic: &str,
    reference: &str,
    event: &str,
    payload: &Value,
    timeout: Duration,
    mut on_push: impl FnMut(&str, &str),
) -> Result<Reply, String> {
    let frame = protocol::encode(Some("1"), Some(reference), topic, event, payload);
    socket
        .send(Message::text(frame.as_str()))
        .await
        .map_err(|e| describe(&e))?;
    let wait = async {
        loop {
            let text = match next_text(socket).await? {
                Some(text) => text,
                None => continue,
            };
            match protocol::peek(&text) {
                Some((_, "phx_reply")) => {
                    if let Some(reply) = reply_to(&text, reference) {
                        return Ok(reply);
                    }
                }
                Some((topic, event)) => on_push(topic, event),
                None => {}
            }
        }
    };
    tokio::time::timeout(timeout, wait)
        .await
        .map_err(|_| format!("no reply to {event} within {} s", timeout.as_secs()))?
}

/// The next frame's text (`None` for a ping, pong or binary frame), or why the socket ended.
async fn next_text(
    socket: &mut Socket,
) -> Result<Option<tokio_tungstenite::tungstenite::Utf8Bytes>, String> {
    match socket.next().await {
        Some(Ok(Message::Text(text))) => Ok(Some(text)),
        Some(Ok(Message::Close(frame))) => Err(closed(frame)),
        Some(Ok(_)) => Ok(None),
        Some(Err(e)) => Err(describe(&e)),
        None => Err("connection closed".into()),
    }
}

/// The reply in `text` if it answers `reference`.
fn reply_to(text: &str, reference: &str) -> Option<Reply> {
    let frame = protocol::decode(text).ok()?;
    if frame.event != "phx_reply" || frame.msg_ref.as_deref() != Some(reference) {
        return None;
    }
    let mut payload = frame.payload;
    Some(Reply {
        ok: payload["status"] == "ok",
        response: payload
            .get_mut("response")
            .map(Value::take)
            .unwrap_or(Value::Null),
    })
}

fn closed(frame: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> String {
    match frame {
        Some(frame) => format!(
            "closed by the server ({} {})",
            u16::from(frame.code),
            frame.reason
        ),
        None => "closed by the server".into(),
    }
}

/// Reads pushes (each text frame goes to `on_text`) and heartbeats until `stop` completes
/// (`None`) or the socket fails (the reason). One pinned `stop` for the whole run: a fresh
/// waiter per frame would cost a lock on the shared waiter list for every frame.
pub async fn listen(
    socket: &mut Socket,
    stop: impl Future<Output = ()>,
    mut on_text: impl FnMut(&str),
) -> Option<String> {
    let first = Duration::from_millis(rand::rng().random_range(0..HEARTBEAT.as_millis() as u64));
    let mut heartbeat = tokio::time::interval_at(Instant::now() + first, HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reference: u64 = 1_000;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => on_text(&text),
                Some(Ok(Message::Close(frame))) => return Some(closed(frame)),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Some(describe(&e)),
                None => return Some("connection closed".into()),
            },
            _ = heartbeat.tick() => {
                reference += 1;
                let frame = protocol::encode(None, Some(&reference.to_string()), "phoenix", "heartbeat", &json!({}));
                if let Err(e) = socket.send(Message::text(frame.as_str())).await {
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
fn percent_encode(token: &str) -> String {
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
    fn spreads_sources_over_200_loopback_addresses() {
        assert_eq!(source_address(0), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
        assert_eq!(
            source_address(199),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 201))
        );
        assert_eq!(source_address(200), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    }

    #[test]
    fn reads_only_the_reply_it_waits_for() {
        let ok = r#"["1","3","cart:x","phx_reply",{"status":"ok","response":{"count":1}}]"#;
        assert_eq!(
            reply_to(ok, "3"),
            Some(Reply {
                ok: true,
                response: json!({"count": 1})
            })
        );
        assert_eq!(reply_to(ok, "4"), None);
        let refused =
            r#"["1","2","cart:x","phx_reply",{"status":"error","response":{"error":"sold_out"}}]"#;
        assert_eq!(
            reply_to(refused, "2").map(|r| (r.ok, r.response["error"].clone())),
            Some((false, json!("sold_out")))
        );
        assert_eq!(reply_to(r#"["1",null,"cart:x","cart",{}]"#, "2"), None);
        assert_eq!(reply_to("garbage", "2"), None);
    }

    #[test]
    fn encodes_tokens() {
        assert_eq!(percent_encode("SFMyNTY.g2g-_"), "SFMyNTY.g2g-_");
        assert_eq!(percent_encode("a+b/c="), "a%2Bb%2Fc%3D");
    }
}
