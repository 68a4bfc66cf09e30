//! The admin's catalog pages: every product with its state (`/admin/products`, filtered and
//! searched) and one product's form (`/admin/products/new`, `/admin/products/:id/edit`).

use maud::{Markup, html};

use super::layout::{Meta, page};
use crate::domain::Product;
use crate::domain::money::format_cents;
use crate::domain::product_fields::ProductState;
use crate::html::fragments::admin_pictures::pictures;

/// What the list is filtered by, as the admin typed it.
pub struct ListQuery<'a> {
    pub state: Option<ProductState>,
    pub q: &'a str,
}

/// Whether a product is in the list the admin asked for (name, brand or SKU of it or of a size).
pub fn matches(product: &Product, query: &ListQuery) -> bool {
    if query.state.is_some_and(|s| s != ProductState::of(product)) {
        return false;
    }
    let q = query.q.trim().to_lowercase();
    if q.is_empty() {
        return true;
    }
    let hit = |text: &str| text.to_lowercase().contains(&q);
    hit(&product.name)
        || hit(&product.brand)
        || hit(&product.sku)
        || product.items.iter().any(|i| hit(&i.sku))
}

fn state_badge(product: &Product) -> Markup {
    let state = ProductState::of(product);
    html! {
        span class=(format!("badge badge--{}", state.as_str())) data-state=(state.as_str()) { (state.label()) }
        @if state == ProductState::Scheduled {
            @if let Some(at) = product.release_at {
                " " time.muted datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M UTC")) }
            }
        }
    }
}

pub fn products_list<'a>(products: impl Iterator<Item = &'a Product>, query: &ListQuery) -> Markup {
    let products: Vec<&Product> = products.filter(|p| matches(p, query)).collect();
    page(
        "Products",
        Meta::None,
        html! {
            section.admin {
                h1 { "Products" }
                p { a.button.button--primary href="/admin/products/new" { "New product" } " " a href="/admin" { "Dashboard" } }
                form.admin-orders__search method="get" action="/admin/products" {
                    label for="products-state" { "State " }
                    select id="products-state" name="state" {
                        option value="" selected[query.state.is_none()] { "All" }
                        @for state in ProductState::ALL {
                            option value=(state.as_str()) selected[query.state == Some(state)] { (state.label()) }
                        }
                    }
                    " "
                    input type="search" name="q" value=(query.q) placeholder="Name or SKU" aria-label="Search products";
                    button.button type="submit" { "Filter" }
                }
                @if products.is_empty() {
                    p #products-none { "No product matches." }
                } @else {
                    table.table.admin-catalog #products {
                        thead { tr { th { "Product" } th { "SKU" } th { "State" } th.num { "Price" } th { "Sizes" } th.num { "Pairs left" } th {} } }
                        tbody {
                            @for p in &products {
                                tr id=(format!("products-{}", p.id)) data-product-row=(p.id) {
                                    td { (p.brand) " " (p.name) br; span.muted { (p.color) } }
                                    td { code { (p.sku) } }
                                    td { (state_badge(p)) }
                                    td.num { (format_cents(p.price_cents.into())) }
                                    td { @for (n, i) in p.items.iter().enumerate() { @if n > 0 { ", " } (i.size) } }
                                    td.num data-pairs-left=(p.items.iter().map(|i| i64::from(i.available_count)).sum::<i64>()) {
                                        (p.items.iter().map(|i| i64::from(i.available_count)).sum::<i64>())
                                    }
                                    td { a href=(format!("/admin/products/{}/edit", p.id)) { "Edit" } }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The page around a product's form; `product` is `None` for a new one. With the admin token
/// the shim joins the admin socket and the form is checked as it is typed.
/// A product's admin page: the form, and for a saved product its pictures (with what was wrong
/// with the last upload) and the buttons that take it off the store.
pub fn product_page(
    product: Option<&Product>,
    form: Markup,
    picture_error: Option<&str>,
    admin_token: &str,
) -> Markup {
    let title = product.map_or_else(
        || "New product".to_string(),
        |p| format!("{} {}", p.brand, p.name),
    );
    page(
        &title,
        Meta::Admin(admin_token),
        html! {
            section.admin {
                p { a href="/admin/products" { "← Products" } }
                h1 { (title) }
                @if let Some(p) = product {
                    p { (state_badge(p)) " " a href=(format!("/products/{}", p.id)) data-full-reload { "Shop page" } }
                }
                (form)
                @if let Some(p) = product {
                    (pictures(p, picture_error))
                    @if ProductState::of(p) != ProductState::Archived {
                        form method="post" action=(format!("/admin/products/{}/archive", p.id)) {
                            button.button type="submit" { "Archive (off the store, orders kept)" }
                        }
                    }
                    form method="post" action=(format!("/admin/products/{}/delete", p.id)) {
                        button.button type="submit" { "Delete (only if nobody bought it)" }
                    }
                }
            }
        },
    )
}
