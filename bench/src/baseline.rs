//! `sneakers-bench baseline-server` (hidden): the floor `fanout` measures before the store. It
//! does what the shared `axum-floor` does: a bare axum server that broadcasts one pre-serialized
//! frame to every socket on `POST /trigger` (a tokio broadcast channel, small socket buffers,
//! nothing else). The one addition: a `phx_join` or `heartbeat` gets an ok reply, so the same
//! Phoenix clients that time the store can join it; that happens only at connect and every 30 s,
//! never during a fan-out.

use std::io::Write;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::{get, post};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use sneakers::live::protocol;
use tokio::net::TcpSocket;
use tokio::sync::broadcast;

use crate::error::BenchError;

/// The line the server prints once it listens (the harness reads the URL from it).
pub const BANNER: &str = "floor listening on ";
/// The topic of the floor's frame.
pub const TOPIC: &str = "product:1";
/// The item of the floor's frame.
pub const ITEM_ID: i32 = 7;
/// axum-floor's frame, byte for byte: a `stock_change` of item 7 on product 1.
pub const FRAME: &str = r#"[null,null,"product:1","stock_change",{"product_id":1,"item_id":7,"level":"low","html":"<button id=\"item-7\" data-level=\"low\" class=\"size size--low\">9.5</button>"}]"#;
/// Pending connections the kernel queues before `accept` (tokio's default of 128 overflows
/// when thousands connect at once; the store asks for the same).
const LISTEN_BACKLOG: u32 = 4096;

pub async fn serve(port: u16) -> Result<(), BenchError> {
    let (tx, _) = broadcast::channel::<Utf8Bytes>(64);
    let app = Router::new()
        .route("/", get(upgrade))
        .route("/socket/websocket", get(upgrade))
        .route("/trigger", post(trigger))
        .with_state(tx);
    let cannot = |e: std::io::Error| BenchError::Spawn {
        what: "the floor server".into(),
        reason: format!("cannot listen: {e}"),
    };
    let socket = TcpSocket::new_v4().map_err(cannot)?;
    socket.set_reuseaddr(true).map_err(cannot)?;
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .map_err(cannot)?;
    let listener = socket.listen(LISTEN_BACKLOG).map_err(cannot)?;
    let addr = listener.local_addr().map_err(cannot)?;
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{BANNER}http://{addr}");
    let _ = stdout.flush();
    tokio::select! {
        served = axum::serve(listener, app) => served.map_err(cannot),
        () = stop_signal() => Ok(()),
    }
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn trigger(State(tx): State<broadcast::Sender<Utf8Bytes>>) -> &'static str {
    let _ = tx.send(Utf8Bytes::from_static(FRAME));
    "ok"
}

async fn upgrade(up: WebSocketUpgrade, State(tx): State<broadcast::Sender<Utf8Bytes>>) -> Response {
    up.read_buffer_size(4096)
        .write_buffer_size(0)
        .on_upgrade(move |s| client(s, tx.subscribe()))
}

async fn client(s: WebSocket, mut rx: broadcast::Receiver<Utf8Bytes>) {
    let (mut w, mut r) = s.split();
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Ok(f) => if w.send(Message::Text(f)).await.is_err() { return },
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            m = r.next() => match m {
                Some(Ok(Message::Text(text))) => {
                    if let Some(reply) = reply_to(&text)
                        && w.send(Message::Text(reply)).await.is_err()
                    {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

/// `phx_join`, `phx_leave` and `heartbeat` get an ok reply; anything else is ignored.
fn reply_to(text: &str) -> Option<Utf8Bytes> {
    let frame = protocol::decode(text).ok()?;
    match frame.event.as_str() {
        "heartbeat" | "phx_join" | "phx_leave" => {
            let reply = protocol::reply(
                frame.join_ref.as_deref(),
                frame.msg_ref.as_deref(),
                &frame.topic,
                true,
                json!({}),
            );
            // The codec speaks tungstenite's bytes, this server axum's: one copy, at join only.
            Some(Utf8Bytes::from(reply.as_str()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_is_axum_floors_stock_change() {
        let frame = protocol::decode(FRAME).expect("a Phoenix frame");
        assert_eq!(
            (frame.topic.as_str(), frame.event.as_str()),
            (TOPIC, "stock_change")
        );
        assert_eq!(frame.payload["item_id"], ITEM_ID);
        assert_eq!(frame.payload["level"], "low");
    }

    #[test]
    fn joins_and_heartbeats_get_ok_replies() {
        let join = reply_to(r#"["1","1","product:1","phx_join",{}]"#).expect("a reply");
        assert_eq!(
            join.as_str(),
            r#"["1","1","product:1","phx_reply",{"response":{},"status":"ok"}]"#
        );
        let beat = reply_to(r#"[null,"7","phoenix","heartbeat",{}]"#).expect("a reply");
        assert_eq!(
            beat.as_str(),
            r#"[null,"7","phoenix","phx_reply",{"response":{},"status":"ok"}]"#
        );
        assert!(reply_to(r#"["1","2","product:1","add_item",{}]"#).is_none());
        assert!(reply_to("nonsense").is_none());
    }
}
