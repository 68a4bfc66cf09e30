//! The admin dashboard: live counts, server figures, and every drop's stock.

use chrono::Utc;
use maud::{Markup, html};

use super::layout::{Meta, page};
use crate::domain::Catalog;
use crate::domain::presence::Counts;
use crate::html::fragments::admin::{ServerFigures, counts, item_row, product_row, server};

pub fn dashboard(
    admin_token: &str,
    catalog: &Catalog,
    live_counts: &Counts,
    figures: ServerFigures,
    node: &str,
) -> Markup {
    let now = Utc::now();
    page(
        "Admin",
        Meta::Admin(admin_token),
        html! {
            section.admin {
                h1 { "Dashboard" }
                div.admin-stats { (counts(live_counts, catalog)) }
                (server(figures, node))
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
