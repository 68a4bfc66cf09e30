//! Checkout: the review of the cart and the placed order.

use maud::{Markup, html};

use super::layout::{Meta, PageMeta, page};
use crate::domain::money::format_cents;
use crate::domain::order::Order;
use crate::html::fragments::cart::{CartLine, total_cents};

/// A checkout refused by a product's limit per customer.
pub struct LimitNotice {
    pub product: String,
    pub max: u32,
}

pub fn review(
    meta: &PageMeta,
    lines: &[CartLine],
    gone: &[String],
    limit: Option<&LimitNotice>,
) -> Markup {
    let buyable: Vec<&CartLine> = lines.iter().filter(|l| !l.sold_out).collect();
    page(
        "Checkout",
        Meta::Shopper(meta),
        html! {
            section.checkout {
                h1 { "Checkout" }
                @if !gone.is_empty() {
                    div.notice.notice--error role="alert" {
                        p { "Sorry, these pairs sold out before your order went through, so nothing was charged. We took them out of your cart:" }
                        ul { @for name in gone { li { (name) } } }
                    }
                }
                @if let Some(limit) = limit {
                    div #limit-notice .notice.notice--error role="alert" {
                        p { (limit.product) " is limited to " (limit.max) " per customer, and this order would go past it (pairs you already bought count). Nothing was charged: remove a pair of it to check out." }
                    }
                }
                @if lines.is_empty() {
                    p.cart-empty { "Your cart is empty. Pick a size on a drop to add a pair." }
                    a.button.button--primary href="/" { "Browse the drops" }
                } @else {
                    table.table.checkout__lines {
                        thead { tr { th { "Pair" } th { "Size" } th { "Price" } } }
                        tbody {
                            @for line in lines {
                                tr.cart-line--sold-out[line.sold_out] data-item-id=(line.item_id) data-sold-out[line.sold_out] {
                                    td {
                                        (line.brand) " " (line.name)
                                        @if line.sold_out {
                                            " " span.badge.badge--out { "Sold out" }
                                            form method="post" action=(format!("/cart/items/{}/delete", line.item_id)) {
                                                input type="hidden" name="_csrf_token" value=(meta.csrf_token);
                                                button type="submit" { "Remove" }
                                            }
                                        }
                                    }
                                    td { (line.size) }
                                    td { (format_cents(line.price_cents.into())) }
                                }
                            }
                        }
                    }
                    p.checkout__total { "Total " strong { (format_cents(total_cents(lines))) } }
                    @if buyable.is_empty() {
                        p.notice.notice--error { "Every pair in your cart has sold out." }
                    } @else {
                        form method="post" action="/checkout" {
                            input type="hidden" name="_csrf_token" value=(meta.csrf_token);
                            button.button.button--primary type="submit" {
                                "Buy " (buyable.len()) @if buyable.len() == 1 { " pair" } @else { " pairs" }
                                " · " (format_cents(total_cents(lines)))
                            }
                        }
                        @if buyable.len() < lines.len() {
                            p.checkout__hint { "A cart with a sold-out pair buys nothing: remove the sold-out pairs, or buying takes them out for you and stops so you can check the rest." }
                        }
                    }
                    a.back-link href="/" { "← Keep shopping" }
                }
            }
        },
    )
}

pub fn complete(meta: &PageMeta, order: &Order) -> Markup {
    page(
        "Order placed",
        Meta::Shopper(meta),
        html! {
            section.order-complete {
                h1 { "Order placed" }
                p { "Thank you! Your order number is " strong.order-number { "#" (order.id) } "." }
                table.table {
                    thead { tr { th { "Pair" } th { "Size" } th { "Price" } } }
                    tbody {
                        @for pair in &order.lines {
                            tr { td { (pair.brand) " " (pair.name) } td { (pair.size) } td { (format_cents(pair.price_cents.into())) } }
                        }
                    }
                }
                p.checkout__total { "Total " strong.order-total { (format_cents(order.total_cents.into())) } }
                a.button.button--primary href="/" { "Back to the drops" }
            }
        },
    )
}
