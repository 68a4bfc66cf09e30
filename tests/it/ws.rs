//! A real WebSocket client speaking Phoenix V2, for the tests.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::helpers::TestApp;

pub const WAIT: Duration = Duration::from_secs(10);

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_ref: u64,
}

/// One received frame, `[join_ref, ref, topic, event, payload]`.
#[derive(Debug, Clone)]
pub struct Frame {
    pub join_ref: Value,
    pub msg_ref: Value,
    pub topic: String,
    pub event: String,
    pub payload: Value,
}

impl Frame {
    /// `[join_ref, ref, topic, event, payload]` as text; anything else fails the test.
    pub fn parse(text: &str) -> Frame {
        let parts: Vec<Value> =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("bad frame {text}: {e}"));
        assert_eq!(parts.len(), 5, "frame arity: {text}");
        Frame {
            join_ref: parts[0].clone(),
            msg_ref: parts[1].clone(),
            topic: parts[2].as_str().unwrap_or_default().to_string(),
            event: parts[3].as_str().unwrap_or_default().to_string(),
            payload: parts[4].clone(),
        }
    }
}

pub enum Received {
    Frame(Frame),
    Closed(Option<u16>),
}

/// A socket token as a browser gets one, from the session of the store at `base`:
/// `(token, cart_id)`.
pub async fn socket_token(http: &reqwest::Client, base: &str) -> (String, String) {
    let reply: Value = http
        .get(format!("{base}/session/token"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = |k: &str| {
        reply[k]
            .as_str()
            .unwrap_or_else(|| panic!("no {k}: {reply}"))
            .to_string()
    };
    (text("token"), text("cart_id"))
}

/// The admin dashboard's socket token, as the page hands it to the shim.
pub async fn admin_token(http: &reqwest::Client, base: &str) -> String {
    let page = http
        .get(format!("{base}/admin"))
        .basic_auth(
            crate::helpers::ADMIN_USER,
            Some(crate::helpers::ADMIN_PASSWORD),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    crate::visitor::meta(&page, "admin-token").unwrap_or_else(|| panic!("no admin-token meta"))
}

impl TestApp {
    /// A token as a browser gets one: from its session.
    pub async fn socket_token(&self) -> (String, String) {
        socket_token(&self.http, &self.url).await
    }

    pub fn socket_url(&self, token: &str) -> String {
        format!(
            "{}/socket/websocket?vsn=2.0.0&token={token}",
            self.url.replacen("http", "ws", 1)
        )
    }

    pub async fn client(&self) -> Client {
        let (token, _) = self.socket_token().await;
        Client::connect(&self.socket_url(&token))
            .await
            .unwrap_or_else(|status| panic!("refused: {status}"))
    }
}

impl Client {
    /// Connects; on refusal returns the HTTP status.
    pub async fn connect(url: &str) -> Result<Client, u16> {
        Client::connect_request(url, &[]).await
    }

    pub async fn connect_request(
        url: &str,
        headers: &[(&'static str, &str)],
    ) -> Result<Client, u16> {
        let mut request = url.into_client_request().unwrap_or_else(|e| panic!("{e}"));
        for (name, value) in headers {
            request
                .headers_mut()
                .insert(*name, value.parse().unwrap_or_else(|_| panic!("header")));
        }
        match connect_async(request).await {
            Ok((ws, _)) => Ok(Client { ws, next_ref: 0 }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(e) => panic!("connect: {e}"),
        }
    }

    /// Connects from another loopback address (another client address to the store).
    pub async fn connect_from(from: std::net::IpAddr, url: &str) -> Result<Client, u16> {
        let request = url.into_client_request().unwrap_or_else(|e| panic!("{e}"));
        let host = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default();
        let to = host.parse().unwrap_or_else(|e| panic!("{host}: {e}"));
        let stream = crate::raw::connect_from(from, to).await;
        match tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await {
            Ok((ws, _)) => Ok(Client { ws, next_ref: 0 }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(e) => panic!("connect: {e}"),
        }
    }

    fn make_ref(&mut self) -> String {
        self.next_ref += 1;
        self.next_ref.to_string()
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.ws
            .send(Message::text(text.into()))
            .await
            .unwrap_or_else(|e| panic!("send: {e}"));
    }

    /// Sends; `false` if the connection is gone.
    pub async fn try_send_text(&mut self, text: impl Into<String>) -> bool {
        self.ws.send(Message::text(text.into())).await.is_ok()
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(Message::binary(bytes))
            .await
            .unwrap_or_else(|e| panic!("send: {e}"));
    }

    /// Sends `[join_ref, ref, topic, event, payload]`; returns the ref.
    pub async fn push(
        &mut self,
        join_ref: Option<&str>,
        topic: &str,
        event: &str,
        payload: Value,
    ) -> String {
        let msg_ref = self.make_ref();
        self.send_text(json!([join_ref, msg_ref, topic, event, payload]).to_string())
            .await;
        msg_ref
    }

    /// Joins and returns `(join_ref, status, response)`.
    pub async fn join(&mut self, topic: &str, payload: Value) -> (String, String, Value) {
        let join_ref = self.make_ref();
        self.send_text(json!([join_ref, join_ref, topic, "phx_join", payload]).to_string())
            .await;
        let (status, response) = self.reply_to(&join_ref).await;
        (join_ref, status, response)
    }

    pub async fn join_ok(&mut self, topic: &str, payload: Value) -> String {
        let (join_ref, status, response) = self.join(topic, payload).await;
        assert_eq!(status, "ok", "join {topic}: {response}");
        join_ref
    }

    pub async fn heartbeat(&mut self) -> (String, Value) {
        let msg_ref = self.push(None, "phoenix", "heartbeat", json!({})).await;
        self.reply_to(&msg_ref).await
    }

    pub async fn recv(&mut self) -> Received {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("nothing received within {WAIT:?}"));
            match next {
                Some(Ok(Message::Text(text))) => return Received::Frame(Frame::parse(&text)),
                Some(Ok(Message::Close(frame))) => {
                    return Received::Closed(frame.map(|f| f.code.into()));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Received::Closed(None),
            }
        }
    }

    pub async fn frame(&mut self) -> Frame {
        match self.recv().await {
            Received::Frame(frame) => frame,
            Received::Closed(code) => panic!("socket closed ({code:?}) while a frame was expected"),
        }
    }

    /// The reply to `msg_ref`: `(status, response)`. Other frames before it fail the test.
    pub async fn reply_to(&mut self, msg_ref: &str) -> (String, Value) {
        let frame = self.frame().await;
        assert_eq!(
            frame.event, "phx_reply",
            "expected a reply to {msg_ref}, got {frame:?}"
        );
        assert_eq!(
            frame.msg_ref,
            json!(msg_ref),
            "reply to the wrong ref: {frame:?}"
        );
        (
            frame.payload["status"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            frame.payload["response"].clone(),
        )
    }

    /// The next frame, which must be `event` on `topic`.
    pub async fn expect(&mut self, topic: &str, event: &str) -> Frame {
        let frame = self.frame().await;
        assert_eq!(
            (frame.topic.as_str(), frame.event.as_str()),
            (topic, event),
            "{frame:?}"
        );
        frame
    }

    /// Sends a WebSocket ping (a transport frame, not Phoenix's heartbeat).
    pub async fn ping(&mut self, data: &'static [u8]) {
        self.ws
            .send(Message::Ping(data.into()))
            .await
            .unwrap_or_else(|e| panic!("send ping: {e}"));
    }

    /// Reads until a pong arrives; returns its data and the Phoenix frames read before it.
    pub async fn pong(&mut self) -> (Vec<u8>, Vec<Frame>) {
        let mut before = Vec::new();
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no pong within {WAIT:?}"));
            match next {
                Some(Ok(Message::Pong(data))) => return (data.to_vec(), before),
                Some(Ok(Message::Text(text))) => before.push(Frame::parse(&text)),
                Some(Ok(other)) => panic!("expected a pong, got {other:?}"),
                Some(Err(e)) => panic!("socket failed while a pong was expected: {e}"),
                None => panic!("socket closed while a pong was expected"),
            }
        }
    }

    /// Reads until the server closes the socket; returns the close code and frames skipped.
    pub async fn until_closed(&mut self) -> (Option<u16>, usize) {
        let mut skipped = 0;
        loop {
            match self.recv().await {
                Received::Frame(_) => skipped += 1,
                Received::Closed(code) => return (code, skipped),
            }
        }
    }
}
