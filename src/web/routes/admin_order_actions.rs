//! An admin moves an order on: `POST /admin/orders/:id/fulfil` (`tracking`, optional) marks it
//! shipped, `POST /admin/orders/:id/refund` (`restock` 0/1) gives the money back through the
//! provider (and, with `restock=1`, the pairs back to stock, live), `POST /admin/orders/:id/cancel`
//! ends an unpaid one (its holds go back). A move the order's state does not allow is 409 with
//! the state it is in; every move is in the order's history. JSON answers, or back to the
//! orders list for a browser's form.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;

use crate::domain::order::Change;
use crate::inventory::payments::PayError;
use crate::web::AppState;
use crate::web::edge::auth::Admin;
use crate::web::edge::error::ApiError;
use crate::web::edge::extract::{Body, Path};

/// Who the history names for a move made over HTTP Basic or a staff session.
const ACTOR: &str = "admin";
/// A tracking number is a carrier's code, not prose.
const MAX_TRACKING: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/orders/{id}/fulfil", post(fulfil))
        .route("/admin/orders/{id}/refund", post(refund))
        .route("/admin/orders/{id}/cancel", post(cancel))
}

#[derive(Deserialize, Default)]
struct MoveForm {
    tracking: Option<String>,
    restock: Option<String>,
}

fn order_id(id: &str) -> Result<i32, ApiError> {
    id.parse().map_err(|_| not_found(id))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no order {id:?}"),
    )
}

fn form(body: &[u8]) -> Result<MoveForm, ApiError> {
    serde_urlencoded::from_bytes(body).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_form",
            "the body must be a form (tracking=..., restock=0|1)",
        )
    })
}

fn pay_error(id: i32, error: PayError) -> ApiError {
    match error {
        PayError::NotPayable(_) => ApiError::new(
            StatusCode::CONFLICT,
            "not_allowed",
            format!("order {id} cannot be moved so from the state it is in"),
        ),
        PayError::Provider(error) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_failed",
            format!("the payment provider failed: {error}"),
        ),
        PayError::Inventory(error) => error.into(),
    }
}

/// The answer of a move: JSON, or back to the orders list for a browser's form.
fn moved(headers: &HeaderMap, id: i32, state: &str) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        let back = format!("/admin/orders?q={id}");
        (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response()
    } else {
        axum::Json(json!({ "order_id": id, "state": state })).into_response()
    }
}

async fn change(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    change: Change,
    note: Option<&str>,
) -> Result<Response, ApiError> {
    let order = order_id(id)?;
    match state
        .inventory
        .change_order(order, change, ACTOR, note)
        .await
        .map_err(|e| pay_error(order, e))?
    {
        Ok(()) => {
            let done = match change {
                Change::Fulfil => "fulfilled",
                _ => "cancelled",
            };
            Ok(moved(headers, order, done))
        }
        Err(from) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_allowed",
            format!(
                "order {order} is {from}: it cannot be {}",
                change_word(change)
            ),
        )),
    }
}

fn change_word(change: Change) -> &'static str {
    match change {
        Change::Fulfil => "shipped",
        Change::Cancel => "cancelled",
        Change::Refund => "refunded",
        Change::Pay => "paid",
    }
}

async fn fulfil(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let form = form(&body)?;
    let tracking = form
        .tracking
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if tracking.is_some_and(|t| t.chars().count() > MAX_TRACKING || t.chars().any(char::is_control))
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_tracking",
            format!("a tracking number is at most {MAX_TRACKING} characters on one line"),
        ));
    }
    let note = tracking.map(|t| format!("tracking {t}"));
    change(&state, &headers, &id, Change::Fulfil, note.as_deref()).await
}

async fn cancel(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    change(&state, &headers, &id, Change::Cancel, None).await
}

async fn refund(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let form = form(&body)?;
    let restock = match form.restock.as_deref().map(str::trim) {
        None | Some("" | "0") => false,
        Some("1") => true,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_restock",
                "restock is 0 (keep the pairs out) or 1 (back to stock)",
            ));
        }
    };
    let order = order_id(&id)?;
    state
        .inventory
        .refund_order(order, ACTOR, restock)
        .await
        .map_err(|e| pay_error(order, e))?;
    Ok(moved(&headers, order, "refunded"))
}
