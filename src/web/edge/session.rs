//! Who a request speaks for ([`Shopper`]), from our one cookie: a guest's cookie is signed and
//! holds only the cart id (a guest costs no database row and no write); a signed-in one holds
//! the secret of a server-side session (`inventory::sessions`), made anew at each sign-in and
//! ended by a logout, and is signed too, so a forged value never reaches the database. The
//! cookie is HttpOnly, SameSite=Lax, and `Secure` behind HTTPS. Handlers read the shopper
//! from the request extensions.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, CookieJar, Key, SameSite};
use rand::Rng;
use rand::distr::Alphanumeric;

use super::error::{ApiError, Audience, PageError, Refusal, Refused};
use crate::domain::Shopper;
use crate::domain::session::SessionSecret;
use crate::inventory::InventoryError;
use crate::web::AppState;

pub const SESSION_COOKIE: &str = "_sneakers_session";
pub const CART_ID_LEN: usize = 64;
/// A guest's cookie lasts a year (it names a cart, nothing more).
const GUEST_COOKIE_DAYS: i64 = 365;
/// What starts a signed-in cookie's value (a guest's is the bare cart id).
const SIGNED_IN_PREFIX: &str = "s.";

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

/// What our cookie says, once its signature holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCookie {
    Guest { cart_id: String },
    SignedIn(SessionSecret),
}

impl SessionCookie {
    fn value(&self) -> String {
        match self {
            SessionCookie::Guest { cart_id } => cart_id.clone(),
            SessionCookie::SignedIn(secret) => format!("{SIGNED_IN_PREFIX}{}", secret.as_str()),
        }
    }

    fn parse(value: &str) -> Option<SessionCookie> {
        match value.strip_prefix(SIGNED_IN_PREFIX) {
            Some(secret) => SessionSecret::parse(secret).map(SessionCookie::SignedIn),
            None => {
                let valid =
                    value.len() == CART_ID_LEN && value.bytes().all(|b| b.is_ascii_alphanumeric());
                valid.then(|| SessionCookie::Guest {
                    cart_id: value.to_string(),
                })
            }
        }
    }
}

/// A signed cookie signs only its own name and value, so one from before (`cart.account`,
/// signed in forever) parses as nothing and its bearer is a new guest.
fn read_cookie(headers: &axum::http::HeaderMap, key: &Key) -> Option<SessionCookie> {
    // Only our cookie is parsed: a shop's visitors carry others (analytics, consent) that
    // every page load would otherwise decode into a jar and drop. Of several of ours (a stale
    // one from another secret, say), the first that verifies speaks.
    cookies(headers, SESSION_COOKIE).find_map(|value| {
        let mut jar = CookieJar::new();
        jar.add_original(Cookie::parse_encoded(format!("{SESSION_COOKIE}={value}")).ok()?);
        let signed = jar.signed(key).get(SESSION_COOKIE)?;
        SessionCookie::parse(signed.value())
    })
}

