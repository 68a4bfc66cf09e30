//! HTTP Basic auth for the admin pages and API, compared in constant time.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use subtle::ConstantTimeEq;

use super::AppState;

/// Proof that the request carried the admin credentials.
pub struct Admin;

pub struct Unauthorized;

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"Sneakers admin\", charset=\"UTF-8\"",
            )],
            "admin credentials required\n",
        )
            .into_response()
    }
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
        if bool::from(given.as_slice().ct_eq(expected.as_bytes())) {
            Ok(Admin)
        } else {
            Err(Unauthorized)
        }
    }
}
