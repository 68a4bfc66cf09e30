//! `sneakers bench baseline-server`: the least a WebSocket fan-out can cost with axum. It speaks
//! just enough of the Phoenix V2 protocol for the bench's clients (heartbeats, joins) and sends one
//! pre-serialized `stock_change` frame to every socket on `POST /broadcast`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpSocket;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::bench_error;
use crate::cli::CliError;

/// Same as the store: a socket silent this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Pending connections the kernel queues before `accept`.
const LISTEN_BACKLOG: u32 = 4096;

struct Baseline {
    frames: broadcast::Sender<Utf8Bytes>,
    frame: Utf8Bytes,
    sockets: AtomicUsize,
}

/// What the store pushes when item 1 of product 1 turns `low` (about 300 bytes).
fn stock_change_frame() -> String {
    let html = "<form id=\"item-1\" class=\"size\" data-level=\"low\" method=\"post\" \
                action=\"/cart/items\"><input type=\"hidden\" name=\"item_id\" value=\"1\">\
                <button type=\"submit\" class=\"size-button level-low\">9.5 \
                <small>low</small></button></form>";
    json!([null, null, "product:1", "stock_change",
        {"product_id": 1, "item_id": 1, "level": "low", "html": html}])
    .to_string()
}

pub async fn serve() -> Result<(), CliError> {
    let (frames, _) = broadcast::channel(16);
    let state = Arc::new(Baseline {
        frames,
        frame: Utf8Bytes::from(stock_change_frame()),
        sockets: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/socket/websocket", get(upgrade))
        .route("/broadcast", post(broadcast_frame))
        .with_state(state);
    let cannot = |e: std::io::Error| bench_error(format!("baseline server cannot listen: {e}"));
    // `TcpListener::bind` listens with a backlog of 128: a burst of connects overflows it and
    // the dropped SYNs come back a second later. The kernel caps this at net.core.somaxconn.
    let socket = TcpSocket::new_v4().map_err(cannot)?;
    socket.set_reuseaddr(true).map_err(cannot)?;
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(cannot)?;
    let listener = socket.listen(LISTEN_BACKLOG).map_err(cannot)?;
    let addr = listener.local_addr().map_err(cannot)?;
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on http://{addr}");
    let _ = stdout.flush();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(CliError::Serve)
}

async fn upgrade(upgrade: WebSocketUpgrade, State(state): State<Arc<Baseline>>) -> Response {
    upgrade
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(64 * 1024)
        .max_message_size(16 * 1024)
        .on_upgrade(move |socket| session(socket, state))
}

async fn broadcast_frame(State(state): State<Arc<Baseline>>) -> String {
    let receivers = state.frames.send(state.frame.clone()).unwrap_or(0);
    let sockets = state.sockets.load(Ordering::Relaxed);
    format!("{{\"sent\":{receivers},\"sockets\":{sockets}}}")
}

async fn session(mut socket: WebSocket, state: Arc<Baseline>) {
    let mut frames = state.frames.subscribe();
    state.sockets.fetch_add(1, Ordering::Relaxed);
    let idle = tokio::time::sleep(IDLE_TIMEOUT);
    tokio::pin!(idle);
    loop {
        tokio::select! {
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    idle.as_mut().reset(Instant::now() + IDLE_TIMEOUT);
                    if let Some(reply) = reply_to(&text)
                        && socket.send(Message::Text(reply.into())).await.is_err()
                    {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => idle.as_mut().reset(Instant::now() + IDLE_TIMEOUT),
            },
            frame = frames.recv() => match frame {
                Ok(frame) => {
                    if socket.send(Message::Text(frame)).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
            () = &mut idle => break,
        }
    }
    state.sockets.fetch_sub(1, Ordering::Relaxed);
}

/// `phx_join` and `heartbeat` get an ok reply; anything else is ignored.
fn reply_to(text: &str) -> Option<String> {
    let (join_ref, reference, topic, event, _payload): (Value, Value, String, String, Value) =
        serde_json::from_str(text).ok()?;
    let ok = json!({"status": "ok", "response": {}});
    match event.as_str() {
        "heartbeat" => Some(json!([null, reference, "phoenix", "phx_reply", ok]).to_string()),
        "phx_join" | "phx_leave" => {
            Some(json!([join_ref, reference, topic, "phx_reply", ok]).to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_is_a_stock_change_of_about_300_bytes() {
        let frame = stock_change_frame();
        assert!((250..=350).contains(&frame.len()), "{} bytes", frame.len());
        let parsed: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(parsed[3], "stock_change");
        assert_eq!(parsed[4]["level"], "low");
    }

    #[test]
    fn joins_and_heartbeats_get_ok_replies() {
        let join = reply_to(r#"["1","1","product:1","phx_join",{}]"#).unwrap();
        assert_eq!(
            join,
            r#"["1","1","product:1","phx_reply",{"response":{},"status":"ok"}]"#
        );
        let beat = reply_to(r#"[null,"7","phoenix","heartbeat",{}]"#).unwrap();
        assert_eq!(
            beat,
            r#"[null,"7","phoenix","phx_reply",{"response":{},"status":"ok"}]"#
        );
        assert!(reply_to("nonsense").is_none());
    }
}
