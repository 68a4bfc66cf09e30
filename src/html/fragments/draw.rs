//! `#draw-<product id>`: a product's draw as one shopper sees it. The window with countdowns to
//! open and to close (`#draw-<id>-window`), then the shopper's own part (`#draw-<id>-mine`,
//! `data-standing`): the entry form, their entry with its withdraw button, or their result.
//! The page renders it whole; the cart channel's `draw` push re-renders `#draw-<id>-mine` when
//! the shopper's standing changes (entered or withdrawn in another tab, or the draw's result).

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::countdown::countdown;
use crate::domain::Product;
use crate::domain::draw::{Outcome, Phase, Standing, Window};

/// The shopper's entry, as far as the page knows it (a push knows only the standing).
#[derive(Debug, Clone, Copy)]
pub struct Mine<'a> {
    pub standing: Standing,
    pub size: Option<&'a str>,
    pub hash: Option<&'a str>,
    pub card_last4: Option<&'a str>,
    pub order_id: Option<i32>,
}

impl<'a> Mine<'a> {
    /// What a push says: the standing alone.
    pub fn standing(standing: Standing) -> Mine<'a> {
        Mine {
            standing,
            size: None,
            hash: None,
            card_last4: None,
            order_id: None,
        }
    }
}

/// Everything the panel shows besides the product.
#[derive(Debug, Clone, Copy)]
pub struct DrawPanel<'a> {
    pub window: Window,
    /// The draw is made and its secret published.
    pub drawn: bool,
    /// Guests are asked to sign in instead of shown the form.
    pub signed_in: bool,
    pub mine: Option<Mine<'a>>,
    pub csrf: Option<&'a str>,
    /// The built-in test gateway takes the card on the form (Stripe would tokenise it).
    pub card_fields: bool,
    pub email: &'a str,
}

pub fn panel_id(product: &Product) -> String {
    format!("draw-{}", product.id)
}

pub fn mine_id(product: &Product) -> String {
    format!("draw-{}-mine", product.id)
}

pub fn draw_panel(product: &Product, panel: &DrawPanel<'_>, now: DateTime<Utc>) -> Markup {
    html! {
        section id=(panel_id(product)) .draw-panel aria-labelledby=(format!("draw-{}-title", product.id)) {
            h2 id=(format!("draw-{}-title", product.id)) .draw-panel__title { "This drop is a draw" }
            p { "Enter while the window is open: one entry per person, your card authorised but not charged. At close the winners are drawn at random; only they are charged." }
            (window_line(product, panel.window, panel.drawn, now))
            (mine_block(product, panel, now))
            @if panel.drawn {
                p.draw-panel__check {
                    "Check the draw: "
                    a href=(format!("/products/{}/draw.json", product.id)) data-full-reload { "the secret and every entry in draw order" }
                }
            }
        }
    }
}

/// `#draw-<id>-window`: when entries open and close.
pub fn window_line(product: &Product, window: Window, drawn: bool, now: DateTime<Utc>) -> Markup {
    html! {
        p id=(format!("draw-{}-window", product.id)) .draw-panel__window {
            @match window.phase(now) {
                Phase::Upcoming => {
                    "Entries open "
                    (countdown(window.opens, now, "now: reload to enter", Some(&format!("Entries for {} are open.", product.name))))
                    ", close "
                    (countdown(window.closes, now, "now", None))
                }
                Phase::Open => {
                    "Entries close "
                    (countdown(window.closes, now, "now: the draw is being made", Some(&format!("Entries for {} closed: the draw is being made.", product.name))))
                }
                Phase::Closed if drawn => { "Entries closed. The draw is made." }
                Phase::Closed => { "Entries closed: the draw is being made." }
            }
        }
    }
}

