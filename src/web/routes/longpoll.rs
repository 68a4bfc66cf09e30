//! `GET|POST /socket/longpoll` and `/admin_socket/longpoll`: Phoenix's LongPoll transport, for
//! clients whose WebSocket upgrades are blocked. The same socket token rules as the WebSocket
//! (`socket.rs`); the sessions themselves live in `live::longpoll`.
//!
//! As Phoenix's server, every protocol answer is HTTP 200 with `{"status", "token",
//! "messages"}` (what phoenix.js reads): a GET without a longpoll token opens a session (410
//! and its token), a GET with one polls (200 with messages, 204 after an empty window, 410
//! when the session is gone), a POST sends frames (200, or 410). A bad socket token is status
//! 403. A request this store cannot take (a body that is not frames, too large, over a rate)
//! gets its real HTTP status and the store's JSON error, carrying a `status` too: phoenix.js
//! retries on anything but 200 after a POST, and a poll's `status` 500 makes it back off and
//! retry (it throws on a status it does not know).

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::socket::{Door, origin_allowed};
use crate::config::LimitedAction;
use crate::domain::token::{LONGPOLL_TOKEN_MAX_AGE_MS, TokenError, Tokens};
use crate::live::longpoll::{Answer, LongPolls, Request as LpRequest, SessionRef};
use crate::live::socket::{MAX_FRAME_BYTES, MAX_TRANSPORT_BYTES};
use crate::live::{Identity, protocol};
use crate::web::AppState;
use crate::web::edge::client::ClientAddr;
use crate::web::edge::error::{ApiError, Audience, Refused};
use crate::web::edge::extract::read_body;

/// phoenix.js sends at most this many frames per POST (Phoenix reads no more).
pub const MAX_FRAMES_PER_POST: usize = 100;
const TOKEN_HEADER: &str = "x-phoenix-longpoll-token";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/socket/longpoll", get(shopper).post(shopper))
        .route("/admin_socket/longpoll", get(admin).post(admin))
}

async fn shopper(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    request: Request,
) -> Response {
    handle(&state, client, request, Door::Shopper).await
}

async fn admin(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    request: Request,
) -> Response {
    handle(&state, client, request, Door::Admin).await
}

/// What a longpoll request carries in its query and headers.
#[derive(Debug, Default, PartialEq)]
struct Params {
    /// The socket token (the first `token` that is not a longpoll token).
    socket_token: Option<String>,
    /// The session, from `x-phoenix-longpoll-token` or a `token` query value (older clients
    /// append theirs after the socket's own `token`), if its signature holds.
    session: Option<(String, SessionRef)>,
    vsn: Option<String>,
}

fn verify_session(tokens: &Tokens, token: &str, now: i64) -> Option<SessionRef> {
    let data = tokens
        .longpoll
        .verify(token, LONGPOLL_TOKEN_MAX_AGE_MS, now)
        .ok()?;
    SessionRef::parse(&data)
}

impl Params {
    fn parse(query: Option<&str>, headers: &HeaderMap, tokens: &Tokens, now: i64) -> Params {
        let mut params = Params::default();
        if let Some(token) = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok())
            && let Some(session) = verify_session(tokens, token, now)
        {
            params.session = Some((token.to_string(), session));
        }
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "token" => {
                    if let Some(session) = verify_session(tokens, &value, now) {
                        params.session.get_or_insert((value.into_owned(), session));
                    } else if params.socket_token.is_none() {
                        params.socket_token = Some(value.into_owned());
                    }
                }
                "vsn" if params.vsn.is_none() => params.vsn = Some(value.into_owned()),
                _ => {}
            }
        }
        params
    }
}

