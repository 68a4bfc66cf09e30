//! Typed errors become responses here, at the edge: HTML pages for shoppers, JSON for the API.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::html::pages::errors::error_page;
use crate::inventory::InventoryError;

/// An error on a shopper page.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{0}")]
    NotFound(String),
    #[error("the form was stale or forged")]
    Csrf,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                error_page(
                    404,
                    "Not found",
                    &format!("We could not find {what}. It may have been pulled from the drop."),
                ),
            )
                .into_response(),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                error_page(403, "Please try again", "This form has expired or did not come from this store. Go back, reload the page and try again."),
            )
                .into_response(),
            PageError::Store(error) => {
                tracing::error!(%error, "page failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    error_page(503, "Something went wrong", "The store could not reach its database. Please try again in a moment."),
                )
                    .into_response()
            }
            PageError::Inventory(error) => {
                tracing::error!(%error, "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    error_page(500, "Something went wrong", "Please try again in a moment."),
                )
                    .into_response()
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
            InventoryError::EmptyCart => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "empty_cart", message)
            }
            InventoryError::PairsSoldOut(_) => {
                ApiError::new(StatusCode::CONFLICT, "sold_out", message)
            }
            InventoryError::InvalidCount(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_count", message)
            }
            InventoryError::Store(error) => {
                tracing::error!(%error, "admin API failed");
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
        (self.status, Json(body)).into_response()
    }
}
