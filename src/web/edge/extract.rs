//! What handlers read from a request, read here, so every refusal is the store's own answer
//! ([`Refusal`]) and never axum's text: query strings (a repeated value: the first wins; an
//! unknown one is ignored), path segments, bodies (size cap, a deadline for the whole body)
//! and forms, the WebSocket upgrade, and the request head (its size, its `Host`).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::{Audience, Refusal, Refused};
use crate::web::AppState;

/// Forms and API calls are small; anything bigger is refused before it is read.
pub const MAX_BODY: usize = 16 * 1024;
/// The whole request head (request line and headers); browsers send 1-4 KiB.
pub const MAX_HEAD: usize = 16 * 1024;
/// All `Cookie` headers together: ours are two, under 1 KiB; browsers cap one cookie at 4 KiB.
pub const MAX_COOKIES: usize = 8 * 1024;

/// Parses `a=1&b=2` into `T`: for a name given twice the first value counts, names `T` does not
/// know are ignored, bad percent-escapes decode lossily. Fails only where `T` itself refuses a
/// value (a page's query structs take strings, so for them it never does).
pub fn first_wins<T: DeserializeOwned>(text: &[u8]) -> Result<T, serde_urlencoded::de::Error> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(text)?;
    let mut seen: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        if !seen.iter().any(|(n, _)| *n == name) {
            seen.push((name, value));
        }
    }
    let deduplicated =
        serde_urlencoded::to_string(&seen).expect("string pairs always encode as a query string");
    serde_urlencoded::from_str(&deduplicated)
}

fn audience(parts: &Parts) -> Audience {
    Audience::of(parts.uri.path())
}

/// The query string as `T` (see [`first_wins`]); an unreadable one is a 400 in the store's words.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Refusal> {
        let query = parts.uri.query().unwrap_or_default();
        first_wins(query.as_bytes())
            .map(Query)
            .map_err(|_| Refused::BadRequest.to(audience(parts)))
    }
}

/// The route's path parameters; one that cannot be decoded names nothing here: 404.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refusal> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|_| Refused::NotFound.to(audience(parts)))
    }
}

/// The whole body, at most [`MAX_BODY`] bytes, read within the body timeout.
pub struct Body(pub Bytes);

impl FromRequest<AppState> for Body {
    type Rejection = Refusal;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Refusal> {
        read_body(request, state, MAX_BODY).await.map(Body)
    }
}

/// The whole body, at most `limit` bytes, read within the body timeout.
pub async fn read_body(request: Request, state: &AppState, limit: usize) -> Result<Bytes, Refusal> {
    let audience = Audience::of(request.uri().path());
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let timeout = state.config.connections.body_timeout;
    if let Some(declared) = declared.filter(|n| *n > limit as u64) {
        if declared <= DRAIN_MAX {
            // Closing with the client's bytes unread makes the kernel reset the connection, and
            // the client may lose our 413 with it: a modest body is read to its end and dropped.
            let _ = tokio::time::timeout(timeout, drain(request.into_body())).await;
        }
        return Err(Refused::BodyTooLarge.to(audience));
    }
    let read = axum::body::to_bytes(request.into_body(), limit);
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) if is_length_limit(&error) => Err(Refused::BodyTooLarge.to(audience)),
        Ok(Err(error)) => {
            tracing::debug!(%error, "request body unreadable");
            Err(Refused::BadRequest.to(audience))
        }
        Err(_) => Err(Refused::BodyTimeout.to(audience)),
    }
}

/// The largest refused body still read to its end (see [`read_body`]).
const DRAIN_MAX: u64 = 4 << 20;

async fn drain(mut body: axum::body::Body) {
    use http_body_util::BodyExt;
    while let Some(Ok(_)) = body.frame().await {}
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = current.source();
    }
    false
}

/// The body as a form (see [`first_wins`]); a body that is not a form is a 400 here.
pub struct Form<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Form<T> {
    type Rejection = Refusal;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Refusal> {
        let audience = Audience::of(request.uri().path());
        let Body(bytes) = Body::from_request(request, state).await?;
        first_wins(&bytes)
            .map(Form)
            .map_err(|_| Refused::BadRequest.to(audience))
    }
}

