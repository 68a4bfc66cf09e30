//! Admin fragments: live counts, the inventory table's rows, and server figures.

use maud::{Markup, html};

use chrono::{DateTime, Utc};

use crate::domain::catalog::MAX_LIMIT;
use crate::domain::figures::NodeFigures;
use crate::domain::presence::Counts;
use crate::domain::{Catalog, Item, Product};
use crate::html::fragments::countdown::countdown;

/// `#admin-shoppers`, `#admin-pages` and `#admin-items`, swapped together on every diff.
pub fn counts(counts: &Counts, catalog: &Catalog) -> Markup {
    html! {
        div #admin-shoppers .stat data-count=(counts.shoppers) {
            span.stat__value { (counts.shoppers) }
            span.stat__label { @if counts.shoppers == 1 { "shopper online" } @else { "shoppers online" } }
        }
        div #admin-pages .stat data-count=(counts.pages.values().sum::<usize>()) {
            span.stat__value { (counts.pages.values().sum::<usize>()) }
            span.stat__label { "open pages" }
            @if !counts.pages.is_empty() {
                ul.stat__list {
                    @for (page, n) in &counts.pages {
                        li data-page=(page) data-count=(n) { code { (page) } " " strong { (n) } }
                    }
                }
            }
        }
        div #admin-items .stat data-count=(counts.items.values().sum::<usize>()) {
            span.stat__value { (counts.items.values().sum::<usize>()) }
            span.stat__label { "pairs in carts" }
            @if !counts.items.is_empty() {
                ul.stat__list {
                    @for (item_id, carts) in &counts.items {
                        @if let Some((product, item)) = catalog.item(*item_id) {
                            li data-item-id=(item_id) data-count=(carts) {
                                (product.brand) " " (product.name) " · size " (item.size) " — "
                                strong { (carts) @if *carts == 1 { " cart" } @else { " carts" } }
                                " · " span.level class=(format!("level--{}", item.level().as_str())) { (item.available_count) " left" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `#admin-product-<id>`: a product's header row, with its release button until it drops.
pub fn product_row(product: &Product, now: DateTime<Utc>) -> Markup {
    html! {
        tr.admin-product id=(format!("admin-product-{}", product.id)) {
            th colspan="2" { (product.brand) " " (product.name) " " span.muted { (product.sku) } }
            td {
                @if product.released {
                    span.badge.badge--released { "Released" }
                } @else {
                    form method="post" action=(format!("/admin/products/{}/release", product.id)) {
                        button.button.button--primary type="submit" { "Release now" }
                    }
                    @if let Some(at) = product.release_at {
                        span.muted { "scheduled " (countdown(at, now, "now", None)) }
                    }
                }
                (limit_form(product, None))
                form.admin-limit method="post" action=(format!("/admin/products/{}/queue", product.id)) {
                    @if let Some(rate) = product.line_per_minute {
                        input type="hidden" name="enabled" value="1";
                        label {
                            "Line, per minute "
                            input type="number" name="admit_per_minute" min="1" max="1000" size="4" value=(rate);
                        }
                        button.button type="submit" { "Set" }
                    } @else {
                        input type="hidden" name="enabled" value="1";
                        button.button type="submit" { "Add a waiting line" }
                    }
                }
                @if product.line_per_minute.is_some() {
                    form.admin-limit method="post" action=(format!("/admin/products/{}/queue", product.id)) {
                        input type="hidden" name="enabled" value="0";
                        button.button type="submit" { "Remove line" }
                    }
                }
            }
        }
    }
}

/// What an admin typed in a limit field and what is wrong with it, for a live re-render.
pub struct Typed<'a> {
    pub value: &'a str,
    pub error: Option<String>,
}

/// `#admin-limit-<id>`: a product's limit per customer, checked as the admin types (a live
/// form: the shim sends its fields as `validate`, and the channel answers it re-rendered).
pub fn limit_form(product: &Product, typed: Option<&Typed>) -> Markup {
    let id = format!("admin-limit-{}", product.id);
    let error_id = format!("{id}-error");
    let saved = product.max_per_customer.map(|m| m.to_string());
    let value = typed.map(|t| t.value.to_string()).or(saved);
    let error = typed.and_then(|t| t.error.as_deref());
    html! {
        form.admin-limit id=(id) method="post" action=(format!("/admin/products/{}/limit", product.id))
            data-change="validate" {
            label {
                "Limit per customer "
                input type="number" name="max" min="0" max=(MAX_LIMIT) size="3"
                    value=[value] placeholder="none" aria-invalid=[error.map(|_| "true")]
                    aria-describedby=[error.map(|_| error_id.as_str())];
            }
            button.button type="submit" { "Set" }
            @if let Some(error) = error {
                span.field-error id=(error_id) { (error) }
            }
        }
    }
}

/// `#admin-item-<id>`: one size's stock in the inventory table.
pub fn item_row(item: &Item) -> Markup {
    let level = item.level();
    html! {
        tr id=(format!("admin-item-{}", item.id)) data-level=(level.as_str()) {
            td { (item.size) }
            td.num { (item.available_count) }
            td { span.level class=(format!("level--{}", level.as_str())) { (level.label()) } }
        }
    }
}

/// One node of the cluster panel.
#[derive(Debug, Clone)]
pub struct NodeRow {
    pub name: String,
    pub figures: NodeFigures,
    pub feed: String,
    /// Heard from within the presence timeout.
    pub up: bool,
    /// The node serving this dashboard.
    pub this: bool,
}

/// Which bus this node's cluster runs on (`local`, `postgres`, `redis`) and whether it hears it.
#[derive(Debug, Clone, Copy)]
pub struct BusView {
    pub kind: &'static str,
    pub connected: bool,
}

/// `#admin-cluster`: the bus, then every node's sockets, channels, pushes per second and feed.
pub fn cluster(rows: &[NodeRow], bus: BusView) -> Markup {
    html! {
        section #admin-cluster .panel.admin-cluster data-no-flash {
            div.panel__head { h2 { "Cluster" } span.muted { (rows.len()) @if rows.len() == 1 { " node" } @else { " nodes" } } }
            p #admin-bus data-bus=(bus.kind) data-connected=(bus.connected) {
                "Bus: " code { (bus.kind) } " · "
                @if bus.kind == "local" { "one node, nothing to connect" }
                @else if bus.connected { span.badge.badge--released { "connected" } }
                @else { span.badge.badge--out { "not connected" } }
            }
            table.table {
                thead { tr { th { "Node" } th.num { "Sockets" } th.num { "Channels" } th.num { "Pushes/s" } th { "Feed" } th { "State" } } }
                tbody {
                    @for row in rows {
                        tr data-node=(row.name) data-up=(row.up) {
                            td { code { (row.name) } @if row.this { " " span.muted { "(this one)" } } }
                            td.num { (row.figures.sockets) }
                            td.num { (row.figures.channels) }
                            td.num { (row.figures.pushes_per_second) }
                            td { (row.feed) }
                            td {
                                @if row.up { span.badge.badge--released { "up" } }
                                @else { span.badge.badge--out { "down" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn server(figures: NodeFigures, node: &str) -> Markup {
    html! {
        div #admin-server .admin-server {
            span { "Node " code { (node) } }
            span { strong { (figures.sockets) } " sockets" }
            span { strong { (figures.channels) } " channels" }
            span { strong { (figures.pushes_per_second) } " pushes/s" }
        }
    }
}
