//! A drop's waiting line on its own page: the shopper's place, live with the shim and
//! refreshing itself without it.

use maud::{Markup, html};

use super::layout::{Meta, PageMeta, page};
use crate::domain::Product;

/// Without JavaScript the page reloads this often to show the place.
pub const REFRESH_SECONDS: u32 = 5;

pub fn show(meta: &PageMeta, product: &Product, panel: Markup) -> Markup {
    page(
        &format!("Line for {} {}", product.brand, product.name),
        Meta::Shopper(meta),
        html! {
            noscript { meta http-equiv="refresh" content=(REFRESH_SECONDS); }
            section.checkout.line-page data-line-product=(product.id) {
                h1 { (product.brand) " " (product.name) }
                (panel)
                a.button href=(format!("/products/{}", product.id)) { "Go to the drop" }
            }
        },
    )
}
