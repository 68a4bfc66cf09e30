//! Typed errors become responses here, at the edge: the store's own HTML page for shoppers, JSON
//! for the admin API. A database outage is one answer everywhere: 503 with `Retry-After`.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::checkout::CheckoutError;
use crate::error_chain::ErrorChain;
use crate::html::pages::errors::error_page;
use crate::inventory::InventoryError;

/// Seconds a client should wait before trying again after an outage.
const RETRY_AFTER_OUTAGE: &str = "5";

/// An error on a shopper page.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{0}")]
    NotFound(String),
    #[error("the form was stale or forged")]
    Csrf,
    /// The inventory could not reach the database (`InventoryError::Store`).
    #[error("the database is unavailable")]
    Unavailable(#[source] InventoryError),
    /// Anything else the inventory refused that no page expects: a bug to look at.
    #[error("unexpected refusal")]
    Unexpected(#[source] InventoryError),
}

impl From<InventoryError> for PageError {
    fn from(error: InventoryError) -> PageError {
        match error {
            InventoryError::Store(_) => PageError::Unavailable(error),
            other => PageError::Unexpected(other),
        }
    }
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    (status, error_page(status.as_u16(), title, message)).into_response()
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::NotFound(what) => page(
                StatusCode::NOT_FOUND,
                "Not found",
                &format!("We could not find {what}. It may have been pulled from the drop."),
            ),
            PageError::Csrf => page(
                StatusCode::FORBIDDEN,
                "Please try again",
                "This form has expired or did not come from this store. Go back, reload the page and try again.",
            ),
            PageError::Unavailable(error) => {
                tracing::error!(error = %ErrorChain(&error), "page failed: database unavailable");
                let mut response = page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The store is catching its breath",
                    "We could not reach our database. Nothing was charged. Please try again in a moment.",
                );
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from_static(RETRY_AFTER_OUTAGE),
                );
                response
            }
            PageError::Unexpected(error) => {
                tracing::error!(error = %ErrorChain(&error), "page failed");
                page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Please try again in a moment.",
                )
            }
        }
    }
}

/// An error from the admin API: `{"error": code, "message": text}` with a fitting status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub extra: serde_json::Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: serde_json::Value::Null,
        }
    }
}

impl From<InventoryError> for ApiError {
    fn from(error: InventoryError) -> ApiError {
        let message = error.to_string();
        match error {
            InventoryError::ProductNotFound(_) | InventoryError::ItemNotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
            }
            InventoryError::SoldOut { available, .. } => ApiError {
                extra: json!({ "available_count": available }),
                ..ApiError::new(StatusCode::CONFLICT, "sold_out", message)
            },
            InventoryError::NotReleased { .. } => {
                ApiError::new(StatusCode::CONFLICT, "not_released", message)
            }
            InventoryError::Checkout(CheckoutError::Empty) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "empty_cart", message)
            }
            InventoryError::Checkout(CheckoutError::SoldOut(_)) => {
                ApiError::new(StatusCode::CONFLICT, "sold_out", message)
            }
            InventoryError::Checkout(CheckoutError::TooLarge) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "too_large", message)
            }
            InventoryError::InvalidCount(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_count", message)
            }
            InventoryError::Store(error) => {
                tracing::error!(error = %ErrorChain(&error), "admin API failed: database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; try again",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code, "message": self.message });
        if let (Some(body), serde_json::Value::Object(extra)) = (body.as_object_mut(), self.extra) {
            body.extend(extra);
        }
        let retry = self.status == StatusCode::SERVICE_UNAVAILABLE;
        let mut response = (self.status, Json(body)).into_response();
        if retry {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from_static(RETRY_AFTER_OUTAGE),
            );
        }
        response
    }
}
