//! Acceptance tests: the store as shoppers and admins see it, in headless Chromium driven over
//! chromedriver, against the real server on an ephemeral port (issue 7, the book's chapter 8).
//!
//! Every scenario is its own test and runs through [`harness::run`]: at most two Chromiums at
//! once over the whole binary; a failure saves a screenshot and the HTML of each browser under
//! `target/acceptance-failures/<test>.{png,html}`; a passing scenario must leave no error in the
//! browser console. Waits poll the page (every 50 ms, 10 s at most), never sleep blindly.

mod a11y;
mod admin;
mod cart;
mod catalog;
mod checkout;
mod chrome;
mod console;
mod draw;
mod fair;
mod harness;
mod live;
mod longpoll;
mod pictures;
mod restart;
mod screenshots;
mod shim;
mod spoken;

use sneakers::domain::{ItemId, ProductId};
use sneakers::web::wire::{ItemJson, ProductJson};

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, TestApp};
use chrome::Browser;

/// Released products, in catalog order.
async fn released(app: &TestApp) -> Vec<ProductJson> {
    app.inventory_json()
        .await
        .products
        .into_iter()
        .filter(|p| p.released)
        .collect()
}

async fn product_by_id(app: &TestApp, id: ProductId) -> ProductJson {
    app.inventory_json()
        .await
        .products
        .into_iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("no product {id}"))
}

/// The first size of `product` that is still in stock.
fn in_stock(product: &ProductJson) -> &ItemJson {
    product
        .items
        .iter()
        .find(|i| i.available_count > 0)
        .unwrap_or_else(|| panic!("{} has no size in stock", product.sku))
}

fn price_cents(app: &TestApp, item_id: ItemId) -> i32 {
    app.inventory()
        .read(|c| c.item(item_id).map(|(p, _)| p.price_cents))
        .unwrap_or_else(|| panic!("no item {item_id}"))
}

/// `cart:<cart_id>` of the page in the browser's current window.
async fn cart_topic(browser: &Browser) -> String {
    let id = browser
        .attr("meta[name=\"cart-id\"]", "content")
        .await
        .unwrap_or_else(|| panic!("the page has no cart-id meta tag"));
    format!("cart:{id}")
}

/// Loads `path` and waits until the page is live: the cart and every product on it joined.
async fn open_live(browser: &Browser, path: &str) {
    browser.goto(path).await;
    wait_live(browser).await;
}

async fn wait_live(browser: &Browser) {
    let topic = cart_topic(browser).await;
    browser.wait_joined(&topic, 1).await;
    let ids = browser
        .js("return Array.from(new Set(Array.from(document.querySelectorAll('[data-product-id]')).map(function (e) { return e.getAttribute('data-product-id'); })));")
        .await;
    for id in ids.as_array().into_iter().flatten() {
        if let Some(id) = id.as_str() {
            browser.wait_joined(&format!("product:{id}"), 1).await;
        }
    }
}

/// Clicks a size's button (the shim adds it over the socket) and waits for the cart to hold it.
async fn add_to_cart(browser: &Browser, item_id: ItemId, count_after: usize) {
    browser
        .click(&format!("#item-{item_id} button.size__button"))
        .await;
    wait_cart(browser, item_id, count_after).await;
}

async fn wait_cart(browser: &Browser, item_id: ItemId, count: usize) {
    browser
        .wait_for(
            &format!("the cart panel shows size {item_id} and {count} pair(s)"),
            &format!(
                "document.querySelector('aside#cart[data-count=\"{count}\"] li.cart-line[data-item-id=\"{item_id}\"]')"
            ),
        )
        .await;
}

/// `/admin` with the Basic credentials in the URL (Chromium sends them for a top-level visit).
fn admin_url(app: &TestApp) -> String {
    let host = app.url.trim_start_matches("http://");
    format!("http://{ADMIN_USER}:{ADMIN_PASSWORD}@{host}/admin")
}

/// Signs up in the browser as a shopper does: the form, then the link the store mailed (read
/// from its outbox) and its confirm button; the browser ends on `/account`, signed in.
async fn sign_up(browser: &Browser, app: &TestApp, email: &str) {
    browser.goto("/account/signup").await;
    browser
        .js(&format!(
            "document.querySelector('#email').value = '{email}'; document.querySelector('#password').value = 'a long enough password'; return null;"
        ))
        .await;
    browser.click(".account-form button[type=\"submit\"]").await;
    browser.wait_for_path("/account/signup/sent").await;
    let token = crate::mail::link_token(&app.db, email).await;
    browser
        .goto(&format!("/account/verify?token={token}"))
        .await;
    browser.click("#confirm").await;
    browser.wait_for_path("/account").await;
}
