//! Shopper pages.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;

use super::AppState;
use super::cart::{flash_text, read_cart};
use super::error::PageError;
use super::session::{PageMeta, Session};
use super::views::layout;
use crate::views::{cart, product};

#[derive(Deserialize, Default)]
pub struct Flash {
    cart_error: Option<String>,
}

/// The cart panel and the flash, as every shopper page shows them.
fn cart_and_flash(
    state: &AppState,
    headers: &HeaderMap,
    meta: &mut PageMeta,
    flash: &Flash,
) -> (Markup, Markup) {
    let cart = read_cart(state, headers);
    meta.cart_count = cart.len();
    let lines = state.inventory.read(|catalog| cart::lines(catalog, &cart));
    let flash = flash.cart_error.as_deref().and_then(flash_text);
    (
        cart::cart_panel(&lines, Some(&meta.csrf_token)),
        html! { @if let Some(text) = flash { div #flash .notice.notice--error role="alert" { (text) } } },
    )
}

pub async fn index(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Query(flash): Query<Flash>,
) -> Markup {
    let now = Utc::now();
    let mut meta = PageMeta::new(&state.live.tokens, &session);
    let csrf = Some(meta.csrf_token.as_str());
    let grid = state.inventory.read(|catalog| {
        html! { @for p in catalog.products() { (product::product_card(p, now, csrf)) } }
    });
    let (cart_panel, flash) = cart_and_flash(&state, &headers, &mut meta, &flash);
    layout::page(
        "Live drops",
        layout::Tokens::Shopper(&meta),
        html! {
            (flash)
            section.hero {
                h1.hero__title { "Live drops" }
                p.hero__lead { "Sizes update live as pairs sell. First come, first served." }
            }
            div.shop {
                div.product-grid { (grid) }
                (cart_panel)
            }
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(flash): Query<Flash>,
) -> Result<Markup, PageError> {
    let now = Utc::now();
    let mut meta = PageMeta::new(&state.live.tokens, &session);
    let csrf = Some(meta.csrf_token.as_str());
    let not_found = || PageError::NotFound("that product".into());
    let id: i32 = id.parse().map_err(|_| not_found())?;
    let (name, body) = state
        .inventory
        .read(|catalog| {
            catalog.product(id).map(|p| {
                (
                    format!("{} {}", p.brand, p.name),
                    product::product_detail(p, now, csrf),
                )
            })
        })
        .ok_or_else(not_found)?;
    let (cart_panel, flash) = cart_and_flash(&state, &headers, &mut meta, &flash);
    Ok(layout::page(
        &name,
        layout::Tokens::Shopper(&meta),
        html! {
            (flash)
            div.shop {
                div { (body) }
                (cart_panel)
            }
        },
    ))
}

pub async fn not_found() -> PageError {
    PageError::NotFound("that page".into())
}
