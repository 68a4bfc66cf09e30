//! Shopper pages.

use axum::extract::{Path, State};
use chrono::Utc;
use maud::{Markup, html};

use super::AppState;
use super::error::PageError;
use super::views::{cart, layout, product};

pub async fn index(State(state): State<AppState>) -> Markup {
    let now = Utc::now();
    let grid = state.inventory.read(|catalog| {
        html! { @for p in catalog.products() { (product::product_card(p, now, None)) } }
    });
    layout::page(
        "Live drops",
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
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    let now = Utc::now();
    let not_found = || PageError::NotFound("that product".into());
    let id: i32 = id.parse().map_err(|_| not_found())?;
    let (name, body) = state
        .inventory
        .read(|catalog| {
            catalog.product(id).map(|p| {
                (
                    format!("{} {}", p.brand, p.name),
                    product::product_detail(p, now, None),
                )
            })
        })
        .ok_or_else(not_found)?;
    Ok(layout::page(
        &name,
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
