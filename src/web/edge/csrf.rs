//! Shopper form posts carry the session's CSRF token (the `csrf-token` meta tag's value), in
//! the form's `_csrf_token` or in an `x-csrf-token` header; without a valid one the answer is
//! the store's 403.

use axum::http::HeaderMap;

use super::error::PageError;
use crate::domain::Shopper;
use crate::web::AppState;

/// A POST must carry the session's CSRF token, in the form or in `x-csrf-token`.
pub fn check_csrf(
    state: &AppState,
    shopper: &Shopper,
    headers: &HeaderMap,
    form_token: &str,
) -> Result<(), PageError> {
    let header_token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let given = if form_token.is_empty() {
        header_token
    } else {
        form_token
    };
    if state.tokens.csrf_ok(&shopper.cart_id, given) {
        Ok(())
    } else {
        Err(PageError::Csrf)
    }
}
