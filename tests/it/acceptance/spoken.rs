//! What a screen reader says when one thing happens that reaches the page by two ways: one
//! sentence. A carted pair selling out is pushed on the product's topic and on the cart's; a
//! drop's countdown reaches zero as the release is pushed. Each test ends with a marker (a
//! later, unrelated change) whose sentence proves anything said about the first has arrived.

use std::time::Duration;

use sneakers::domain::ItemId;
use sneakers::web::wire::ProductJson;

use super::chrome::Browser;
use super::harness::run;
use super::{add_to_cart, in_stock, open_live, product_by_id, released};
use crate::helpers::{Backend, TestApp};

async fn announced(browser: &Browser) -> Vec<String> {
    let all = browser.js("return window.__sneakersTest.announced;").await;
    all.as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

async fn wait_said(browser: &Browser, words: &str) {
    browser
        .wait_for(
            &format!("the page says {words:?}"),
            &format!("window.__sneakersTest.announced.indexOf({words:?}) >= 0"),
        )
        .await;
}

/// Sells every pair of `item` left. A pair the shopper carted may be held for them a while:
/// the sale goes through once nothing holds it any more.
async fn sell_all(app: &TestApp, item: ItemId, count: i32) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match app.admin.sell(item, count).await {
            Ok(_) => return,
            Err(e) => assert!(
                tokio::time::Instant::now() < deadline,
                "the {count} pairs of size {item} never became sellable: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Moves `item` to another level (a sale to low, or a restock), which the page says aloud;
/// returns the sentence.
async fn marker(app: &TestApp, product: &ProductJson, item: ItemId) -> String {
    let now = app.item(item).await;
    let size = now.size.clone();
    let what = format!("Size {size} of the {} {}", product.brand, product.name);
    if now.available_count == 0 {
        app.set_stock(item, 100).await;
        format!("{what} is back in stock.")
    } else if now.available_count > 149 {
        app.set_stock(item, 100).await;
        format!("{what} is now low on stock.")
    } else {
        app.set_stock(item, 0).await;
        format!("{what} is sold out.")
    }
}

/// On the product page with the pair in the cart, its hold ends unpaid and then the last pairs
/// of its size sell: the line says its hold ended, then is marked sold out as the size goes out,
/// and the reader hears one sentence for each: the hold ending, then the cart's warning (not
/// also the size's "sold out" from the product's topic).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s46_a_carted_pair_selling_out_is_said_once() {
    run(
        "s46_a_carted_pair_selling_out_is_said_once",
        1,
        |ctx| async move {
            // The carted pair is held for the shopper: a short hold lets its size sell out.
            let app = TestApp::start_with(Backend::Sqlite, |config| {
                config.hold = Duration::from_secs(2)
            })
            .await;
            let product = released(&app).await.remove(0);
            let carted = in_stock(&product).id;
            let other = product
                .items
                .iter()
                .find(|i| i.id != carted)
                .unwrap_or_else(|| panic!("{} has one size only", product.sku))
                .id;
            // Low already: putting a pair in the cart (and any hold on it) says nothing.
            app.set_stock(carted, 5).await;
            app.set_stock(other, 500).await;
            let browser = ctx.browser(&app).await;
            open_live(&browser, &format!("/products/{}", product.id)).await;
            add_to_cart(&browser, carted, 1).await;
            let size = app.item(carted).await.size;
            let before = announced(&browser).await;
            let line = format!("#cart li[data-item-id=\"{carted}\"]");

            browser
                .wait_for(
                    "the line says its hold ended",
                    &format!(
                        "!!document.querySelector('{line}[data-hold-ended]:not([data-sold-out])')"
                    ),
                )
                .await;
            let ended = format!(
                "Your hold on size {size} of the {} {} has ended: the pair is back on sale.",
                product.brand, product.name
            );
            wait_said(&browser, &ended).await;

            sell_all(&app, carted, app.item(carted).await.available_count).await;
            browser
                .wait_for(
                    "the cart marks the pair sold out",
                    &format!("!!document.querySelector('{line}[data-hold-ended][data-sold-out]')"),
                )
                .await;
            let warning = format!(
                "Size {size} of the {} {} in your cart has sold out.",
                product.brand, product.name
            );
            wait_said(&browser, &warning).await;
            let then = marker(&app, &product, other).await;
            wait_said(&browser, &then).await;

            let said: Vec<String> = announced(&browser).await.split_off(before.len());
            assert_eq!(
                said,
                vec![ended, warning, then],
                "the hold ending is one sentence, and the sale of the carted pair one more"
            );
        },
    )
    .await
}

/// A scheduled drop on its page: the countdown runs out as the release is pushed; the reader
/// hears one sentence about the drop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s47_a_drop_is_said_once() {
    run("s47_a_drop_is_said_once", 1, |ctx| async move {
        let app = TestApp::start(Backend::Sqlite).await;
        let soon = app.product(false).await;
        let browser = ctx.browser(&app).await;
        app.schedule_release(soon.id, chrono::Utc::now() + chrono::Duration::seconds(6))
            .await;
        open_live(&browser, &format!("/products/{}", soon.id)).await;
        browser
            .wait_for(
                "the drop counts down",
                "/^in \\d+s/.test(document.querySelector('main time[data-countdown-to]').textContent)",
            )
            .await;
        assert_eq!(announced(&browser).await, Vec::<String>::new());
        browser
            .wait_for_within(
                "the sizes of the drop",
                &format!(
                    "!!document.querySelector('#product-{}-sizes [data-level]')",
                    soon.id
                ),
                Duration::from_secs(15),
            )
            .await;
        let product = product_by_id(&app, soon.id).await;
        let released = format!(
            "The {} {} is on sale now: choose a size.",
            product.brand, product.name
        );
        let countdown = format!("{} {} drops now.", product.brand, product.name);
        browser
            .wait_for(
                "the drop is said",
                &format!(
                    "window.__sneakersTest.announced.some(function (w) {{ return w === {released:?} || w === {countdown:?}; }})"
                ),
            )
            .await;
        let then = marker(&app, &product, product.items[0].id).await;
        wait_said(&browser, &then).await;

        let said = announced(&browser).await;
        assert_eq!(said.len(), 2, "one sentence for the drop, then the marker: {said:?}");
        assert!(
            said[0] == released || said[0] == countdown,
            "the drop's sentence: {said:?}"
        );
        assert_eq!(said[1], then);
    })
    .await
}