/// `#draw-<id>-mine`: the form, the entry or the result.
pub fn mine_block(product: &Product, panel: &DrawPanel<'_>, now: DateTime<Utc>) -> Markup {
    let phase = panel.window.phase(now);
    let standing = panel.mine.map(|m| m.standing);
    let code = standing.map_or_else(|| "none".to_string(), Standing::code);
    html! {
        div id=(mine_id(product)) .draw-panel__mine data-standing=(code) role="status" {
            @match panel.mine {
                Some(mine) if mine.standing == Standing::Entered => {
                    p.draw-panel__standing {
                        strong { "You're in the draw" }
                        @if let Some(size) = mine.size { " for size " (size) }
                        @if let Some(last4) = mine.card_last4 { " (card ending " (last4) ")" }
                        "."
                    }
                    @if phase == Phase::Open {
                        p { "Nothing is charged unless you win. To change size, withdraw and enter again." }
                        form method="post" action=(format!("/products/{}/entries/withdraw", product.id)) {
                            @if let Some(token) = panel.csrf { input type="hidden" name="_csrf_token" value=(token); }
                            button.button type="submit" { "Withdraw my entry" }
                        }
                    } @else {
                        p { "The draw is being made. Your result appears here." }
                    }
                    (hash_line(mine))
                }
                Some(mine) if matches!(mine.standing, Standing::Decided(_) | Standing::Void(_)) => {
                    (result(mine))
                    (hash_line(mine))
                }
                _ => {
                    @if standing == Some(Standing::Withdrawn) {
                        p.draw-panel__standing { "You withdrew your entry; its authorisation was released." }
                    }
                    @if phase == Phase::Open {
                        @if panel.signed_in {
                            (entry_form(product, panel))
                        } @else {
                            p { a href=(format!("/account/login?next=/products/{}", product.id)) { "Sign in" } " to enter the draw (a verified account, one entry each)." }
                        }
                    }
                }
            }
        }
    }
}

fn result(mine: Mine<'_>) -> Markup {
    html! {
        @match mine.standing {
            Standing::Decided(Outcome::Won) => {
                p.draw-panel__standing.draw-panel__standing--won { strong { "You won!" } " Your card was charged and the pair is yours." }
                @if let Some(order) = mine.order_id { p { "Order #" (order) " is paid." } }
            }
            Standing::Decided(Outcome::PassedOver) => {
                p.draw-panel__standing { strong { "Your turn came, but your card could not be charged" } ", so the pair went to the next entry. Nothing was charged." }
            }
            Standing::Decided(Outcome::Lost) => {
                p.draw-panel__standing { strong { "Not this time." } " Your card's authorisation was released: nothing was charged." }
            }
            Standing::Void(reason) => {
                p.draw-panel__standing { (reason.message()) }
            }
            Standing::Entered | Standing::Withdrawn => {}
        }
    }
}

fn hash_line(mine: Mine<'_>) -> Markup {
    html! {
        @if let Some(hash) = mine.hash {
            p.draw-panel__hash { "Your entry's hash: " code { (hash) } }
        }
    }
}

fn entry_form(product: &Product, panel: &DrawPanel<'_>) -> Markup {
    let field = |name: &str, label: &str, autocomplete: &str, required: bool| {
        let id = format!("draw-{}-{}", product.id, name);
        html! {
            p.field {
                label for=(id) { (label) }
                input id=(id) name=(name) type="text" autocomplete=(autocomplete) required[required];
            }
        }
    };
    html! {
        form.draw-form method="post" action=(format!("/products/{}/entries", product.id)) {
            @if let Some(token) = panel.csrf { input type="hidden" name="_csrf_token" value=(token); }
            p.field {
                label for=(format!("draw-{}-size", product.id)) { "Size" }
                select id=(format!("draw-{}-size", product.id)) name="item_id" required {
                    @for item in &product.items { option value=(item.id) { (item.size) } }
                }
            }
            p.field {
                label for=(format!("draw-{}-email", product.id)) { "Email" }
                input id=(format!("draw-{}-email", product.id)) name="email" type="email" autocomplete="email" value=(panel.email) required;
            }
            (field("name", "Name", "name", true))
            (field("address_line1", "Address", "address-line1", true))
            (field("address_line2", "Address line 2", "address-line2", false))
            (field("city", "City", "address-level2", true))
            (field("postal_code", "Postal code", "postal-code", true))
            (field("country", "Country (two letters, e.g. US)", "country", true))
            @if panel.card_fields {
                (field("card_number", "Card number", "cc-number", true))
                (field("card_exp", "Expiry (MM/YY)", "cc-exp", true))
                (field("card_cvc", "Security code", "cc-csc", true))
            }
            button.button.button--primary type="submit" { "Enter the draw" }
        }
    }
}

/// One of the shopper's entries, for `/account`.
#[derive(Debug, Clone, Copy)]
pub struct AccountEntry<'a> {
    pub product_id: crate::domain::ProductId,
    pub product: &'a str,
    pub size: &'a str,
    pub standing: Standing,
    pub hash: &'a str,
}

