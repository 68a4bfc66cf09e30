//! `#draw-admin-<id>`: a product's draw as its admin page shows it: the window, the entries
//! per size (pushed live as shoppers enter and withdraw), and once the draw is made the
//! winners, the passed-over (their capture failed) and the published secret.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::domain::ProductId;
use crate::domain::draw::{Phase, Window};

/// One size's entries.
pub struct SizeEntries {
    pub size: String,
    /// Entries taking part (entered, or decided by the draw).
    pub entries: u32,
    /// Entries void for sharing a card or an address with an earlier one.
    pub void: u32,
}

/// An entry the draw decided on, in draw order.
pub struct Decided {
    pub place: Option<i32>,
    pub email: String,
    pub size: String,
    pub order_id: Option<i32>,
}

/// Everything the panel shows, read from the database.
pub struct AdminDraw {
    pub product_id: ProductId,
    pub window: Window,
    /// Published once the draw is made.
    pub secret: Option<String>,
    pub sizes: Vec<SizeEntries>,
    pub winners: Vec<Decided>,
    pub passed_over: Vec<Decided>,
}

pub fn panel_id(product_id: ProductId) -> String {
    format!("draw-admin-{product_id}")
}

fn utc(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S UTC")) } }
}

pub fn admin_draw(draw: &AdminDraw, now: DateTime<Utc>) -> Markup {
    let id = draw.product_id;
    let total: u32 = draw.sizes.iter().map(|s| s.entries).sum();
    let void: u32 = draw.sizes.iter().map(|s| s.void).sum();
    html! {
        section.admin-draw id=(panel_id(id)) aria-labelledby=(format!("{}-title", panel_id(id))) {
            h2 id=(format!("{}-title", panel_id(id))) { "Draw" }
            p data-phase=(match (draw.window.phase(now), &draw.secret) {
                (_, Some(_)) => "drawn",
                (Phase::Upcoming, None) => "upcoming",
                (Phase::Open, None) => "open",
                (Phase::Closed, None) => "drawing",
            }) {
                @match (draw.window.phase(now), &draw.secret) {
                    (_, Some(_)) => { "The draw is made. Entries were taken from " (utc(draw.window.opens)) " to " (utc(draw.window.closes)) "." }
                    (Phase::Upcoming, None) => { "Entries open " (utc(draw.window.opens)) " and close " (utc(draw.window.closes)) "." }
                    (Phase::Open, None) => { "Entries are open until " (utc(draw.window.closes)) "." }
                    (Phase::Closed, None) => { "Entries closed " (utc(draw.window.closes)) ": the draw is being made." }
                }
            }
            table.table {
                caption { (total) " entries, " (void) " void" }
                thead { tr { th scope="col" { "Size" } th.num scope="col" { "Entries" } th.num scope="col" { "Void" } } }
                tbody {
                    @for size in &draw.sizes {
                        tr data-size=(size.size) {
                            th scope="row" { (size.size) }
                            td.num data-entries { (size.entries) }
                            td.num { (size.void) }
                        }
                    }
                }
            }
            @if let Some(secret) = &draw.secret {
                h3 { "Winners (" (draw.winners.len()) ")" }
                (decided_table(&draw.winners, true))
                h3 { "Passed over: the capture failed (" (draw.passed_over.len()) ")" }
                (decided_table(&draw.passed_over, false))
                p { "Published secret: " code data-secret { (secret) } " (" a href=(format!("/products/{id}/draw.json")) data-full-reload { "draw.json" } ")" }
            }
            p { a href=(format!("/admin/products/{id}/entries.csv")) data-full-reload download { "Entries (CSV)" } }
        }
    }
}

fn decided_table(rows: &[Decided], orders: bool) -> Markup {
    html! {
        @if rows.is_empty() {
            p.muted { "None." }
        } @else {
            table.table {
                thead { tr {
                    th.num scope="col" { "Place" } th scope="col" { "Email" } th scope="col" { "Size" }
                    @if orders { th scope="col" { "Order" } }
                } }
                tbody {
                    @for row in rows {
                        tr {
                            td.num { @if let Some(place) = row.place { (place) } }
                            td { (row.email) }
                            td { (row.size) }
                            @if orders { td { @if let Some(order) = row.order_id { "#" (order) } } }
                        }
                    }
                }
            }
        }
    }
}
