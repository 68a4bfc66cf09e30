//! Waiting lines over HTTP: `POST /products/:id/line` joins (a verified account only),
//! `GET /products/:id/line` shows the shopper's place (live with the shim, refreshing itself
//! without it).

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use chrono::Utc;
use maud::Markup;

use super::cart::CartForm;
use crate::config::LimitedAction;
use crate::domain::ProductId;
use crate::domain::Shopper;
use crate::domain::line::shuffle_key;
use crate::html::fragments::line::queue_panel;
use crate::html::pages::layout::PageMeta;
use crate::html::pages::line as view;
use crate::web::edge::client::ClientAddr;
use crate::web::edge::csrf::check_csrf;
use crate::web::edge::error::{Audience, PageError};
use crate::web::edge::extract::{Form, Path};
use crate::web::{AppState, see_other};

/// Line routes; the caller adds the session layer.
pub fn router() -> Router<AppState> {
    Router::new().route("/products/{id}/line", get(show).post(join))
}

fn lined_product(state: &AppState, id: &str) -> Result<ProductId, PageError> {
    let not_found = || PageError::NotFound("a waiting line for that product".into());
    let id: ProductId = id.parse().map_err(|_| not_found())?;
    state
        .inventory
        .read(|c| c.product(id).and_then(|p| p.line_per_minute.map(|_| p.id)))
        .ok_or_else(not_found)
}

/// The shopper's panel for a lined product, as pages show it.
pub fn panel(state: &AppState, shopper: &Shopper, product_id: ProductId) -> Option<Markup> {
    let place = state.inventory.place(product_id, &shopper.cart_id);
    let csrf = state.tokens.csrf_for(&shopper.cart_id);
    let window = state.inventory.admission_window();
    state.inventory.read(|c| {
        let product = c.product(product_id)?;
        product.line_per_minute?;
        Some(queue_panel(product, place, Utc::now(), window, Some(&csrf)))
    })
}

async fn join(
    State(state): State<AppState>,
    shopper: Shopper,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CartForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &shopper, &headers, form.csrf_token())?;
    let product_id = lined_product(&state, &id)?;
    // A place is a verified account's: guests and unverified accounts are sent to fix that
    // first (a crowd of fresh sessions or fake accounts takes no places). An account's
    // browsers share its cart id, so it holds one place.
    let Some(account) = shopper.account else {
        return Ok(see_other(format!(
            "/account/login?next=/products/{product_id}"
        )));
    };
    let verified = state
        .inventory
        .account(account)
        .await?
        .is_some_and(|a| a.verified);
    if !verified {
        return Ok(see_other("/account?verify=needed"));
    }
    let limited = Some(shopper.cart_id.as_str());
    state
        .limits
        .check(LimitedAction::Line, client, limited, Audience::Page)?;
    let key = shuffle_key(&state.tokens.line_draw, product_id, &shopper.cart_id);
    state
        .inventory
        .join_line(product_id, &shopper.cart_id, &key)
        .await?;
    Ok(see_other(format!("/products/{product_id}/line")))
}

async fn show(
    State(state): State<AppState>,
    shopper: Shopper,
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    let product_id = lined_product(&state, &id)?;
    // Watching the line page (it refreshes itself without JavaScript) keeps the place.
    state
        .inventory
        .touch_places(std::slice::from_ref(&shopper.cart_id))
        .await?;
    let panel = panel(&state, &shopper, product_id)
        .ok_or_else(|| PageError::NotFound("a waiting line for that product".into()))?;
    let meta = PageMeta::new(&state.tokens, &shopper);
    state
        .inventory
        .read(|c| c.product(product_id).map(|p| view::show(&meta, p, panel)))
        .ok_or_else(|| PageError::NotFound("that product".into()))
}
