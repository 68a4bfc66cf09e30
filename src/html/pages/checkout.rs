//! Checkout: the held pairs, where to ship them and the card (the test gateway's form, or
//! Stripe's card field), and the order with its state.

use maud::{Markup, html};

use chrono::{DateTime, Utc};

use super::layout::{Meta, PageMeta, page};
use crate::domain::money::format_cents;
use crate::domain::order::{Order, OrderState};
use crate::html::assets::asset_url;
use crate::html::fragments::cart::{CartLine, total_cents};
use crate::html::fragments::countdown::countdown;

/// A checkout refused by a product's limit per customer.
pub struct LimitNotice {
    pub product: String,
    pub max: u32,
}

/// How the shopper pays on this store.
#[derive(Clone, Copy)]
pub enum Gateway<'a> {
    /// The built-in test gateway: a card form on this page, marked as test payments.
    Test,
    /// Stripe: its Elements card field (Stripe.js), whose payment method the form sends.
    Stripe {
        publishable_key: &'a str,
        script_url: &'a str,
    },
}

/// The checkout form as the shopper filled it, and what to fix.
#[derive(Default)]
pub struct Filled<'a> {
    /// Field name -> what was typed (never the card's number or code).
    pub values: Vec<(&'static str, &'a str)>,
    /// Field name -> what to fix.
    pub errors: Vec<(&'static str, &'static str)>,
    /// Why the last payment was refused (nothing was charged).
    pub declined: Option<&'static str>,
}

impl Filled<'_> {
    fn value(&self, field: &str) -> &str {
        self.values
            .iter()
            .find(|(f, _)| *f == field)
            .map_or("", |(_, v)| v)
    }

    fn error(&self, field: &str) -> Option<&'static str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| *m)
    }
}

/// The checkout page: the held pairs with their countdowns, then where to ship and how to pay.
pub struct Review<'a> {
    pub lines: &'a [CartLine],
    pub gone: &'a [String],
    pub limit: Option<&'a LimitNotice>,
    pub gateway: Gateway<'a>,
    pub filled: &'a Filled<'a>,
}

pub fn review(meta: &PageMeta, review: &Review<'_>) -> Markup {
    let Review {
        lines,
        gone,
        limit,
        gateway,
        filled,
    } = review;
    page(
        "Checkout",
        Meta::Shopper(meta),
        html! {
            section.checkout {
                h1 { "Checkout" }
                @if !gone.is_empty() {
                    div.notice.notice--error role="alert" {
                        p { "Sorry, these pairs sold out before your order went through, so nothing was charged. We took them out of your cart:" }
                        ul { @for name in gone.iter() { li { (name) } } }
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
                        thead { tr { th { "Pair" } th { "Size" } th { "Price" } th { "Held for you" } } }
                        tbody {
                            @for line in lines.iter() {
                                tr data-item-id=(line.item_id) {
                                    td { (line.brand) " " (line.name) }
                                    td { (line.size) }
                                    td { (format_cents(line.price_cents.into())) }
                                    td {
                                        @if let Some(until) = line.held_until_ms.and_then(DateTime::from_timestamp_millis) {
                                            (countdown(until, Utc::now(), "ended: the pair is back on sale", None))
                                        }
                                    }
                                }
                            }
                        }
                    }
                    p.checkout__total { "Total " strong { (format_cents(total_cents(lines))) } }
                    p.checkout__hint { "Your pairs are held while you pay: placing the order keeps them for you a while longer." }
                    @if let Some(reason) = filled.declined {
                        div #payment-error .notice.notice--error role="alert" { p { (reason) } }
                    }
                    @if !filled.errors.is_empty() {
                        div #form-errors .notice.notice--error role="alert" {
                            p { "Please check the fields marked below." }
                        }
                    }
                    form #checkout-form .checkout__form method="post" action="/checkout" novalidate {
                        input type="hidden" name="_csrf_token" value=(meta.csrf_token);
                        fieldset {
                            legend { "Where to send them" }
                            (field(filled, "email", "Email", "email", "email"))
                            (field(filled, "name", "Full name", "text", "name"))
                            (field(filled, "address_line1", "Address", "text", "address-line1"))
                            (field(filled, "address_line2", "Address line 2 (optional)", "text", "address-line2"))
                            (field(filled, "city", "City", "text", "address-level2"))
                            (field(filled, "postal_code", "Postal code", "text", "postal-code"))
                            (field(filled, "country", "Country (two letters, such as US or DE)", "text", "country"))
                        }
                        (payment(filled, *gateway))
                        button.button.button--primary type="submit" {
                            "Buy " (lines.len()) @if lines.len() == 1 { " pair" } @else { " pairs" }
                            " · " (format_cents(total_cents(lines)))
                        }
                    }
                    a.back-link href="/" { "← Keep shopping" }
                }
            }
        },
    )
}

