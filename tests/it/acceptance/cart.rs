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

/// Scenario 4: a carted pair sells out through the admin API; the cart panel marks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s04_cart_marks_a_pair_that_sold_out() {
    run("s04_cart_marks_a_pair_that_sold_out", 1, |ctx| async move {
        let app = TestApp::start(Backend::Sqlite).await;
        let item = in_stock(&released(&app).await[0]).id;
        app.set_stock(item, 3).await;
        let browser = ctx.browser(&app).await;
        open_live(&browser, "/").await;
        browser.mark_document().await;
        add_to_cart(&browser, item, 1).await;
        let line = format!("#cart li.cart-line[data-item-id=\"{item}\"]");
        assert_eq!(
            browser.attr(&line, "data-sold-out").await,
            None,
            "an available pair is not marked"
        );

        app.set_stock(item, 0).await;
        browser
            .wait_for(
                "the cart line is marked sold out",
                &format!(
                    "(function () {{ var l = document.querySelector('{line}'); \
                     return !!l && l.hasAttribute('data-sold-out') && \
                     l.classList.contains('cart-line--sold-out') && \
                     l.textContent.indexOf('Sold out') >= 0; }})()"
                ),
            )
            .await;
        browser.assert_not_reloaded("sell-out").await;
    })
    .await
}
