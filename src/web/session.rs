//! The shopper's session: a signed, HttpOnly, SameSite=Lax cookie holding the cart id (and the
//! account, once signed in), made on the first visit. Handlers read it from the request
//! extensions.

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use cookie::{Cookie, CookieJar, Key, SameSite};
use rand::Rng;
use rand::distr::Alphanumeric;

use super::AppState;
use super::client::ClientAddr;
use super::error::{Audience, Refusal, Refused};
use super::limits::Action;
use crate::html::pages::layout::PageMeta;

pub const SESSION_COOKIE: &str = "_sneakers_session";
pub const CART_ID_LEN: usize = 64;

/// Who the request speaks for: a guest's cart, or a signed-in account's.
pub use crate::domain::Shopper as Session;

pub fn cookie_key(secret_key_base: &str) -> Key {
    Key::derive_from(secret_key_base.as_bytes())
}

pub fn new_cart_id() -> String {
    // Alphanumeric is a subset of the URL-safe alphabet; 64 of them carry ~380 bits.
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(CART_ID_LEN)
        .map(char::from)
        .collect()
}

fn read_session(parts_headers: &axum::http::HeaderMap, key: &Key) -> Option<Session> {
    let mut jar = CookieJar::new();
    for value in parts_headers.get_all(header::COOKIE) {
        for cookie in value.to_str().ok()?.split(';') {
            if let Ok(cookie) = Cookie::parse_encoded(cookie.trim().to_owned()) {
                jar.add_original(cookie);
            }
        }
    }
    let subject = jar.signed(key).get(SESSION_COOKIE)?;
    Session::from_subject(subject.value(), CART_ID_LEN)
}

/// `Set-Cookie` for a session (a new visitor's, or one that signed in or out).
pub fn session_cookie(key: &Key, session: &Session, secure: bool) -> HeaderValue {
    let mut jar = CookieJar::new();
    let cookie = Cookie::build((SESSION_COOKIE, session.subject()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::days(365))
        .build();
    jar.signed_mut(key).add(cookie);
    let cookie = jar
        .delta()
        .next()
        .expect("the jar holds the cookie just added")
        .encoded()
        .to_string();
    HeaderValue::from_str(&cookie).expect("a signed cookie is base64 and cookie attributes")
}

/// Whether the browser reached us over HTTPS (as the proxy in front says).
pub fn is_secure(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes() == b"https")
}

/// `GET /session/token`; the caller adds the session layer.
pub fn router() -> Router<AppState> {
    Router::new().route("/session/token", get(token))
}

/// Makes sure every shopper request has a session; sets the cookie on the first visit.
pub async fn ensure(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let existing = read_session(request.headers(), &state.cookie_key);
    let is_new = existing.is_none();
    let session = existing.unwrap_or_else(|| Session::guest(new_cart_id()));
    let secure = is_secure(request.headers());
    request.extensions_mut().insert(session.clone());
    let mut response = next.run(request).await;
    // A handler that signed in or out set its own session cookie.
    let replaced = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| {
            v.as_bytes()
                .starts_with(format!("{SESSION_COOKIE}=").as_bytes())
        });
    if is_new && !replaced {
        let cookie = session_cookie(&state.cookie_key, &session, secure);
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Only missing if a route forgot the session layer: a bug, not the shopper's fault.
        parts.extensions.get::<Session>().cloned().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "a shopper route without the session layer");
            Refused::Internal.to(Audience::of(parts.uri.path()))
        })
    }
}

/// `GET /session/token`: a fresh socket token for a page that has been open longer than its
/// token lives.
async fn token(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
) -> Result<axum::Json<serde_json::Value>, Refusal> {
    let limited = Some(session.cart_id.as_str());
    state
        .limits
        .check(Action::Token, client, limited, Audience::Api)?;
    let meta = PageMeta::new(&state.tokens, &session);
    Ok(axum::Json(
        serde_json::json!({ "token": meta.socket_token, "cart_id": meta.cart_id }),
    ))
}
