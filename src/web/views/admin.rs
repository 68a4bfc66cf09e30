use chrono::Utc;
use maud::{Markup, html};

use super::layout::{Tokens, page};
use crate::domain::Catalog;
use crate::live::presence::Counts;
use crate::views::admin::{ServerFigures, counts, item_row, server};
use crate::views::product::countdown;

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
        Tokens::Admin(admin_token),
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
                            tr.admin-product {
                                th colspan="2" { (product.brand) " " (product.name) " " span.muted { (product.sku) } }
                                td {
                                    @if product.released {
                                        span.badge.badge--released { "Released" }
                                    } @else {
                                        form method="post" action=(format!("/admin/products/{}/release", product.id)) {
                                            button.button.button--primary type="submit" { "Release now" }
                                        }
                                        @if let Some(at) = product.release_at {
                                            span.muted { "scheduled " (countdown(at, now)) }
                                        }
                                    }
                                }
                            }
                            @for item in &product.items { (item_row(item)) }
                        }
                    }
                }
            }
        },
    )
}
