//! `GET /socket/websocket` (shoppers) and `GET /admin_socket/websocket` (admins). The request,
//! the `Origin` and the token are checked before the upgrade (the store's own 400 or 403
//! otherwise); then the connection belongs to the live layer.
//!
//! The upgrade is done here rather than by axum's `WebSocketUpgrade`: the live layer needs the
//! raw tokio-tungstenite stream (to send fragmented frames and its own close codes), and a
//! refused upgrade must answer in the store's words, not the framework's.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::config::LimitedAction;
use crate::domain::Shopper;
use crate::domain::account::SignedIn;
use crate::domain::token::{ADMIN_TOKEN_MAX_AGE_MS, SOCKET_TOKEN_MAX_AGE_MS, TokenError};
use crate::live::socket::{self, transport_config};
use crate::live::{Identity, Live};
use crate::web::AppState;
use crate::web::edge::client::ClientAddr;
use crate::web::edge::error::{ApiError, Audience, Refused};
use crate::web::edge::session::CART_ID_LEN;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/socket/websocket", get(shopper))
        .route("/admin_socket/websocket", get(admin))
}

/// The socket's query: the first value of each parameter counts, others are ignored.
#[derive(Default)]
pub struct SocketParams {
    token: Option<String>,
    vsn: Option<String>,
}

impl SocketParams {
    pub fn parse(query: Option<&str>) -> SocketParams {
        let mut params = SocketParams::default();
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match key.as_ref() {
                "token" => &mut params.token,
                "vsn" => &mut params.vsn,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.into_owned());
            }
        }
        params
    }
}

async fn shopper(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    request: Request,
) -> Response {
    let params = SocketParams::parse(request.uri().query());
    let token = params.token.as_deref().unwrap_or_default();
    let identity = match Door::Shopper.identify(&state, token).await {
        Ok(identity) => identity,
        Err(unavailable) => return unavailable.into_response(),
    };
    open(&state, client, request, identity)
}

/// Which socket a client connects to (`/socket/*` or `/admin_socket/*`), and so which token
/// it must show; the WebSocket and the longpoll transport share the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    Shopper,
    Admin,
}

impl Door {
    /// Who `token` speaks for at this door (`Err` inside: refused, 403); `Err` outside: the
    /// database is needed (a signed-in shopper) and unreachable.
    pub async fn identify(
        self,
        state: &AppState,
        token: &str,
    ) -> Result<Result<Identity, TokenError>, ApiError> {
        match self {
            Door::Shopper => shopper_identity(state, token).await,
            Door::Admin => {
                let now = chrono::Utc::now().timestamp_millis();
                Ok(state
                    .tokens
                    .admin
                    .verify(token, ADMIN_TOKEN_MAX_AGE_MS, now)
                    .map(|_| Identity::Admin))
            }
        }
    }
}

/// Who a shopper's socket token speaks for; a signed-in one's account is read now (its cart
/// and past pairs of limited products), so the channels need not wait on the database.
pub async fn shopper_identity(
    state: &AppState,
    token: &str,
) -> Result<Result<Identity, TokenError>, ApiError> {
    let now = chrono::Utc::now().timestamp_millis();
    let shopper = match state
        .tokens
        .socket
        .verify(token, SOCKET_TOKEN_MAX_AGE_MS, now)
        .and_then(|subject| Shopper::from_subject(&subject, CART_ID_LEN).ok_or(TokenError::Invalid))
    {
        Ok(shopper) => shopper,
        Err(error) => return Ok(Err(error)),
    };
    let account = match (shopper.account, shopper.session) {
        (Some(id), Some(session)) => {
            let unavailable = |_| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the store cannot reach its database; try again in a moment",
                )
            };
            // The token names the session it was made under: once that ended (a logout here or
            // on another node) the token opens nothing, and the page fetches a guest's.
            let holds = state
                .inventory
                .session_by_id(session)
                .await
                .map_err(unavailable)?
                .is_some_and(|s| s.subject.as_account() == Some(id));
            if !holds {
                return Ok(Err(TokenError::Expired));
            }
            let row = state.inventory.account(id).await.map_err(unavailable)?;
            let ordered = state
                .inventory
                .ordered_limited(id)
                .await
                .map_err(unavailable)?;
            Some(Arc::new(SignedIn {
                id,
                session,
                cart_token: row.and_then(|r| r.cart_token),
                ordered,
            }))
        }
        _ => None,
    };
    Ok(Ok(Identity::Shopper {
        cart_id: shopper.cart_id,
        account,
    }))
}