/// `#draw-entries`: every draw the shopper entered and what came of it.
pub fn account_entries(entries: &[AccountEntry<'_>]) -> Markup {
    html! {
        @if !entries.is_empty() {
            section #draw-entries {
                h2 { "Your draw entries" }
                table.table {
                    thead { tr { th { "Drop" } th { "Size" } th { "Result" } } }
                    tbody {
                        @for entry in entries {
                            tr data-product-id=(entry.product_id) data-standing=(entry.standing.code()) {
                                td { a href=(format!("/products/{}", entry.product_id)) { (entry.product) } }
                                td { (entry.size) }
                                td { (standing_words(entry.standing)) br; small { "Entry hash " code { (entry.hash) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn standing_words(standing: Standing) -> &'static str {
    match standing {
        Standing::Entered => "In the draw (nothing charged unless you win)",
        Standing::Withdrawn => "Withdrawn",
        Standing::Void(_) => "Void: one entry per person (nothing charged)",
        Standing::Decided(Outcome::Won) => "You won: the pair is yours",
        Standing::Decided(Outcome::Lost) => "Not this time (nothing charged)",
        Standing::Decided(Outcome::PassedOver) => {
            "Passed over: your card could not be charged (nothing charged)"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::draw::VoidReason;
    use crate::domain::{Item, ItemId, ProductId};
    use chrono::TimeZone;

    fn product() -> Product {
        Product {
            id: ProductId(4),
            sku: "D".into(),
            brand: "B".into(),
            name: "Dunk".into(),
            color: "C".into(),
            price_cents: 100,
            main_image_url: String::new(),
            released: false,
            release_at: None,
            max_per_customer: None,
            line_per_minute: None,
            listing: Default::default(),
            items: vec![Item {
                id: ItemId(9),
                product_id: ProductId(4),
                size: "10".into(),
                sku: "D-10".into(),
                available_count: 3,
                version: 1,
                position: 0,
            }],
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + seconds, 0)
            .single()
            .expect("a valid instant")
    }

    fn panel(mine: Option<Mine<'_>>) -> DrawPanel<'_> {
        DrawPanel {
            window: Window::new(at(0), at(60)).expect("closes after it opens"),
            drawn: false,
            signed_in: true,
            mine,
            csrf: Some("tok"),
            card_fields: true,
            email: "ada@example.com",
        }
    }

    #[test]
    fn an_open_draw_offers_the_form_then_the_entry_with_its_withdraw_button() {
        let html = draw_panel(&product(), &panel(None), at(10)).into_string();
        assert!(html.contains(r#"action="/products/4/entries""#), "{html}");
        assert!(html.contains(r#"data-standing="none""#));
        assert!(html.contains(r#"name="card_number""#));
        assert!(html.contains(&format!(
            r#"data-countdown-to="{}""#,
            at(60).timestamp_millis()
        )));
        let entered = Mine {
            size: Some("10"),
            card_last4: Some("4242"),
            hash: Some("abc"),
            ..Mine::standing(Standing::Entered)
        };
        let html = draw_panel(&product(), &panel(Some(entered)), at(10)).into_string();
        assert!(html.contains("/products/4/entries/withdraw"), "{html}");
        assert!(html.contains("for size 10") && html.contains("card ending 4242"));
        assert!(!html.contains(r#"action="/products/4/entries""#));
        // After close: no withdrawal, the draw is being made.
        let html = draw_panel(&product(), &panel(Some(entered)), at(61)).into_string();
        assert!(
            !html.contains("withdraw") && html.contains("being made"),
            "{html}"
        );
    }

    #[test]
    fn results_say_what_happened_to_the_card() {
        let said = |standing| {
            mine_block(&product(), &panel(Some(Mine::standing(standing))), at(61)).into_string()
        };
        assert!(said(Standing::Decided(Outcome::Won)).contains("You won!"));
        assert!(said(Standing::Decided(Outcome::Lost)).contains("nothing was charged"));
        assert!(said(Standing::Decided(Outcome::PassedOver)).contains("next entry"));
        assert!(said(Standing::Void(VoidReason::SameCard)).contains("same card"));
        assert!(said(Standing::Decided(Outcome::Won)).contains(r#"data-standing="won""#));
    }
}
