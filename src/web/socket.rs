//! `GET /socket/websocket`: the shopper socket. The token and the `Origin` are checked before
//! the upgrade (403 otherwise); then the connection belongs to the live layer.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AppState;
use crate::domain::token::{ADMIN_TOKEN_MAX_AGE_MS, SOCKET_TOKEN_MAX_AGE_MS, TokenError, Tokens};
use crate::live::socket::{self, MAX_TRANSPORT_BYTES};
use crate::live::{Identity, Live};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/socket/websocket", get(shopper))
        .route("/admin_socket/websocket", get(admin))
}

#[derive(Deserialize)]
pub struct SocketParams {
    token: Option<String>,
    vsn: Option<String>,
}

/// `GET /socket/websocket`: shoppers, with the socket token of their session's cart.
async fn shopper(
    State(state): State<AppState>,
    Query(params): Query<SocketParams>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    open(&state, &params, &headers, upgrade, |tokens, token, now| {
        tokens
            .socket
            .verify(token, SOCKET_TOKEN_MAX_AGE_MS, now)
            .map(|cart_id| Identity::Shopper { cart_id })
    })
}

/// `GET /admin_socket/websocket`: admins only (a signed admin token from the dashboard).
async fn admin(
    State(state): State<AppState>,
    Query(params): Query<SocketParams>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    open(&state, &params, &headers, upgrade, |tokens, token, now| {
        tokens
            .admin
            .verify(token, ADMIN_TOKEN_MAX_AGE_MS, now)
            .map(|_| Identity::Admin)
    })
}

/// Checks the request and the token (403 otherwise), then hands the socket to the live layer.
fn open(
    state: &AppState,
    params: &SocketParams,
    headers: &HeaderMap,
    upgrade: WebSocketUpgrade,
    identify: impl FnOnce(&Tokens, &str, i64) -> Result<Identity, TokenError>,
) -> Response {
    if let Err(refusal) = check_request(params, headers) {
        return refusal.into_response();
    }
    let now = chrono::Utc::now().timestamp_millis();
    let token = params.token.as_deref().unwrap_or_default();
    match identify(&state.tokens, token, now) {
        Ok(identity) => accept(upgrade, Arc::clone(&state.live), identity),
        Err(error) => (StatusCode::FORBIDDEN, format!("{error}\n")).into_response(),
    }
}

/// Why an upgrade is refused before it happens.
pub type UpgradeRefused = (StatusCode, String);

pub fn check_request(params: &SocketParams, headers: &HeaderMap) -> Result<(), UpgradeRefused> {
    match params.vsn.as_deref() {
        None | Some("2.0.0") => {}
        Some(other) => {
            return Err((
                StatusCode::BAD_REQUEST,
                format!("unsupported protocol version {other:?}; use vsn=2.0.0\n"),
            ));
        }
    }
    if !origin_allowed(headers) {
        return Err((StatusCode::FORBIDDEN, "origin not allowed\n".into()));
    }
    Ok(())
}

/// Like Phoenix's `check_origin`: a browser's `Origin` must name the host it connects to, so
/// another site cannot open sockets with a visitor's cookies. Non-browser clients send none.
fn origin_allowed(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// Small buffers: tens of thousands of idle shoppers must fit in memory. The transport caps
/// frames; the socket answers frames over its own smaller cap with an error reply.
pub fn accept(upgrade: WebSocketUpgrade, live: Arc<Live>, identity: Identity) -> Response {
    upgrade
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(MAX_TRANSPORT_BYTES)
        .max_frame_size(MAX_TRANSPORT_BYTES)
        .on_upgrade(move |ws| {
            let sockets = live.sockets.clone();
            sockets.track_future(socket::run(ws, live, identity))
        })
}