async fn admin(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    request: Request,
) -> Response {
    let params = SocketParams::parse(request.uri().query());
    let token = params.token.as_deref().unwrap_or_default();
    let identity = match Door::Admin.identify(&state, token).await {
        Ok(identity) => identity,
        Err(unavailable) => return unavailable.into_response(),
    };
    open(&state, client, request, identity)
}

/// Checks the request, the connect rate (per address, and per cart for a shopper whose token
/// holds) and the token, then upgrades and hands the socket to the live layer.
fn open(
    state: &AppState,
    client: std::net::IpAddr,
    request: Request,
    identity: Result<Identity, TokenError>,
) -> Response {
    let params = SocketParams::parse(request.uri().query());
    let key = match check_request(&params, request.headers()) {
        Ok(key) => key,
        Err(refused) => return refused.into_response(),
    };
    let session = match &identity {
        Ok(Identity::Shopper { cart_id, .. }) => Some(cart_id.as_str()),
        _ => None,
    };
    if let Err(refusal) = state
        .limits
        .check(LimitedAction::Connect, client, session, Audience::Api)
    {
        return refusal.into_response();
    }
    match identity {
        Ok(identity) => accept(request, &key, Arc::clone(&state.live), (identity, client)),
        Err(error) => {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", error.to_string()).into_response()
        }
    }
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Why an opening handshake is refused; each is answered with the store's own JSON error.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("not a WebSocket upgrade")]
    NotAWebSocket,
    #[error("unsupported WebSocket version: use Sec-WebSocket-Version: 13")]
    WebSocketVersion,
    #[error("the WebSocket handshake has no Sec-WebSocket-Key")]
    NoKey,
    #[error("unsupported protocol version {0:?}; use vsn=2.0.0")]
    ProtocolVersion(String),
    #[error("this page's origin may not open the store's sockets")]
    Origin,
}

impl IntoResponse for HandshakeError {
    fn into_response(self) -> Response {
        match self {
            Self::NotAWebSocket => Refused::NotAWebSocket.to(Audience::Api).into_response(),
            Self::Origin => ApiError::new(
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                self.to_string(),
            )
            .into_response(),
            _ => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", self.to_string())
                .into_response(),
        }
    }
}

/// A WebSocket opening handshake (RFC 6455 §4.2.1) of protocol version 2.0.0 from an allowed
/// origin; returns the client's key.
pub fn check_request(params: &SocketParams, headers: &HeaderMap) -> Result<String, HandshakeError> {
    if !has_token(headers, header::CONNECTION, "upgrade")
        || !has_token(headers, header::UPGRADE, "websocket")
    {
        return Err(HandshakeError::NotAWebSocket);
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err(HandshakeError::WebSocketVersion);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
        .ok_or(HandshakeError::NoKey)?;
    match params.vsn.as_deref() {
        None | Some("2.0.0") => {}
        Some(other) => return Err(HandshakeError::ProtocolVersion(other.to_string())),
    }
    if !origin_allowed(headers) {
        return Err(HandshakeError::Origin);
    }
    Ok(key.to_string())
}

/// Like Phoenix's `check_origin`: a browser's `Origin` must name the host it connects to, so
/// another site cannot open sockets with a visitor's cookies. Non-browser clients send none.
pub fn origin_allowed(headers: &HeaderMap) -> bool {
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

/// Answers 101 and, once hyper hands over the connection, runs the socket (tracked, so that
/// shutdown waits for it).
fn accept(
    mut request: Request,
    key: &str,
    live: Arc<Live>,
    (identity, address): (Identity, std::net::IpAddr),
) -> Response {
    let upgrade = hyper::upgrade::on(&mut request);
    let sockets = live.sockets.clone();
    sockets.spawn(async move {
        match upgrade.await {
            Ok(upgraded) => {
                let io = TokioIo::new(upgraded);
                let ws =
                    WebSocketStream::from_raw_socket(io, Role::Server, Some(transport_config()))
                        .await;
                socket::run(ws, live, identity, address).await;
            }
            Err(error) => tracing::debug!(%error, "the upgrade did not complete"),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(
            header::SEC_WEBSOCKET_ACCEPT,
            derive_accept_key(key.as_bytes()),
        )
        .body(Body::empty())
        .expect("a 101 with three valid headers always builds")
}