/// A protocol answer: HTTP 200, the status in the body, never cached.
fn status_json(status: u16, token: Option<&str>, messages: Option<Vec<String>>) -> Response {
    let mut body = json!({ "status": status });
    if let Some(token) = token {
        body["token"] = json!(token);
    }
    if let Some(messages) = messages {
        body["messages"] = json!(messages);
    }
    json_response(StatusCode::OK, body)
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The store's JSON error, with the `status` phoenix.js reads.
fn refuse(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
    client_status: u16,
) -> Response {
    let mut error = ApiError::new(status, code, message);
    error.extra = json!({ "status": client_status });
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn handle(
    state: &AppState,
    client: std::net::IpAddr,
    request: Request,
    door: Door,
) -> Response {
    let now = chrono::Utc::now().timestamp_millis();
    let params = Params::parse(request.uri().query(), request.headers(), &state.tokens, now);
    if let Some(vsn) = params.vsn.as_deref().filter(|v| *v != "2.0.0") {
        return refuse(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("unsupported protocol version {vsn:?}; use vsn=2.0.0"),
            403,
        );
    }
    if !origin_allowed(request.headers()) {
        // As Phoenix's check_origin: status 403, and the client stops.
        return status_json(403, None, None);
    }
    let method = request.method().clone();
    match (method, params.session) {
        (Method::GET, None) => {
            let token = params.socket_token.as_deref().unwrap_or_default();
            match door.identify(state, token).await {
                Ok(identity) => open(state, client, identity, now),
                Err(unavailable) => {
                    let mut error = unavailable;
                    error.extra = json!({ "status": 500 });
                    error.into_response()
                }
            }
        }
        (Method::GET, Some((token, session))) => poll(state, &token, session).await,
        (_, Some((_, session))) => send(state, request, session).await,
        // A POST for no (valid) session: it is gone, the client opens another.
        (_, None) => status_json(410, None, None),
    }
}

fn open(
    state: &AppState,
    client: std::net::IpAddr,
    identity: Result<Identity, TokenError>,
    now: i64,
) -> Response {
    let cart = match &identity {
        Ok(Identity::Shopper { cart_id, .. }) => Some(cart_id.as_str()),
        _ => None,
    };
    if let Err(refusal) = state
        .limits
        .check(LimitedAction::Connect, client, cart, Audience::Api)
    {
        let mut response = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many connections in a short time; try again in a moment",
            500,
        );
        if let Refused::RateLimited { retry_after } = refusal.kind {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        return response;
    }
    let identity = match identity {
        Ok(identity) => identity,
        Err(error) => {
            return json_response(
                StatusCode::OK,
                json!({ "status": 403, "error": "forbidden", "message": error.to_string() }),
            );
        }
    };
    let Some(session) = LongPolls::open(&state.live, identity, client) else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "this node is restarting; try again",
            500,
        );
    };
    let token = state.tokens.longpoll.sign(&session.to_data(), now);
    tracing::debug!(node = %session.node, session = %session.id, "longpoll session opened");
    status_json(410, Some(&token), Some(Vec::new()))
}

async fn poll(state: &AppState, token: &str, session: SessionRef) -> Response {
    let request = LpRequest::Poll {
        session: session.id,
    };
    match LongPolls::dispatch(&state.live, &session.node, request).await {
        Answer::Messages { messages } => status_json(200, Some(token), Some(messages)),
        Answer::Empty => status_json(204, Some(token), Some(Vec::new())),
        Answer::Gone => status_json(410, None, Some(Vec::new())),
        other => {
            tracing::error!(?other, "a poll got an answer meant for a send");
            status_json(500, None, None)
        }
    }
}

async fn send(state: &AppState, request: Request, session: SessionRef) -> Response {
    let ndjson = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().starts_with("application/x-ndjson"));
    let body = match read_body(request, state, MAX_TRANSPORT_BYTES).await {
        Ok(body) => body,
        Err(refusal) => {
            let (status, code, message) = match refusal.kind {
                Refused::BodyTooLarge => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("a longpoll body may hold at most {MAX_TRANSPORT_BYTES} bytes"),
                ),
                Refused::BodyTimeout => (
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    "the body did not arrive in time".to_string(),
                ),
                _ => (
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the body could not be read".to_string(),
                ),
            };
            return refuse(status, code, message, status.as_u16());
        }
    };
    let frames = match frames_of(&body, ndjson) {
        Ok(frames) => frames,
        Err(error) => {
            let status = match error {
                BodyError::TooManyFrames | BodyError::FrameTooLarge { .. } => {
                    StatusCode::PAYLOAD_TOO_LARGE
                }
                _ => StatusCode::BAD_REQUEST,
            };
            return refuse(status, "bad_frames", error.to_string(), status.as_u16());
        }
    };
    let request = LpRequest::Send {
        session: session.id,
        frames,
    };
    match LongPolls::dispatch(&state.live, &session.node, request).await {
        Answer::Sent => status_json(200, None, None),
        Answer::Gone => status_json(410, None, None),
        Answer::Flooded => refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many events: this longpoll session is closed",
            429,
        ),
        other => {
            tracing::error!(?other, "a send got an answer meant for a poll");
            status_json(500, None, None)
        }
    }
}

