//! The admin dashboard: live counts, server figures, and every drop's stock.

use chrono::Utc;
use maud::{Markup, html};

use super::layout::{Meta, page};
use std::collections::HashMap;

use crate::domain::figures::NodeFigures;
use crate::domain::presence::Counts;
use crate::domain::sales::SalesSeries;
use crate::domain::{Catalog, ProductId};
use crate::html::fragments::admin::{
    BusView, NodeRow, cluster, counts, item_row, product_row, server,
};
use crate::html::fragments::admin_sales::{sales_chart, sell_through};

/// What the drop panels are drawn from.
pub struct Drop<'a> {
    pub sales: &'a SalesSeries,
    pub line_lengths: &'a HashMap<ProductId, crate::domain::line::LineFigures>,
    /// The latest orders panel.
    pub orders: Markup,
    pub cluster: &'a [NodeRow],
    pub bus: BusView,
}

pub fn dashboard(
    admin_token: &str,
    catalog: &Catalog,
    live_counts: &Counts,
    figures: NodeFigures,
    node: &str,
    drop: Drop<'_>,
) -> Markup {
    let now = Utc::now();
    page(
        "Admin",
        Meta::Admin(admin_token),
        html! {
            section.admin {
                h1 { "Dashboard" }
                p.admin-nav { a href="/admin/products" { "Products" } " · " a href="/admin/orders" { "Orders" } }
                div.admin-stats { (counts(live_counts, catalog)) }
                (server(figures, node))
                (cluster(drop.cluster, drop.bus))
                div.admin-drop {
                    (sales_chart(drop.sales, catalog, now.timestamp()))
                    (sell_through(drop.sales, catalog, drop.line_lengths))
                }
                (drop.orders)
                h2 { "Drops" }
                table.table.admin-products {
                    thead { tr { th { "Size" } th.num { "Stock" } th { "Level" } } }
                    @for product in catalog.products() {
                        tbody data-product-id=(product.id) {
                            (product_row(product, now))
                            @for item in &product.items { (item_row(item)) }
                        }
                    }
                }
            }
        },
    )
}

/// `/admin/orders?q=`: orders found by number or email.
pub fn orders_search(query: &str, orders: Markup) -> Markup {
    page(
        "Orders",
        Meta::None,
        html! {
            section.admin {
                h1 { "Orders" }
                form.admin-orders__search method="get" action="/admin/orders" {
                    input type="search" name="q" value=(query) placeholder="Order number or email" aria-label="Search orders";
                    button.button type="submit" { "Search" }
                    " " a.button href="/admin/orders.csv" download { "Export CSV" }
                }
                (orders)
                p { a href="/admin" { "← Dashboard" } }
            }
        },
    )
}
