//! HTTP Basic auth for the admin pages and API, compared in constant time.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use subtle::ConstantTimeEq;

use super::AppState;

/// Proof that the request carried the admin credentials (and, for a change, came from this
/// site: a browser sends remembered Basic credentials along with any site's form).
pub struct Admin;

pub enum Unauthorized {
    Credentials,
    CrossSite,
}

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        match self {
            Unauthorized::Credentials => (
                StatusCode::UNAUTHORIZED,
                [(
                    header::WWW_AUTHENTICATE,
                    "Basic realm=\"Sneakers admin\", charset=\"UTF-8\"",
                )],
                "admin credentials required\n",
            )
                .into_response(),
            Unauthorized::CrossSite => {
                (StatusCode::FORBIDDEN, "cross-site request refused\n").into_response()
            }
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
        let admin = &state.config.admin;
        let expected = format!("{}:{}", admin.username, admin.password);
        if !bool::from(given.as_slice().ct_eq(expected.as_bytes())) {
            Err(Unauthorized::Credentials)
        } else if !same_site(parts) {
            Err(Unauthorized::CrossSite)
        } else {
            Ok(Admin)
        }
    }
}