/// Why a POSTed body is refused, whole, before any of it is dispatched.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
enum BodyError {
    #[error("the body is not UTF-8 text")]
    NotText,
    #[error("the body holds no frame")]
    Empty,
    #[error("at most {MAX_FRAMES_PER_POST} frames per request")]
    TooManyFrames,
    #[error("frame {line} is larger than {MAX_FRAME_BYTES} bytes")]
    FrameTooLarge { line: usize },
    #[error("frame {line}: binary (base64) frames are not supported")]
    Binary { line: usize },
    #[error(
        "frame {line} is not a Phoenix V2 frame ([join_ref, ref, topic, event, payload]): {reason}"
    )]
    NotAFrame { line: usize, reason: String },
}

/// The frames of a POST body: one frame, or with `ndjson` one per line (blank lines skipped).
/// Every frame must decode, so a bad body changes nothing.
fn frames_of(body: &[u8], ndjson: bool) -> Result<Vec<String>, BodyError> {
    let text = std::str::from_utf8(body).map_err(|_| BodyError::NotText)?;
    let lines: Vec<&str> = if ndjson {
        text.split('\n')
            .map(|line| line.strip_suffix('\r').unwrap_or(line))
            .filter(|line| !line.trim().is_empty())
            .collect()
    } else if text.trim().is_empty() {
        Vec::new()
    } else {
        vec![text]
    };
    if lines.is_empty() {
        return Err(BodyError::Empty);
    }
    if lines.len() > MAX_FRAMES_PER_POST {
        return Err(BodyError::TooManyFrames);
    }
    lines
        .into_iter()
        .enumerate()
        .map(|(at, line)| {
            let line_no = at + 1;
            if line.len() > MAX_FRAME_BYTES {
                return Err(BodyError::FrameTooLarge { line: line_no });
            }
            if ndjson && !line.trim_start().starts_with('[') {
                return Err(BodyError::Binary { line: line_no });
            }
            protocol::decode(line).map_err(|error| BodyError::NotAFrame {
                line: line_no,
                reason: error.to_string(),
            })?;
            Ok(line.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: &str = r#"[null,"1","phoenix","heartbeat",{}]"#;

    #[test]
    fn bodies_are_frames_or_refused_whole() {
        assert_eq!(
            frames_of(FRAME.as_bytes(), false),
            Ok(vec![FRAME.to_string()])
        );
        let two = format!("{FRAME}\r\n{FRAME}\n");
        assert_eq!(frames_of(two.as_bytes(), true).map(|f| f.len()), Ok(2));
        assert_eq!(frames_of(b"", true), Err(BodyError::Empty));
        assert_eq!(frames_of(&[0xff, 0xfe], false), Err(BodyError::NotText));
        assert!(matches!(
            frames_of(format!("{FRAME}\n{{\"a\":1}}").as_bytes(), true),
            Err(BodyError::Binary { line: 2 })
        ));
        assert!(matches!(
            frames_of(b"[1,2]", false),
            Err(BodyError::NotAFrame { line: 1, .. })
        ));
        let many = vec![FRAME; MAX_FRAMES_PER_POST + 1].join("\n");
        assert_eq!(
            frames_of(many.as_bytes(), true),
            Err(BodyError::TooManyFrames)
        );
    }

    #[test]
    fn the_session_token_is_found_in_the_header_or_among_the_query_tokens() {
        let tokens =
            Tokens::new("a secret key base that is long enough for the tests here, really");
        let session = SessionRef {
            node: "n1".into(),
            id: "s1".into(),
        };
        let lp = tokens.longpoll.sign(&session.to_data(), 0);
        let socket = tokens.socket.sign("cart", 0);
        let query = format!("token={socket}&vsn=2.0.0&token={lp}");
        let params = Params::parse(Some(&query), &HeaderMap::new(), &tokens, 1);
        assert_eq!(params.socket_token.as_deref(), Some(socket.as_str()));
        assert_eq!(params.session, Some((lp.clone(), session.clone())));
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&lp) {
            headers.insert(TOKEN_HEADER, value);
        }
        let params = Params::parse(Some(&format!("token={socket}")), &headers, &tokens, 1);
        assert_eq!(params.session.map(|(_, s)| s), Some(session));
        // A socket token never passes for a session, nor "null" from an old client.
        let params = Params::parse(
            Some(&format!("token={socket}&token=null")),
            &HeaderMap::new(),
            &tokens,
            1,
        );
        assert_eq!(params.session, None);
    }
}