/// One labelled input, with what to fix under it.
fn field(
    filled: &Filled<'_>,
    name: &'static str,
    label: &str,
    kind: &str,
    autocomplete: &str,
) -> Markup {
    let error = filled.error(name);
    let error_id = format!("error-{name}");
    html! {
        div.field.field--invalid[error.is_some()] {
            label for=(format!("field-{name}")) { (label) }
            input id=(format!("field-{name}")) name=(name) type=(kind) autocomplete=(autocomplete)
                value=(filled.value(name))
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| error_id.as_str())];
            @if let Some(message) = error {
                p.field__error id=(error_id) { (message) }
            }
        }
    }
}

fn payment(filled: &Filled<'_>, gateway: Gateway<'_>) -> Markup {
    match gateway {
        Gateway::Test => html! {
            fieldset #test-payments {
                legend { "Card " span.badge { "test payments" } }
                p.checkout__hint {
                    "This store takes test payments: no money moves. 4242 4242 4242 4242 pays, "
                    "4000 0000 0000 0002 is declined, 4000 0000 0000 9995 has insufficient funds."
                }
                (field(filled, "card_number", "Card number", "text", "cc-number"))
                (field(filled, "card_exp", "Expiry (MM/YY)", "text", "cc-exp"))
                (field(filled, "card_cvc", "Security code", "text", "cc-csc"))
            }
        },
        Gateway::Stripe {
            publishable_key,
            script_url,
        } => html! {
            fieldset #stripe-payment data-stripe-key=(publishable_key) {
                legend { "Card" }
                div #card-element {}
                input type="hidden" name="payment_method" value="";
                @if let Some(message) = filled.error("payment_method") {
                    p.field__error #error-payment_method { (message) }
                }
                noscript { p { "Paying by card needs JavaScript (Stripe's card field)." } }
            }
            script src=(script_url) {}
            script type="module" src=(asset_url("js/stripe_checkout.js")) {}
        },
    }
}

/// The order page: what was bought and where the order is (paid, waiting for the payment,
/// refunded...).
pub fn complete(meta: &PageMeta, order: &Order) -> Markup {
    let (title, words) = match order.state {
        OrderState::Paid | OrderState::Fulfilled => {
            ("Order placed", "Thank you! Your order is paid.")
        }
        OrderState::PendingPayment => (
            "Waiting for your payment",
            "We are waiting for your card's answer: this page shows it once it comes.",
        ),
        OrderState::Cancelled => (
            "Order cancelled",
            "This order was not paid in time, so nothing was charged and its pairs went back on sale.",
        ),
        OrderState::Refunded => (
            "Order refunded",
            "This order was refunded in full: the money is on its way back to your card.",
        ),
    };
    page(
        title,
        Meta::Shopper(meta),
        html! {
            section.order-complete data-order-id=(order.id) data-order-state=(order.state.as_str()) {
                h1 { (title) }
                p { (words) " Your order number is " strong.order-number { "#" (order.id) } "." }
                p #order-state { "State: " strong { (order.state.label()) } }
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
