//! `#queue-<product id>`: a shopper's place in a drop's waiting line, with `data-position`
//! (0 once let in) and `data-admitted`. The same fragment is on the product page, on the line's
//! own page and in the cart channel's `queue` pushes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::domain::Product;
use crate::domain::line::Place;

fn minutes(wait: Duration) -> String {
    match wait.as_secs().div_ceil(60) {
        0 | 1 => "about a minute".to_string(),
        n => format!("about {n} minutes"),
    }
}

/// The panel for one shopper (`place`: `None` when not in the line). `csrf` is the shopper's
/// token for the join form (pushes carry none: the shim adds it).
pub fn queue_panel(
    product: &Product,
    place: Option<Place>,
    now: DateTime<Utc>,
    window: Duration,
    csrf: Option<&str>,
) -> Markup {
    let position = place.map_or(0, |p| p.position);
    let admitted = place.is_some_and(|p| p.admitted_at.is_some());
    html! {
        div id=(format!("queue-{}", product.id)) .line-panel data-position=(position) data-admitted=(admitted) {
            @match place {
                None => {
                    p.line-panel__title { "This drop has a waiting line" }
                    @if product.released {
                        p { "Join it to get your turn: the line is let in a few at a time." }
                    } @else {
                        p { "Join before it drops: everyone in line then gets a random place, so being fastest does not matter." }
                    }
                    form method="post" action=(format!("/products/{}/line", product.id)) {
                        @if let Some(token) = csrf { input type="hidden" name="_csrf_token" value=(token); }
                        button.button.button--primary type="submit" { "Join the line" }
                    }
                }
                Some(place) if !place.drawn => {
                    p.line-panel__title { "You're in the line" }
                    p { "Places are drawn at random the moment it drops. Keep this page open." }
                }
                Some(place) if place.admitted_at.is_some() => {
                    @if place.may_cart(now, window) {
                        p.line-panel__title { "It's your turn!" }
                        @if let Some(at) = place.admitted_at {
                            p { "Pick your size: you can add a pair until "
                                time datetime=(at.to_rfc3339()) { ((at + window).format("%H:%M UTC")) } "." }
                        }
                    } @else {
                        p.line-panel__title { "Your turn has passed" }
                        p { "Your time to add a pair ran out." }
                    }
                }
                Some(place) => {
                    p.line-panel__title { "You're number " strong.line-panel__position { (place.position) } " in line" }
                    p { "Your turn comes in " (minutes(place.estimate())) ". Keep this page open: it updates by itself." }
                }
            }
        }
    }
}
