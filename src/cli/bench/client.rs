//! One simulated shopper: a WebSocket that joins `product:<id>`, heartbeats, and reports when each
//! `stock_change` arrives. One small task per shopper; only pushes that mention `stock_change` are
//! parsed at all.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Heartbeat period; the server closes a socket silent for 60 s.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// Source addresses 127.0.0.2 ..= 127.0.0.201: each gives ~28k ephemeral ports to one server port.
const SOURCE_ADDRESSES: u32 = 200;

type Socket = WebSocketStream<TcpStream>;

/// Where and how every shopper connects.
pub struct Target {
    /// The server's address (resolved once).
    pub addr: SocketAddr,
    /// `ws://host:port/socket/websocket?vsn=2.0.0&token=` (the token is appended).
    pub ws_url: String,
    /// Sent as `Origin`, so a server that checks it sees its own origin.
    pub origin: String,
    /// `product:<id>`.
    pub topic: String,
    /// Bind each socket to 127.0.0.X before connecting (loopback servers only).
    pub spread_sources: bool,
    pub join_timeout: Duration,
}

/// What a shopper tells the bench after it is connected.
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

pub struct Shopper {
    pub id: u32,
    pub target: Arc<Target>,
    pub token: Arc<str>,
    /// Bounds the connects in flight.
    pub gate: Arc<Semaphore>,
    /// Connect + join time (once its turn came), or why it failed.
    pub connected: mpsc::UnboundedSender<Result<Duration, String>>,
    pub updates: mpsc::UnboundedSender<Update>,
    /// Flips to true (or closes) when the bench is done.
    pub stop: watch::Receiver<bool>,
}

impl Shopper {
    pub async fn run(mut self) {
        let (socket, started) = {
            let Ok(_permit) = self.gate.acquire().await else {
                return;
            };
            let started = Instant::now();
            tokio::select! {
                joined = connect_and_join(self.id, &self.target, &self.token) => (joined, started),
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
        let reason = self.listen(&mut socket).await;
        if let Some(reason) = reason {
            let _ = self.updates.send(Update::Lost {
                client: self.id,
                reason,
            });
        } else {
            close(&mut socket).await;
        }
    }

    /// Reads pushes and heartbeats until told to stop (`None`) or the socket fails (the reason).
    async fn listen(&mut self, socket: &mut Socket) -> Option<String> {
        let first =
            Duration::from_millis(rand::rng().random_range(0..HEARTBEAT.as_millis() as u64));
        let mut heartbeat = tokio::time::interval_at(Instant::now() + first, HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reference: u64 = 1;
        // One waiter for the whole run: a fresh `changed()` per loop would lock the channel's
        // shared waiter list twice for every frame, across thousands of tasks.
        let stopped = self.stop.changed();
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                message = socket.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        if text.contains("stock_change") {
                            let at = Instant::now();
                            if let Some((item_id, level)) = stock_change(&text, &self.target.topic) {
                                let _ = self.updates.send(Update::Got { client: self.id, at, item_id, level });
                            }
                        }
                    }
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
                _ = &mut stopped => return None,
            }
        }
    }
}

/// Small buffers: thousands of these live in one process.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(64 * 1024)
        .max_message_size(Some(1024 * 1024))
}

async fn connect_and_join(id: u32, target: &Target, token: &str) -> Result<Socket, String> {
    let tcp = match target.addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| format!("socket: {e}"))?;
    if target.spread_sources {
        let source = source_address(id);
        tcp.bind(SocketAddr::new(source, 0))
            .map_err(|e| format!("bind {source}: {e}"))?;
    }
    let url = format!("{}{}", target.ws_url, encode(token));
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
        tokio_tungstenite::client_async_with_config(request, stream, Some(config()))
            .await
            .map_err(|e| describe(&e))
    };
    let (mut socket, _) = tokio::time::timeout(target.join_timeout, upgrade)
        .await
        .map_err(|_| {
            format!(
                "no WebSocket connection within {} s",
                target.join_timeout.as_secs()
            )
        })??;
    // As the shim does on a page that already shows the sizes.
    let join = format!(
        r#"["1","1","{}","phx_join",{{"sizes_shown":true}}]"#,
        target.topic
    );
    socket
        .send(Message::text(join))
        .await
        .map_err(|e| format!("join: {}", describe(&e)))?;
    tokio::time::timeout(target.join_timeout, join_reply(&mut socket))
        .await
        .map_err(|_| {
            format!(
                "no reply to the join of {} within {} s",
                target.topic,
                target.join_timeout.as_secs()
            )
        })??;
    Ok(socket)
}

/// Waits for the reply to join ref "1"; pushes that come first (or after) are not ours to check.
async fn join_reply(socket: &mut Socket) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Reply<'a>(IgnoredAny, Option<&'a str>, IgnoredAny, &'a str, Status);
    #[derive(Deserialize)]
    struct Status {
        status: String,
        #[serde(default)]
        response: serde_json::Value,
    }
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                if let Ok(Reply(_, Some("1"), _, "phx_reply", status)) = serde_json::from_str(&text)
                {
                    return if status.status == "ok" {
                        Ok(())
                    } else {
                        Err(format!("join refused: {}", status.response))
                    };
                }
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(match frame {
                    Some(frame) => format!(
                        "closed while joining ({} {})",
                        u16::from(frame.code),
                        frame.reason
                    ),
                    None => "closed while joining".into(),
                });
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("join: {}", describe(&e))),
            None => return Err("connection closed while joining".into()),
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

async fn close(socket: &mut Socket) {
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

fn describe(error: &WsError) -> String {
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
    fn encodes_tokens() {
        assert_eq!(encode("SFMyNTY.g2g-_"), "SFMyNTY.g2g-_");
        assert_eq!(encode("a+b/c="), "a%2Bb%2Fc%3D");
    }
}
