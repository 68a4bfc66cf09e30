//! The cart panel (`#cart`), swapped whole on every cart change, and the checkout lines. A
//! carted pair is held for the shopper: each line counts down to the end of its hold.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::countdown::countdown;
use super::product::Csrf;
use crate::domain::hold::Hold;
use crate::domain::money::format_cents;
use crate::domain::{Cart, Catalog, ItemId, ProductId};

/// A cart line's picture is 60 CSS pixels wide: the narrowest encoded size covers it twice.
const CART_IMAGE_WIDTH: u32 = 120;

/// One pair in a cart, as a shopper reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub item_id: ItemId,
    pub product_id: ProductId,
    pub brand: String,
    pub name: String,
    pub size: String,
    pub price_cents: i32,
    pub image: String,
    pub sold_out: bool,
    /// When the shopper's hold of this pair ends (Unix ms), if it is held.
    pub held_until_ms: Option<i64>,
}

pub fn lines(catalog: &Catalog, cart: &Cart) -> Vec<CartLine> {
    cart.items()
        .iter()
        .filter_map(|&id| {
            let (product, item) = catalog.item(id)?;
            Some(CartLine {
                item_id: id,
                product_id: product.id,
                brand: product.brand.clone(),
                name: product.name.clone(),
                size: item.size.clone(),
                price_cents: product.price_cents,
                image: product.image_url(CART_IMAGE_WIDTH),
                sold_out: item.available_count == 0,
                held_until_ms: None,
            })
        })
        .collect()
}

/// The lines of a shopper's holds (oldest first): a held pair is the shopper's until its hold
/// ends, whatever the stock does meanwhile, so it is never shown sold out.
pub fn held_lines(catalog: &Catalog, holds: &[Hold]) -> Vec<CartLine> {
    holds
        .iter()
        .filter_map(|hold| {
            let (product, item) = catalog.item(hold.item_id)?;
            Some(CartLine {
                item_id: hold.item_id,
                product_id: product.id,
                brand: product.brand.clone(),
                name: product.name.clone(),
                size: item.size.clone(),
                price_cents: hold.price_cents,
                image: product.image_url(CART_IMAGE_WIDTH),
                sold_out: false,
                held_until_ms: Some(hold.expires_at_ms),
            })
        })
        .collect()
}

/// The cart token's copy of what a shopper holds.
pub fn cart_of(holds: &[Hold]) -> Cart {
    let mut cart = Cart::default();
    for hold in holds {
        // A shopper holds one of each pair and at most a cart's worth: nothing is refused.
        let _ = cart.add(hold.item_id);
    }
    cart
}

/// What is still buyable.
pub fn total_cents(lines: &[CartLine]) -> i64 {
    lines
        .iter()
        .filter(|l| !l.sold_out)
        .map(|l| i64::from(l.price_cents))
        .sum()
}

pub fn cart_panel(lines: &[CartLine], csrf: Csrf) -> Markup {
    let count = lines.len();
    let buyable = lines.iter().any(|l| !l.sold_out);
    html! {
        aside #cart .cart-panel data-count=(count) {
            h2.cart-panel__title { "Your cart " span.cart-panel__count { (count) } }
            @if lines.is_empty() {
                p.cart-empty { "Your cart is empty. Pick a size to add a pair." }
            } @else {
                ul.cart-lines {
                    @for line in lines { (cart_line(line, csrf)) }
                }
                p.cart-total { "Total " strong { (format_cents(total_cents(lines))) } }
                @if buyable {
                    a.button.button--primary.cart-panel__checkout href="/checkout" { "Checkout" }
                } @else {
                    p.notice.notice--error { "Every pair in your cart has sold out." }
                }
            }
        }
    }
}

fn cart_line(line: &CartLine, csrf: Csrf) -> Markup {
    html! {
        li.cart-line.cart-line--sold-out[line.sold_out] data-item-id=(line.item_id) data-sold-out[line.sold_out] {
            img.cart-line__img src=(line.image) alt="" width="60" height="40";
            div.cart-line__info {
                span.cart-line__name { (line.brand) " " (line.name) }
                span.cart-line__meta { "Size " (line.size) " · " (format_cents(line.price_cents.into())) }
                @if line.sold_out { span.badge.badge--out { "Sold out" } }
                @if let Some(until) = line.held_until_ms.and_then(DateTime::from_timestamp_millis) {
                    (held_for_you(until))
                }
            }
            form.cart-line__remove method="post" action=(format!("/cart/items/{}/delete", line.item_id))
                data-submit="remove_item" {
                @if let Some(token) = csrf { input type="hidden" name="_csrf_token" value=(token); }
                input type="hidden" name="item_id" value=(line.item_id);
                button type="submit" aria-label=(format!("Remove size {} from the cart", line.size)) { "×" }
            }
        }
    }
}

/// "Held for you: 9:59 left": the hold's countdown (the shim ticks it; at zero the pair is on
/// sale again and the next cart push drops the line).
pub fn held_for_you(until: DateTime<Utc>) -> Markup {
    html! {
        span.cart-line__hold data-hold-until=(until.timestamp_millis()) {
            "Held for you, ends "
            (countdown(until, Utc::now(), "now: it is back on sale", None))
        }
    }
}
