use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::domain::money::format_cents;
use crate::domain::{Item, Level, Product};
use crate::html::announce;
use crate::html::fragments::countdown::countdown;

/// A form's CSRF token: present on server-rendered pages; absent from pushed fragments, which
/// are shared by every subscriber (the shim submits those over the socket instead).
pub type Csrf<'a> = Option<&'a str>;

pub fn product_card(product: &Product, now: DateTime<Utc>, csrf: Csrf) -> Markup {
    let href = format!("/products/{}", product.id);
    html! {
        article.product-card data-product-id=(product.id) {
            a.product-card__media href=(href) {
                img src=(product.main_image_url) alt=(alt_text(product)) loading="lazy" width="600" height="400";
            }
            div.product-card__body {
                p.product-brand { (product.brand) }
                h2.product-name { a href=(href) { (product.name) } }
                p.product-color { (product.color) }
                p.product-price { (format_cents(product.price_cents.into())) }
            }
            (sizes(product, now, csrf))
        }
    }
}

pub fn product_detail(product: &Product, now: DateTime<Utc>, csrf: Csrf) -> Markup {
    html! {
        a.back-link href="/" { "← All drops" }
        article.product-detail data-product-id=(product.id) {
            div.product-detail__media {
                img src=(product.main_image_url) alt=(alt_text(product)) width="600" height="400";
            }
            div.product-detail__info {
                p.product-brand { (product.brand) }
                h1.product-name { (product.name) }
                p.product-color { (product.color) }
                p.product-price { (format_cents(product.price_cents.into())) }
                (limit(product))
                (sizes(product, now, csrf))
            }
        }
    }
}

/// "Limit 1 per customer", for a product that has one.
pub fn limit(product: &Product) -> Markup {
    html! {
        @if let Some(max) = product.max_per_customer {
            p.product-limit data-max-per-customer=(max) { "Limit " (max) " per customer" }
        }
    }
}

/// `#product-<id>-sizes`: the size selector of a released product, or its "coming soon". The
/// sizes are the buttons of one form (the clicked one names the `item_id`), so a page carries
/// one CSRF token per product rather than one per size.
pub fn sizes(product: &Product, now: DateTime<Utc>, csrf: Csrf) -> Markup {
    html! {
        div id=(format!("product-{}-sizes", product.id)) .product-sizes {
            @if product.released {
                p.sizes-title { "Select size" }
                form.size-grid method="post" action="/cart/items" data-submit="add_item" {
                    @if let Some(token) = csrf { input type="hidden" name="_csrf_token" value=(token); }
                    @for item in &product.items { (size_button(item)) }
                }
            } @else {
                (coming_soon(product, now))
            }
        }
    }
}

/// `#item-<id>`: one size, a button of its product's form that adds it to the cart.
pub fn size_button(item: &Item) -> Markup {
    let level = item.level();
    html! {
        div id=(format!("item-{}", item.id)) class=(format!("size size--{}", level.as_str()))
            data-level=(level.as_str()) {
            button.size__button type="submit" name="item_id" value=(item.id) disabled[level.is_out()]
                title=(format!("Size {} · {}", item.size, level_hint(level))) {
                span.size__label { (item.size) }
                span.size__level { (level.label()) }
            }
        }
    }
}

fn coming_soon(product: &Product, now: DateTime<Utc>) -> Markup {
    html! {
        div.coming-soon {
            span.badge.badge--soon { "Coming soon" }
            @if let Some(at) = product.release_at {
                p.countdown data-announce-key=(announce::release_key(product)) {
                    "Drops "
                    (countdown(at, now, "any moment now", Some(&drop_words(product))))
                }
            } @else {
                p.countdown { "Release date to be announced" }
            }
        }
    }
}

fn level_hint(level: Level) -> &'static str {
    match level {
        Level::High => "plenty left",
        Level::Medium => "selling steadily",
        Level::Low => "only a few left",
        Level::Out => "sold out",
    }
}

fn alt_text(product: &Product) -> String {
    format!("{} {} in {}", product.brand, product.name, product.color)
}

/// Said when a drop's countdown reaches zero (the sizes follow with the `released` push).
fn drop_words(product: &Product) -> String {
    format!("{} {} drops now.", product.brand, product.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ItemId, ProductId};

    #[test]
    fn sold_out_sizes_are_disabled_and_carry_their_level() {
        let item = |count| Item {
            id: ItemId(7),
            product_id: ProductId(1),
            size: "9.5".into(),
            sku: "X-9.5".into(),
            available_count: count,
            version: 1,
        };
        let out = size_button(&item(0)).into_string();
        assert!(out.contains(r#"id="item-7""#) && out.contains(r#"data-level="out""#));
        assert!(out.contains("disabled"));
        let low = size_button(&item(3)).into_string();
        assert!(low.contains(r#"data-level="low""#) && !low.contains("disabled"));
        assert!(low.contains(r#"name="item_id" value="7""#));
    }

    #[test]
    fn a_selector_carries_one_csrf_token_for_all_its_sizes() {
        let product = Product {
            id: ProductId(1),
            sku: "X".into(),
            brand: "B".into(),
            name: "N".into(),
            color: "C".into(),
            price_cents: 100,
            main_image_url: String::new(),
            released: true,
            release_at: None,
            max_per_customer: None,
            line_per_minute: None,
            items: (1..=3)
                .map(|n| Item {
                    id: ItemId(n),
                    product_id: ProductId(1),
                    size: n.to_string(),
                    sku: format!("X-{n}"),
                    available_count: 5,
                    version: 1,
                })
                .collect(),
        };
        let html = sizes(&product, Utc::now(), Some("tok")).into_string();
        assert_eq!(html.matches(r#"name="_csrf_token" value="tok""#).count(), 1);
        assert_eq!(html.matches(r#"name="item_id""#).count(), 3);
        assert!(
            !sizes(&product, Utc::now(), None)
                .into_string()
                .contains("_csrf_token")
        );
    }
}
