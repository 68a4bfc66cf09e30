//! HTTP Basic auth for the admin pages and API, compared in constant time.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use subtle::ConstantTimeEq;

use super::client::ClientAddr;
use super::error::{ApiError, Audience, Refusal};
use crate::html::pages::errors::error_page;
use crate::web::AppState;

/// Proof that the request carried the admin credentials (and, for a change, came from this
/// site: a browser sends remembered Basic credentials along with any site's form).
pub struct Admin;

pub enum Unauthorized {
    Credentials(Audience),
    CrossSite(Audience),
    /// Too many wrong guesses from this address.
    Limited(Refusal),
}

/// The dashboard speaks HTML, the API JSON.
fn answer(audience: Audience, status: StatusCode, code: &'static str, message: &str) -> Response {
    match audience {
        Audience::Page => {
            (status, error_page(status.as_u16(), "Admins only", message)).into_response()
        }
        Audience::Api => ApiError::new(status, code, message).into_response(),
    }
}

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        match self {
            Unauthorized::Credentials(audience) => {
                let mut response = answer(
                    audience,
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "Admin credentials are required.",
                );
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static(
                        "Basic realm=\"Sneakers admin\", charset=\"UTF-8\"",
                    ),
                );
                response
            }
            Unauthorized::CrossSite(audience) => answer(
                audience,
                StatusCode::FORBIDDEN,
                "cross_site",
                "A change to the store must come from the store's own dashboard.",
            ),
            Unauthorized::Limited(refusal) => refusal.into_response(),
        }
    }
}

/// A browser's `Origin` on a POST must be this host; tools (the CLI, curl) send none.
fn same_site(parts: &Parts) -> bool {
    if parts.method == Method::GET || parts.method == Method::HEAD {
        return true;
    }
    let Some(origin) = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, h)| !host.is_empty() && h.eq_ignore_ascii_case(host))
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Unauthorized;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Basic ")
                    .or_else(|| v.strip_prefix("basic "))
            })
            .and_then(|b64| {
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .ok()
            })
            .unwrap_or_default();
        let audience = Audience::of(parts.uri.path());
        let ClientAddr(client) = ClientAddr::from_request_parts(parts, state)
            .await
            .map_err(Unauthorized::Limited)?;
        let limits = &state.limits;
        limits
            .admin_allowed(client, audience)
            .map_err(Unauthorized::Limited)?;
        let admin = &state.config.admin;
        let expected = format!("{}:{}", admin.username, admin.password);
        if !bool::from(given.as_slice().ct_eq(expected.as_bytes())) {
            // A browser's first visit sends none and then asks its user: not a guess.
            if parts.headers.contains_key(header::AUTHORIZATION) {
                limits
                    .admin_failed(client, audience)
                    .map_err(Unauthorized::Limited)?;
            }
            Err(Unauthorized::Credentials(audience))
        } else if !same_site(parts) {
            Err(Unauthorized::CrossSite(audience))
        } else {
            Ok(Admin)
        }
    }
}
