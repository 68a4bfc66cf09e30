//! The shopper's session: a signed, HttpOnly, SameSite=Lax cookie holding the cart id (and the
//! account, once signed in), made on the first visit. Handlers read it from the request
//! extensions.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use cookie::{Cookie, CookieJar, Key, SameSite};
use rand::Rng;
use rand::distr::Alphanumeric;

use super::error::{Audience, Refusal, Refused};
use crate::web::AppState;

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

/// The values of the cookies named `name`, in the order the browser sent them (raw, as sent).
pub fn cookies<'a>(
    headers: &'a axum::http::HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(key, _)| key.trim() == name)
        .map(|(_, value)| value)
}

fn read_session(headers: &axum::http::HeaderMap, key: &Key) -> Option<Session> {
    // Only our cookie is parsed: a shop's visitors carry others (analytics, consent) that
    // every page load would otherwise decode into a jar and drop. Of several of ours (a stale
    // one from another secret, say), the first that verifies speaks.
    cookies(headers, SESSION_COOKIE).find_map(|value| {
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::parse_encoded(format!("{SESSION_COOKIE}={value}")).ok()?);
        let subject = jar.signed(key).get(SESSION_COOKIE)?;
        Session::from_subject(subject.value(), CART_ID_LEN)
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn cookie_header(pairs: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(pairs).expect("test cookies are ASCII"),
        );
        headers
    }

    /// The `name=value` pair a browser sends back for a session.
    fn sent_back(key: &Key, session: &Session) -> String {
        let set_cookie = session_cookie(key, session, false);
        let set_cookie = set_cookie.to_str().expect("a Set-Cookie we made is ASCII");
        set_cookie
            .split(';')
            .next()
            .expect("split yields at least one piece")
            .to_string()
    }

    #[test]
    fn the_session_is_found_among_other_cookies() {
        let key = cookie_key("a secret key base long enough for the session tests here, surely");
        let session = Session::guest(new_cart_id());
        let pair = sent_back(&key, &session);
        let headers = cookie_header(&format!(
            "_ga=GA1.2.3; consent=%7B%22all%22%7D; {pair}; theme=dark"
        ));
        assert_eq!(read_session(&headers, &key), Some(session));
    }

    #[test]
    fn a_stale_session_cookie_does_not_hide_a_valid_one() {
        let key = cookie_key("a secret key base long enough for the session tests here, surely");
        let other = cookie_key("another secret key base, from before the secret was rotated");
        let session = Session::guest(new_cart_id());
        let stale = sent_back(&other, &Session::guest(new_cart_id()));
        let valid = sent_back(&key, &session);
        for order in [format!("{valid}; {stale}"), format!("{stale}; {valid}")] {
            assert_eq!(
                read_session(&cookie_header(&order), &key),
                Some(session.clone())
            );
        }
    }

    #[test]
    fn no_session_cookie_or_a_forged_one_is_no_session() {
        let key = cookie_key("a secret key base long enough for the session tests here, surely");
        assert_eq!(read_session(&cookie_header("theme=dark"), &key), None);
        let forged = format!("{SESSION_COOKIE}=guest:{}", new_cart_id());
        assert_eq!(read_session(&cookie_header(&forged), &key), None);
    }
}
