//! An entry or withdrawal the store refused: what to fix, in the shopper's words, with the way
//! back to the drop.

use maud::{Markup, html};

use super::layout::{Meta, PageMeta, page};
use crate::domain::Product;

pub fn refused(meta: &PageMeta, product: &Product, title: &str, reasons: &[String]) -> Markup {
    page(
        title,
        Meta::Shopper(meta),
        html! {
            section.checkout.draw-refused data-draw-product=(product.id) {
                h1 { (title) }
                div #draw-error .notice.notice--error role="alert" {
                    @for reason in reasons { p { (reason) } }
                }
                a.button.button--primary href=(format!("/products/{}", product.id)) {
                    "Back to the " (product.brand) " " (product.name) " draw"
                }
            }
        },
    )
}
