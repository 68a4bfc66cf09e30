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

/// Who reads an answer: a person (the store's HTML page) or a program (JSON). Told by the
/// path, so a refusal made before any handler runs still speaks the route's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Page,
    Api,
}

impl Audience {
    pub fn of(path: &str) -> Audience {
        let api = path.starts_with("/admin/")
            || path.starts_with("/socket/")
            || path.starts_with("/admin_socket/")
            || path.starts_with("/payments/")
            || path == "/session/token"
            || path == "/metrics"
            || path == "/healthz";
        if api { Audience::Api } else { Audience::Page }
    }
}

/// A request refused for what it is rather than what it asks: malformed, oversized, too slow,
/// too many. Pages get the store's page, the API its JSON; never the framework's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: Refused,
    pub audience: Audience,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A request that cannot be read (a bad chunk, a body that is not a form).
    BadRequest,
    /// A path that names nothing (or cannot be decoded).
    NotFound,
    MethodNotAllowed,
    /// The body did not arrive within the body timeout.
    BodyTimeout,
    BodyTooLarge,
    HeadersTooLarge,
    /// Over a rate limit: try again after this many seconds.
    RateLimited {
        retry_after: u64,
    },
    /// A plain request to a socket address.
    NotAWebSocket,
    /// A route without the wiring it needs (a bug, not the client's fault).
    Internal,
}

impl Refused {
    pub fn to(self, audience: Audience) -> Refusal {
        Refusal {
            kind: self,
            audience,
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Refused::BadRequest | Refused::NotAWebSocket => StatusCode::BAD_REQUEST,
            Refused::NotFound => StatusCode::NOT_FOUND,
            Refused::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Refused::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Refused::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refused::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Refused::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Refused::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// `(code, title, message)` in the store's words.
    fn words(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Refused::BadRequest => (
                "bad_request",
                "We could not read that",
                "Your browser sent something this store cannot read. Go back, reload the page and try again.",
            ),
            Refused::NotFound => (
                "not_found",
                "Not found",
                "We could not find that page. It may have been pulled from the drop.",
            ),
            Refused::MethodNotAllowed => (
                "method_not_allowed",
                "Not here",
                "This address does not take that kind of request. Start again from the drops.",
            ),
            Refused::BodyTimeout => (
                "body_timeout",
                "That took too long",
                "Your request did not arrive in time. Nothing was changed; please try again.",
            ),
            Refused::BodyTooLarge => (
                "body_too_large",
                "That was too much",
                "The form you sent is far larger than any of ours. Nothing was changed.",
            ),
            Refused::HeadersTooLarge => (
                "headers_too_large",
                "Your cookies are too big",
                "Your browser sent more headers or cookies than this store accepts. Clear this site's cookies and try again.",
            ),
            Refused::RateLimited { .. } => (
                "rate_limited",
                "Slow down a little",
                "That was a lot of requests in a short time. Wait a moment and try again: your cart is safe.",
            ),
            Refused::NotAWebSocket => (
                "not_a_websocket",
                "Not a page",
                "This address speaks WebSocket (Phoenix Channels V2) only: connect with a WebSocket client.",
            ),
            Refused::Internal => (
                "internal",
                "Something went wrong",
                "Please try again in a moment.",
            ),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = self.kind.status();
        let (code, title, message) = self.kind.words();
        metrics::counter!("sneakers_refusals_total", "reason" => code).increment(1);
        let mut response = match self.audience {
            Audience::Page => page(status, title, message),
            Audience::Api => ApiError::new(status, code, message).into_response(),
        };
        if let Refused::RateLimited { retry_after } = self.kind {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
        }
        response
    }
}

/// An error on a shopper page.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{0}")]
    NotFound(String),
    #[error("refused: {0:?}")]
    Refused(Refusal),
    #[error("the form was stale or forged")]
    Csrf,
    /// The inventory could not reach the database (`InventoryError::Store`).
    #[error("the database is unavailable")]
    Unavailable(#[source] InventoryError),
    /// Anything else the inventory refused that no page expects: a bug to look at.
    #[error("unexpected refusal")]
    Unexpected(#[source] InventoryError),
}

impl From<Refusal> for PageError {
    fn from(refusal: Refusal) -> PageError {
        PageError::Refused(refusal)
    }
}

impl From<InventoryError> for PageError {
    fn from(error: InventoryError) -> PageError {
        match error {
            InventoryError::Store(_) => PageError::Unavailable(error),
            other => PageError::Unexpected(other),
        }
    }
}

impl From<crate::inventory::accounts::AccountError> for PageError {
    fn from(error: crate::inventory::accounts::AccountError) -> PageError {
        InventoryError::from(error).into()
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
            PageError::Refused(refusal) => refusal.into_response(),
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
            InventoryError::NotListed { .. } => {
                ApiError::new(StatusCode::CONFLICT, "not_listed", message)
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
            InventoryError::Checkout(CheckoutError::SignInRequired) => {
                ApiError::new(StatusCode::FORBIDDEN, "sign_in_required", message)
            }
            InventoryError::Checkout(CheckoutError::VerificationRequired) => {
                ApiError::new(StatusCode::FORBIDDEN, "verification_required", message)
            }
            InventoryError::Checkout(CheckoutError::LimitReached { .. }) => {
                ApiError::new(StatusCode::CONFLICT, "limit_reached", message)
            }
            InventoryError::Checkout(CheckoutError::NotAdmitted(_)) => {
                ApiError::new(StatusCode::FORBIDDEN, "not_admitted", message)
            }
            InventoryError::Account(error) => {
                tracing::error!(error = %ErrorChain(&error), "admin API failed: account");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "something went wrong; try again",
                )
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
