//! The cart panel (`#cart`), swapped whole on every cart change, and the checkout lines. A
//! carted pair is held for the shopper: each line counts down to the end of its hold. A hold
//! that ended unpaid stays as a warning line (`data-hold-ended`, and `data-sold-out` once the
//! pair is gone) until the shopper removes it or holds the pair again.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::countdown::countdown;
use super::product::Csrf;
use crate::domain::cart_line::{EndedHold, Standing};
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
    /// Its hold ended unpaid: the line is a warning, not a pair of the shopper's.
    pub ended: bool,
}

impl CartLine {
    pub fn standing(&self) -> Standing {
        if self.ended {
            Standing::Ended {
                sold_out: self.sold_out,
            }
        } else {
            Standing::Held
        }
    }
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
                ended: false,
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
                ended: false,
            })
        })
        .collect()
}

/// The lines a cart shows: its holds, then the holds that ended unpaid in it, each marked sold
/// out when nobody can hold its pair now.
pub fn cart_lines(catalog: &Catalog, holds: &[Hold], ended: &[EndedHold]) -> Vec<CartLine> {
    let mut lines = held_lines(catalog, holds);
    lines.extend(ended.iter().filter_map(|gone| {
        let (product, item) = catalog.item(gone.item_id)?;
        Some(CartLine {
            item_id: gone.item_id,
            product_id: product.id,
            brand: product.brand.clone(),
            name: product.name.clone(),
            size: item.size.clone(),
            price_cents: gone.price_cents,
            image: product.main_image_url.clone(),
            sold_out: item.available_count == 0,
            held_until_ms: None,
            ended: true,
        })
    }));
    lines
}

/// The cart token's copy of what a cart shows (its holds and its ended lines), so a page knows
/// whether there is anything to look up.
pub fn copy_of(holds: &[Hold], ended: &[EndedHold]) -> Cart {
    let mut cart = cart_of(holds);
    for gone in ended {
        // A full copy only means a page looks the cart up: nothing is lost.
        let _ = cart.add(gone.item_id);
    }
    cart
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

/// The pairs the shopper holds: what the cart counts.
pub fn held_count(lines: &[CartLine]) -> usize {
    lines.iter().filter(|l| !l.ended).count()
}

/// What is still buyable: the pairs held.
pub fn total_cents(lines: &[CartLine]) -> i64 {
    lines
        .iter()
        .filter(|l| !l.sold_out && !l.ended)
        .map(|l| i64::from(l.price_cents))
        .sum()
}

pub fn cart_panel(lines: &[CartLine], csrf: Csrf) -> Markup {
    let count = held_count(lines);
    let buyable = lines.iter().any(|l| !l.sold_out && !l.ended);
    let all_gone = lines.iter().all(|l| l.sold_out);
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
                } @else if all_gone {
                    p.notice.notice--error { "Every pair in your cart has sold out." }
                } @else {
                    p.notice.notice--error { "Nothing in your cart is held for you now: hold a pair again to check out." }
                }
            }
        }
    }
}

fn cart_line(line: &CartLine, csrf: Csrf) -> Markup {
    if line.ended {
        return ended_line(line, csrf);
    }
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

/// A hold that ended unpaid: the pair is on sale again (a button holds it again), or sold out.
fn ended_line(line: &CartLine, csrf: Csrf) -> Markup {
    html! {
        li.cart-line.cart-line--ended.cart-line--sold-out[line.sold_out] data-item-id=(line.item_id)
            data-hold-ended data-sold-out[line.sold_out] {
            img.cart-line__img src=(line.image) alt="" width="60" height="40";
            div.cart-line__info {
                span.cart-line__name { (line.brand) " " (line.name) }
                span.cart-line__meta { "Size " (line.size) " · " (format_cents(line.price_cents.into())) }
                @if line.sold_out {
                    span.badge.badge--out { "Sold out" }
                } @else {
                    span.cart-line__ended { "Your hold ended: the pair is back on sale." }
                    form.cart-line__again method="post" action="/cart/items" data-submit="add_item" {
                        @if let Some(token) = csrf { input type="hidden" name="_csrf_token" value=(token); }
                        input type="hidden" name="item_id" value=(line.item_id);
                        button type="submit" aria-label=(format!("Hold size {} again", line.size)) { "Hold again" }
                    }
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
/// sale again and the next cart push turns the line into a warning).
pub fn held_for_you(until: DateTime<Utc>) -> Markup {
    html! {
        span.cart-line__hold data-hold-until=(until.timestamp_millis()) {
            "Held for you, ends "
            (countdown(until, Utc::now(), "now: it is back on sale", None))
        }
    }
}
