//! The payment provider's side of the store: Stripe's webhook. A delivery is believed only
//! with a valid `Stripe-Signature` within Stripe's tolerance; anything else is refused with the
//! store's JSON and changes nothing. The inventory service does the rest.

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::config::LimitedAction;
use crate::error_chain::ErrorChain;
use crate::inventory::payments::{Delivery, WebhookError};
use crate::web::AppState;
use crate::web::edge::client::ClientAddr;
use crate::web::edge::error::{ApiError, Audience, Refusal};
use crate::web::edge::extract::read_body;

/// Stripe's events are a few KiB; this leaves room and refuses floods of bytes.
const MAX_EVENT: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/payments/stripe/webhook", post(stripe_webhook))
}

async fn stripe_webhook(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    request: Request,
) -> Result<Response, Refusal> {
    state
        .limits
        .check(LimitedAction::Webhook, client, None, Audience::Api)?;
    let signature = request
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = read_body(request, &state, MAX_EVENT).await?;
    Ok(
        match state.inventory.stripe_webhook(&body, &signature).await {
            Ok(delivery) => Json(json!({
                "received": true,
                "settled": delivery == Delivery::Settled,
            }))
            .into_response(),
            Err(WebhookError::NotStripe) => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "this store takes no Stripe webhooks",
            )
            .into_response(),
            Err(WebhookError::Signature(why)) => {
                tracing::warn!(%client, reason = %why, "webhook refused: bad signature");
                ApiError::new(StatusCode::BAD_REQUEST, "bad_signature", why.to_string())
                    .into_response()
            }
            Err(WebhookError::Unreadable) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_event",
                "the event is not a Stripe event",
            )
            .into_response(),
            // Stripe retries a delivery that was not answered 2xx: so does this one, later.
            Err(WebhookError::Pay(error)) => {
                tracing::warn!(error = %ErrorChain(&error), "webhook not settled; Stripe will retry");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the store cannot settle this payment now; try again",
                )
                .into_response()
            }
        },
    )
}
