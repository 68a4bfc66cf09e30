use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::domain::money::format_cents;
use crate::domain::product_fields::paragraphs;
use crate::domain::{Item, Level, Product, ProductId};
use crate::html::announce;
use crate::html::fragments::countdown::countdown;

/// A form's CSRF token: present on server-rendered pages; absent from pushed fragments, which
/// are shared by every subscriber (the shim submits those over the socket instead).
pub type Csrf<'a> = Option<&'a str>;

pub fn product_card(product: &Product, now: DateTime<Utc>, csrf: Csrf) -> Markup {
    let href = format!("/products/{}", product.id);
    html! {
        article.product-card data-product-id=(product.id) {
            a.product-card__media href=(href) { (picture(product, true)) }
            div.product-card__body {
                (brand(product))
                h2.product-name { a href=(href) { (name(product)) } }
                (color(product))
                (price(product))
            }
            (sizes(product, now, csrf))
        }
    }
}

pub fn product_detail(product: &Product, now: DateTime<Utc>, csrf: Csrf) -> Markup {
    html! {
        a.back-link href="/" { "← All drops" }
        article.product-detail data-product-id=(product.id) {
            div.product-detail__media { (picture(product, false)) }
            div.product-detail__info {
                (brand(product))
                h1.product-name { (name(product)) }
                (color(product))
                (price(product))
                (limit(product))
                (sizes(product, now, csrf))
                (description(product))
            }
        }
    }
}

/// `#product-<id>-limit`: "Limit 1 per customer", for a product that has one.
pub fn limit(product: &Product) -> Markup {
    html! {
        div id=(format!("product-{}-limit", product.id)) {
            @if let Some(max) = product.max_per_customer {
                p.product-limit data-max-per-customer=(max) { "Limit " (max) " per customer" }
            }
        }
    }
}

/// How wide pages show a product's picture, in CSS pixels (`srcset` lets a dense screen take
/// a wider size).
const SHOWN_WIDTH: u32 = 600;

/// `#product-<id>-picture`: the main picture in every size it was encoded at (`srcset`), or
/// the seeded one.
pub fn picture(product: &Product, lazy: bool) -> Markup {
    let id = format!("product-{}-picture", product.id);
    let loading = lazy.then_some("lazy");
    match product.listing.pictures.first() {
        Some(main) => html! {
            img id=(id) src=(product.image_url(SHOWN_WIDTH)) srcset=(main.srcset())
                sizes="(max-width: 640px) 92vw, 600px" alt=(alt_text(product)) loading=[loading]
                width=(SHOWN_WIDTH) height=(main.height_at(SHOWN_WIDTH));
        },
        None => html! {
            img id=(id) src=(product.main_image_url) alt=(alt_text(product)) loading=[loading]
                width=(SHOWN_WIDTH) height="400";
        },
    }
}

fn brand(product: &Product) -> Markup {
    html! { p.product-brand id=(format!("product-{}-brand", product.id)) { (product.brand) } }
}

fn name(product: &Product) -> Markup {
    html! { span id=(format!("product-{}-name", product.id)) { (product.name) } }
}

fn color(product: &Product) -> Markup {
    html! { p.product-color id=(format!("product-{}-color", product.id)) { (product.color) } }
}

fn price(product: &Product) -> Markup {
    html! {
        p.product-price id=(format!("product-{}-price", product.id)) {
            (format_cents(product.price_cents.into()))
        }
    }
}

/// `#product-<id>-description`: the admin's paragraphs.
fn description(product: &Product) -> Markup {
    html! {
        div.product-description id=(format!("product-{}-description", product.id)) {
            @for paragraph in paragraphs(&product.listing.description) { p { (paragraph) } }
        }
    }
}

/// Every element of a product's card and page an admin's edit can change, by id, for the
/// `product_changed` push (no CSRF token: the frame is shared; the shim adds the page's).
pub fn details(product: &Product, now: DateTime<Utc>) -> Markup {
    html! {
        (picture(product, false))
        (brand(product))
        (name(product))
        (color(product))
        (price(product))
        (limit(product))
        (description(product))
        (sizes(product, now, None))
    }
}

/// `#product-<id>-sizes` once a product is off the store (archived, or back to draft), for
/// the `product_removed` push.
pub fn gone(product_id: ProductId) -> Markup {
    html! {
        div id=(format!("product-{product_id}-sizes")) .product-sizes {
            p.product-gone { "This product is no longer available." }
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
    use crate::domain::ItemId;

    #[test]
    fn sold_out_sizes_are_disabled_and_carry_their_level() {
        let item = |count| Item {
            id: ItemId(7),
            product_id: ProductId(1),
            size: "9.5".into(),
            sku: "X-9.5".into(),
            available_count: count,
            version: 1,
            position: 0,
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
            listing: Default::default(),
            items: (1..=3)
                .map(|n| Item {
                    id: ItemId(n),
                    product_id: ProductId(1),
                    size: n.to_string(),
                    sku: format!("X-{n}"),
                    available_count: 5,
                    version: 1,
                    position: 0,
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
