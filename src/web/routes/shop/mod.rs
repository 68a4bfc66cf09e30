//! The shopper's pages: `GET /` and `GET /products/:id`. The catalog part is a template shared
//! by every visitor until what it shows changes (`cache`); each answer fills in the
//! visitor's own tokens, cart panel and flash, gzipped by splicing when the browser takes it.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use maud::PreEscaped;
use serde::Deserialize;

use super::cart::read_lines;
use crate::web::AppState;
use crate::web::edge::error::PageError;
use crate::web::edge::extract::{Path, Query};
pub mod cache;
pub mod template;

use self::cache::{PageKey, Rendered};
use self::template::{Fill, Slot, Template, accepts_gzip, marker};
use crate::domain::Shopper;
use crate::domain::{CartError, Catalog, Product, ProductId};
use crate::html::fragments::cart::{cart_lines, cart_panel, held_count};
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

/// The page meta of a template: markers where each visitor's values go.
fn template_meta() -> PageMeta {
    PageMeta {
        cart_id: marker(Slot::CartId).into(),
        socket_token: marker(Slot::SocketToken).into(),
        csrf_token: marker(Slot::Csrf).into(),
        cart_count: marker(Slot::CartCount).into(),
    }
}

fn slot(slot: Slot) -> maud::Markup {
    PreEscaped(marker(slot).to_string())
}

/// A countdown on the page means it changes every second.
fn ticks(product: &Product) -> bool {
    !product.released && product.release_at.is_some()
}

fn render_index(catalog: &Catalog, now: DateTime<Utc>) -> Rendered {
    let html = shop::index(
        &template_meta(),
        catalog,
        now,
        slot(Slot::CartPanel),
        slot(Slot::Flash),
    );
    Rendered {
        html: html.into_string(),
        ticking: catalog.products().any(ticks),
    }
}

fn render_product(product: &Product, now: DateTime<Utc>) -> Rendered {
    let html = shop::product(
        &template_meta(),
        product,
        now,
        slot(Slot::CartPanel),
        slot(Slot::Flash),
    );
    Rendered {
        html: html.into_string(),
        ticking: ticks(product),
    }
}

async fn index(
    State(state): State<AppState>,
    shopper: Shopper,
    headers: HeaderMap,
    Query(flash): Query<Flash>,
) -> Result<Response, PageError> {
    let now = Utc::now();
    let version = state.inventory.page_version();
    let template = state
        .pages
        .get(PageKey::Index, version, now, || {
            Some(state.inventory.read(|catalog| render_index(catalog, now)))
        })
        .expect("the index always renders: its render never says there is no such page");
    answer(&state, &shopper, &headers, &flash, &template, None).await
}

async fn show(
    State(state): State<AppState>,
    shopper: Shopper,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(flash): Query<Flash>,
) -> Result<Response, PageError> {
    let not_found = || PageError::NotFound("that product".into());
    let id: ProductId = id.parse().map_err(|_| not_found())?;
    let now = Utc::now();
    let version = state.inventory.page_version();
    let template = state
        .pages
        .get(PageKey::Product(id), version, now, || {
            state.inventory.read(|catalog| {
                // Drafts and archived products are no page of the store.
                catalog
                    .product(id)
                    .filter(|p| p.listed())
                    .map(|p| render_product(p, now))
            })
        })
        .ok_or_else(not_found)?;
    answer(&state, &shopper, &headers, &flash, &template, Some(id)).await
}

/// Fills the template with this visitor's tokens, cart and flash.
async fn answer(
    state: &AppState,
    shopper: &Shopper,
    headers: &HeaderMap,
    flash: &Flash,
    template: &Template,
    product: Option<ProductId>,
) -> Result<Response, PageError> {
    let (holds, ended) = read_lines(state, shopper, headers).await?;
    let meta = PageMeta::new(&state.tokens, shopper);
    let lines = state
        .inventory
        .read(|catalog| cart_lines(catalog, &holds, &ended));
    let panel = cart_panel(&lines, Some(&meta.csrf_token)).into_string();
    let mut flash = shop::flash(flash.error()).into_string();
    // A lined drop's panel is this shopper's own place: it rides in the flash slot.
    if let Some(panel) = product.and_then(|id| super::line::panel(state, shopper, id)) {
        flash.push_str(&panel.into_string());
    }
    // So does a draw's: the window, and this shopper's entry or result.
    if let Some(id) = product
        && let Some(panel) = super::draws::panel(state, shopper, id).await?
    {
        flash.push_str(&panel.into_string());
    }
    let count = held_count(&lines).to_string();
    let fill = Fill {
        socket_token: &meta.socket_token,
        cart_id: &meta.cart_id,
        csrf: &meta.csrf_token,
        cart_count: &count,
        cart_panel: &panel,
        flash: &flash,
    };
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip);
    let body = if gzip {
        template.gzip(&fill)
    } else {
        template.plain(&fill)
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    // Each answer holds the visitor's own tokens: no shared cache may keep it.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(response)
}
