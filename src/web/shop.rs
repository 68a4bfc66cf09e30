//! The shopper's pages: `GET /` and `GET /products/:id`, rendered from the inventory cache.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use chrono::Utc;
use maud::Markup;
use serde::Deserialize;

use super::AppState;
use super::cart::read_cart;
use super::error::PageError;
use super::session::Session;
use crate::domain::{CartError, ProductId};
use crate::html::fragments::cart::{CartLine, lines};
use crate::html::pages::layout::PageMeta;
use crate::html::pages::shop;

/// Shopper routes; the caller adds the session layer.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/products/{id}", get(show))
}

#[derive(Deserialize, Default)]
pub struct Flash {
    cart_error: Option<String>,
}

impl Flash {
    fn error(&self) -> Option<CartError> {
        self.cart_error.as_deref().and_then(CartError::from_code)
    }
}

/// The session's tokens and the cart as this request carries it.
fn meta_and_cart(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
) -> (PageMeta, Vec<CartLine>) {
    let cart = read_cart(state, headers);
    let mut meta = PageMeta::new(&state.tokens, &session.cart_id);
    meta.cart_count = cart.len();
    let lines = state.inventory.read(|catalog| lines(catalog, &cart));
    (meta, lines)
}

async fn index(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Query(flash): Query<Flash>,
) -> Markup {
    let (meta, cart) = meta_and_cart(&state, &session, &headers);
    state
        .inventory
        .read(|catalog| shop::index(&meta, catalog, Utc::now(), &cart, flash.error()))
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(flash): Query<Flash>,
) -> Result<Markup, PageError> {
    let not_found = || PageError::NotFound("that product".into());
    let id: ProductId = id.parse().map_err(|_| not_found())?;
    let (meta, cart) = meta_and_cart(&state, &session, &headers);
    state
        .inventory
        .read(|catalog| {
            let product = catalog.product(id)?;
            Some(shop::product(
                &meta,
                product,
                Utc::now(),
                &cart,
                flash.error(),
            ))
        })
        .ok_or_else(not_found)
}

pub async fn not_found() -> PageError {
    PageError::NotFound("that page".into())
}