fn set_cookie(key: &Key, value: &SessionCookie, secure: bool, max_age_ms: i64) -> HeaderValue {
    let mut jar = CookieJar::new();
    let cookie = Cookie::build((SESSION_COOKIE, value.value()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::milliseconds(max_age_ms))
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

/// `Set-Cookie` for a guest (a new visitor's, or one that signed out).
pub fn guest_cookie(key: &Key, cart_id: &str, secure: bool) -> HeaderValue {
    let value = SessionCookie::Guest {
        cart_id: cart_id.to_string(),
    };
    set_cookie(key, &value, secure, GUEST_COOKIE_DAYS * 24 * 3600 * 1000)
}

/// `Set-Cookie` for a session just started; it lasts as long as the session may.
pub fn signed_in_cookie(
    key: &Key,
    secret: &SessionSecret,
    secure: bool,
    max_age_ms: i64,
) -> HeaderValue {
    set_cookie(
        key,
        &SessionCookie::SignedIn(secret.clone()),
        secure,
        max_age_ms,
    )
}

pub use super::secure_cookies::is_secure;

/// The store's 503 when the session cannot be looked up: never a guest in its place (that
/// would sign the shopper out for an outage).
fn unavailable(path: &str, error: InventoryError) -> Response {
    match Audience::of(path) {
        Audience::Api => ApiError::from(error).into_response(),
        Audience::Page => PageError::from(error).into_response(),
    }
}

/// Makes sure every shopper request speaks for someone: the signed-in session the cookie
/// names, else its guest, else a new guest (whose cookie is set with the answer). A cookie of
/// a session that ended or expired makes a new guest.
pub async fn ensure(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let read = read_cookie(request.headers(), &state.cookie_key);
    let shopper = match read {
        Some(SessionCookie::Guest { cart_id }) => Some(Shopper::guest(cart_id)),
        Some(SessionCookie::SignedIn(secret)) => match state.inventory.session(&secret).await {
            Ok(Some(session)) => session
                .subject
                .as_account()
                .map(|account| Shopper::signed_in(session.data, account, session.id)),
            Ok(None) => None,
            Err(error) => return unavailable(request.uri().path(), error),
        },
        None => None,
    };
    let is_new = shopper.is_none();
    let shopper = shopper.unwrap_or_else(|| Shopper::guest(new_cart_id()));
    let secure = is_secure(request.headers());
    request.extensions_mut().insert(shopper.clone());
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
        let cookie = guest_cookie(&state.cookie_key, &shopper.cart_id, secure);
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for Shopper {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Only missing if a route forgot the session layer: a bug, not the shopper's fault.
        parts.extensions.get::<Shopper>().cloned().ok_or_else(|| {
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

    /// The `name=value` pair a browser sends back for a guest.
    fn sent_back(key: &Key, cart_id: &str) -> String {
        let set_cookie = guest_cookie(key, cart_id, false);
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
        let cart_id = new_cart_id();
        let pair = sent_back(&key, &cart_id);
        let headers = cookie_header(&format!(
            "_ga=GA1.2.3; consent=%7B%22all%22%7D; {pair}; theme=dark"
        ));
        assert_eq!(
            read_cookie(&headers, &key),
            Some(SessionCookie::Guest { cart_id })
        );
        let secret = SessionSecret::from_random([3; 32]);
        let set = signed_in_cookie(&key, &secret, true, 1000);
        let set = set.to_str().unwrap_or_default();
        assert!(set.contains("Secure") && set.contains("HttpOnly"), "{set}");
        let pair = set.split(';').next().unwrap_or_default();
        assert_eq!(
            read_cookie(&cookie_header(pair), &key),
            Some(SessionCookie::SignedIn(secret))
        );
    }

    #[test]
    fn a_stale_session_cookie_does_not_hide_a_valid_one() {
        let key = cookie_key("a secret key base long enough for the session tests here, surely");
        let other = cookie_key("another secret key base, from before the secret was rotated");
        let cart_id = new_cart_id();
        let stale = sent_back(&other, &new_cart_id());
        let valid = sent_back(&key, &cart_id);
        for order in [format!("{valid}; {stale}"), format!("{stale}; {valid}")] {
            assert_eq!(
                read_cookie(&cookie_header(&order), &key),
                Some(SessionCookie::Guest {
                    cart_id: cart_id.clone()
                })
            );
        }
    }

    #[test]
    fn no_session_cookie_or_a_forged_one_is_no_session() {
        let key = cookie_key("a secret key base long enough for the session tests here, surely");
        assert_eq!(read_cookie(&cookie_header("theme=dark"), &key), None);
        let forged = format!("{SESSION_COOKIE}=guest:{}", new_cart_id());
        assert_eq!(read_cookie(&cookie_header(&forged), &key), None);
        let unsigned = format!("{SESSION_COOKIE}=s.{}", "a".repeat(43));
        assert_eq!(read_cookie(&cookie_header(&unsigned), &key), None);
    }
}
