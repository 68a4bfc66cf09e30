//! The shopper's pages: every drop (`/`) and one product (`/products/:id`), each beside the
//! cart panel. The panel and the flash come rendered (they are each visitor's own; the rest of
//! the page is shared by every visitor of a catalog version).

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::layout::{Meta, PageMeta, page};
use crate::domain::{CartError, Catalog, Product};
use crate::html::fragments::product::{product_card, product_detail};

/// The flash a refused cart change left (`?cart_error=<code>`).
pub fn flash(error: Option<CartError>) -> Markup {
    html! {
        @if let Some(error) = error {
            div #flash .notice.notice--error role="alert" { (error.to_string()) }
        }
    }
}

pub fn index(
    meta: &PageMeta,
    catalog: &Catalog,
    now: DateTime<Utc>,
    cart_panel: Markup,
    flash: Markup,
) -> Markup {
    let csrf = Some(meta.csrf_token.as_str());
    page(
        "Live drops",
        Meta::Shopper(meta),
        html! {
            (flash)
            section.hero {
                h1.hero__title { "Live drops" }
                p.hero__lead { "Sizes update live as pairs sell. First come, first served." }
            }
            div.shop {
                div.product-grid {
                    @for p in catalog.products().filter(|p| p.listed()) { (product_card(p, now, csrf)) }
                }
                (cart_panel)
            }
        },
    )
}

pub fn product(
    meta: &PageMeta,
    product: &Product,
    now: DateTime<Utc>,
    cart_panel: Markup,
    flash: Markup,
) -> Markup {
    let csrf = Some(meta.csrf_token.as_str());
    page(
        &format!("{} {}", product.brand, product.name),
        Meta::Shopper(meta),
        html! {
            (flash)
            div.shop {
                div { (product_detail(product, now, csrf)) }
                (cart_panel)
            }
        },
    )
}
