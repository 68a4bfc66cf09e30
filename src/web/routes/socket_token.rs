//! `GET /session/token`: a fresh socket token for a page that has been open longer than its
//! token lives (authenticated by the session cookie).

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use crate::config::LimitedAction;
use crate::domain::Shopper;
use crate::html::pages::layout::PageMeta;
use crate::web::AppState;
use crate::web::edge::client::ClientAddr;
use crate::web::edge::error::{Audience, Refusal};

/// The caller adds the session layer.
pub fn router() -> Router<AppState> {
    Router::new().route("/session/token", get(token))
}

/// `GET /session/token`: a fresh socket token for a page that has been open longer than its
/// token lives.
async fn token(
    State(state): State<AppState>,
    shopper: Shopper,
    ClientAddr(client): ClientAddr,
) -> Result<axum::Json<serde_json::Value>, Refusal> {
    let limited = Some(shopper.cart_id.as_str());
    state
        .limits
        .check(LimitedAction::Token, client, limited, Audience::Api)?;
    let meta = PageMeta::new(&state.tokens, &shopper);
    Ok(axum::Json(
        serde_json::json!({ "token": meta.socket_token, "cart_id": meta.cart_id }),
    ))
}
