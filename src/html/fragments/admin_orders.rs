//! `#admin-orders`: the latest orders on the dashboard (pushed as `orders` while sales go on),
//! and the same table for a search.

use maud::{Markup, html};

use crate::domain::money::format_cents;
use crate::domain::order::OrderedPair;

/// One order's row, from plain data.
pub struct OrderLine<'a> {
    pub id: i32,
    pub placed_at: chrono::DateTime<chrono::Utc>,
    pub email: Option<&'a str>,
    pub total_cents: i32,
    pub node: Option<&'a str>,
    pub lines: &'a [OrderedPair],
}

/// "Nike Air Max 90 (9), adidas Samba OG (10)".
pub fn items_text(lines: &[OrderedPair]) -> String {
    lines
        .iter()
        .map(|p| format!("{} {} ({})", p.brand, p.name, p.size))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn orders_table(orders: &[OrderLine]) -> Markup {
    html! {
        @if orders.is_empty() {
            p.muted.orders-empty { "No orders yet." }
        } @else {
            table.table.admin-orders-table {
                thead { tr { th { "Order" } th { "Time" } th { "Shopper" } th { "Pairs" } th.num { "Total" } th { "Node" } } }
                tbody {
                    @for order in orders {
                        tr data-order-id=(order.id) {
                            td { "#" (order.id) }
                            td { time datetime=(order.placed_at.to_rfc3339()) { (order.placed_at.format("%H:%M:%S")) } }
                            td { (order.email.unwrap_or("guest")) }
                            td { (items_text(order.lines)) }
                            td.num { (format_cents(order.total_cents.into())) }
                            td.muted { (order.node.unwrap_or("–")) }
                        }
                    }
                }
            }
        }
    }
}

/// The dashboard's panel: search, export, the latest orders.
pub fn latest_orders(orders: &[OrderLine]) -> Markup {
    html! {
        section #admin-orders .panel.admin-orders {
            div.panel__head {
                h2 { "Latest orders" }
                form.admin-orders__search method="get" action="/admin/orders" {
                    input type="search" name="q" placeholder="Order number or email" aria-label="Search orders";
                    button.button type="submit" { "Search" }
                }
                a.button href="/admin/orders.csv" download { "Export CSV" }
            }
            (orders_table(orders))
        }
    }
}
