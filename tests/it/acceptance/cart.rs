//! The cart panel: shared by a shopper's tabs, and warning when a carted pair sells out.

use super::harness::run;
use super::{add_to_cart, cart_topic, in_stock, open_live, released, wait_cart};
use crate::helpers::{Backend, TestApp};

const EMPTY_CART: &str = "document.querySelector('aside#cart[data-count=\"0\"]') && \
                          !document.querySelector('#cart li.cart-line')";

/// Scenario 3: a size added in tab 1 shows in tab 2's cart panel without a reload; removed in
/// tab 2, it leaves tab 1's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s03_cart_follows_the_shopper_across_tabs() {
    run(
        "s03_cart_follows_the_shopper_across_tabs",
        1,
        |ctx| async move {
            let app = TestApp::start(Backend::Sqlite).await;
            let item = in_stock(&released(&app).await[0]).id;
            let browser = ctx.browser(&app).await;
            open_live(&browser, "/").await;
            let tab1 = browser.window().await;
            let topic = cart_topic(&browser).await;
            browser.mark_document().await;

            let tab2 = browser.open_window("/").await;
            super::wait_live(&browser).await;
            assert_eq!(
                cart_topic(&browser).await,
                topic,
                "two tabs of one browser share the cart"
            );
            browser
                .wait_for("tab 2 starts with an empty cart", EMPTY_CART)
                .await;
            browser.mark_document().await;

            browser.switch_to(&tab1).await;
            add_to_cart(&browser, item, 1).await;
            browser.switch_to(&tab2).await;
            wait_cart(&browser, item, 1).await;
            browser.assert_not_reloaded("tab 2").await;

            browser
                .click(&format!(
                    "#cart li.cart-line[data-item-id=\"{item}\"] form.cart-line__remove button"
                ))
                .await;
            browser.wait_for("tab 2's cart empties", EMPTY_CART).await;
            browser.switch_to(&tab1).await;
            browser.wait_for("tab 1's cart empties", EMPTY_CART).await;
            browser.assert_not_reloaded("tab 1").await;
            browser.switch_to(&tab2).await;
            browser.assert_not_reloaded("tab 2").await;
        },
    )
    .await
}

/// Scenario 4: a carted pair is held: its line counts down to the hold's end, and when the
/// hold ends unpaid the line stays as a warning (nothing held, the pair back on sale) and the
/// pair is back on the page, without a reload; the shopper holds it again from the line, then
/// removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s04_the_cart_counts_a_hold_down_and_lets_it_go() {
    run("s04_the_cart_counts_a_hold_down_and_lets_it_go", 1, |ctx| async move {
        let app = TestApp::start_with(Backend::Sqlite, |config| {
            config.hold = std::time::Duration::from_secs(4);
        })
        .await;
        let item = in_stock(&released(&app).await[0]).id;
        app.set_stock(item, 1).await;
        let browser = ctx.browser(&app).await;
        open_live(&browser, "/").await;
        browser.mark_document().await;
        add_to_cart(&browser, item, 1).await;
        let line = format!("#cart li.cart-line[data-item-id=\"{item}\"]");
        browser
            .wait_for(
                "the line counts its hold down",
                &format!(
                    "(function () {{ var t = document.querySelector('{line} .cart-line__hold time'); \
                     return !!t && t.textContent.indexOf('in ') === 0; }})()"
                ),
            )
            .await;
        browser
            .wait_for(
                "the held pair is out for everyone else",
                &format!("document.querySelector('#item-{item}[data-level=\"out\"]')"),
            )
            .await;
        let ended = format!(
            "aside#cart[data-count=\"0\"] li.cart-line[data-item-id=\"{item}\"][data-hold-ended]:not([data-sold-out])"
        );
        browser
            .wait_for(
                "the hold ends: the line says so and nothing is held",
                &format!(
                    "(function () {{ var l = document.querySelector('{ended}'); \
                     return !!l && l.textContent.indexOf('Your hold ended') >= 0; }})()"
                ),
            )
            .await;
        browser
            .wait_for(
                "the pair is back on the page",
                &format!("document.querySelector('#item-{item}[data-level=\"low\"]')"),
            )
            .await;
        browser.assert_not_reloaded("hold ending").await;

        browser.click(&format!("{line} form.cart-line__again button")).await;
        wait_cart(&browser, item, 1).await;
        browser
            .click(&format!("{line} form.cart-line__remove button"))
            .await;
        browser.wait_for("the line is gone", EMPTY_CART).await;
        browser.assert_not_reloaded("holding again and removing").await;
    })
    .await
}
