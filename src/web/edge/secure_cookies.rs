//! Every cookie set for a browser that reached us over HTTPS is `Secure`, whoever set it (the
//! session, the cart, a sign-out's clearing), so a handler that forgets cannot leak one over
//! plain HTTP. Only an answer's own `Set-Cookie` headers are touched, after the handler ran.
//!
//! HTTPS is what `X-Forwarded-Proto` says, believed from anyone: the flag only ever makes a
//! cookie stricter, so a client that lies about it over plain HTTP loses its own cookies (the
//! browser refuses a `Secure` one there) and nobody else's.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Whether the browser reached us over HTTPS, as the proxy in front says (the last proxy's
/// word counts when several are chained).
pub fn is_secure(headers: &HeaderMap) -> bool {
    headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// Whether a `Set-Cookie` value already carries the `Secure` attribute.
fn has_secure(set_cookie: &[u8]) -> bool {
    String::from_utf8_lossy(set_cookie)
        .split(';')
        .skip(1)
        .any(|attribute| attribute.trim().eq_ignore_ascii_case("secure"))
}

/// `set_cookie` with `; Secure` added.
fn with_secure(set_cookie: &HeaderValue) -> HeaderValue {
    let mut bytes = set_cookie.as_bytes().to_vec();
    bytes.extend_from_slice(b"; Secure");
    // Appending printable ASCII to a valid header value keeps it valid.
    HeaderValue::from_bytes(&bytes).unwrap_or_else(|_| set_cookie.clone())
}

/// Marks the answer's cookies `Secure` when the request came over HTTPS.
pub async fn mark(request: Request, next: Next) -> Response {
    let secure = is_secure(request.headers());
    let mut response = next.run(request).await;
    if secure {
        secure_all(response.headers_mut());
    }
    response
}

fn secure_all(headers: &mut HeaderMap) {
    if !headers.contains_key(header::SET_COOKIE) {
        return;
    }
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| {
            if has_secure(value.as_bytes()) {
                value.clone()
            } else {
                with_secure(value)
            }
        })
        .collect();
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn https_is_the_nearest_proxys_word() {
        assert!(is_secure(&headers(&[("x-forwarded-proto", "https")])));
        assert!(is_secure(&headers(&[("x-forwarded-proto", "HTTPS")])));
        assert!(is_secure(&headers(&[("x-forwarded-proto", "http, https")])));
        assert!(!is_secure(&headers(&[(
            "x-forwarded-proto",
            "https, http"
        )])));
        assert!(!is_secure(&headers(&[("x-forwarded-proto", "http")])));
        assert!(!is_secure(&HeaderMap::new()));
    }

    #[test]
    fn every_cookie_becomes_secure_once() {
        let mut map = headers(&[
            ("set-cookie", "sneakers_cart=abc; Path=/; SameSite=Lax"),
            (
                "set-cookie",
                "_sneakers_session=x; Path=/; HttpOnly; Secure",
            ),
            ("set-cookie", "secured=1; Path=/"),
            ("content-type", "text/html"),
        ]);
        secure_all(&mut map);
        let cookies: Vec<&str> = map
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(
            cookies,
            [
                "sneakers_cart=abc; Path=/; SameSite=Lax; Secure",
                "_sneakers_session=x; Path=/; HttpOnly; Secure",
                "secured=1; Path=/; Secure",
            ]
        );
        assert_eq!(
            map.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(&b"text/html"[..])
        );
    }
}
