//! Shopper pages.

use axum::extract::{Path, State};
use chrono::Utc;
use maud::{Markup, html};

use super::AppState;
use super::error::PageError;
use super::session::{PageMeta, Session};
use super::views::layout;
use crate::views::{cart, product};

pub async fn index(State(state): State<AppState>, session: Session) -> Markup {
    let now = Utc::now();
    let meta = PageMeta::new(&state.live.tokens, &session);
    let csrf = Some(meta.csrf_token.as_str());
    let grid = state.inventory.read(|catalog| {
        html! { @for p in catalog.products() { (product::product_card(p, now, csrf)) } }
    });
    layout::page(
        "Live drops",
        Some(&meta),
        html! {
            section.hero {
                h1.hero__title { "Live drops" }
                p.hero__lead { "Sizes update live as pairs sell. First come, first served." }
            }
            div.shop {
                div.product-grid { (grid) }
                (cart::cart_panel())
            }
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    let now = Utc::now();
    let meta = PageMeta::new(&state.live.tokens, &session);
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
    Ok(layout::page(
        &name,
        Some(&meta),
        html! {
            div.shop {
                div { (body) }
                (cart::cart_panel())
            }
        },
    ))
}

pub async fn not_found() -> PageError {
    PageError::NotFound("that page".into())
}