/// Whether a request head is within [`MAX_HEAD`] and [`MAX_COOKIES`] (the request line
/// counted as its target's length).
pub fn head_fits(target_len: usize, headers: &HeaderMap) -> bool {
    let mut total = target_len;
    let mut cookies = 0;
    for (name, value) in headers {
        // ": " and CRLF.
        let line = name.as_str().len() + value.len() + 4;
        total += line;
        if name == header::COOKIE {
            cookies += value.len();
        }
    }
    total <= MAX_HEAD && cookies <= MAX_COOKIES
}

/// Whether a request names its host as RFC 9112 (3.2) asks: an HTTP/1.1 request carries exactly
/// one `Host`, and it is a host with an optional port (empty only for a target without one).
pub fn host_ok(version: Version, headers: &HeaderMap) -> bool {
    let mut hosts = headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) => version < Version::HTTP_11,
        (Some(_), Some(_)) => false,
        (Some(host), None) => {
            host.is_empty()
                || host.to_str().is_ok_and(|host| {
                    !host.contains('@') && host.parse::<axum::http::uri::Authority>().is_ok()
                })
        }
    }
}

/// Middleware: a head over the caps is refused (431), and one without a proper `Host` (400),
/// before anything else reads it. (Heads far past the caps never get here: the HTTP server
/// refuses those itself, see `serve`.)
pub async fn check_head(request: Request, next: Next) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    let refused = if !head_fits(target, request.headers()) {
        Refused::HeadersTooLarge
    } else if !host_ok(request.version(), request.headers()) {
        Refused::BadRequest
    } else {
        return next.run(request).await;
    };
    refused
        .to(Audience::of(request.uri().path()))
        .into_response()
}

/// The router's answer to a path that names nothing.
pub async fn not_found(request: Request) -> Refusal {
    Refused::NotFound.to(Audience::of(request.uri().path()))
}

/// The router's answer to a known path asked with a method it does not take.
pub async fn method_not_allowed(request: Request) -> Refusal {
    Refused::MethodNotAllowed.to(Audience::of(request.uri().path()))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize, Debug, PartialEq, Default)]
    struct Flash {
        cart_error: Option<String>,
        page: Option<String>,
    }

    #[test]
    fn the_first_value_wins_and_strangers_are_ignored() {
        let flash: Result<Flash, _> = first_wins(b"cart_error=a&cart_error=b&utm=x&page=%2F");
        assert_eq!(
            flash.ok(),
            Some(Flash {
                cart_error: Some("a".into()),
                page: Some("/".into())
            })
        );
        let lossy: Result<Flash, _> = first_wins(b"cart_error=%ff%fe&&=&page");
        assert!(lossy.is_ok_and(|f| f.cart_error.is_some()));
        assert_eq!(first_wins::<Flash>(b"").ok(), Some(Flash::default()));
    }

    #[test]
    fn heads_are_measured_with_their_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, header::HeaderValue::from_static("shop"));
        assert!(head_fits(1, &headers));
        let big = "a=".to_string() + &"x".repeat(MAX_COOKIES);
        if let Ok(value) = header::HeaderValue::from_str(&big) {
            headers.insert(header::COOKIE, value);
        }
        assert!(!head_fits(1, &headers));
        assert!(!head_fits(MAX_HEAD + 1, &HeaderMap::new()));
    }

    #[test]
    fn http_1_1_needs_exactly_one_proper_host() {
        let with = |hosts: &[&str]| {
            let mut headers = HeaderMap::new();
            for host in hosts {
                headers.append(
                    header::HOST,
                    host.parse().unwrap_or_else(|e| panic!("{host}: {e}")),
                );
            }
            headers
        };
        assert!(host_ok(Version::HTTP_11, &with(&["shop.example"])));
        assert!(host_ok(Version::HTTP_11, &with(&["127.0.0.1:4000"])));
        assert!(host_ok(Version::HTTP_11, &with(&["[::1]:4000"])));
        assert!(host_ok(Version::HTTP_11, &with(&[""])));
        assert!(host_ok(Version::HTTP_10, &with(&[])));
        assert!(!host_ok(Version::HTTP_11, &with(&[])));
        assert!(!host_ok(
            Version::HTTP_11,
            &with(&["a.example", "b.example"])
        ));
        assert!(!host_ok(Version::HTTP_11, &with(&["user@shop.example"])));
        assert!(!host_ok(Version::HTTP_11, &with(&["shop example"])));
        assert!(!host_ok(Version::HTTP_11, &with(&["shop.example/path"])));
    }
}
