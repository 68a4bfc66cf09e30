//! The admin dashboard's live counts, as an admin sees them while shoppers come and go.

use super::chrome::Browser;
use super::harness::run;
use super::{add_to_cart, admin_url, in_stock, open_live, released};
use crate::helpers::{Backend, TestApp};

/// Waits until the dashboard (the current window) shows these shoppers, pages and carted pairs.
async fn wait_counts(browser: &Browser, when: &str, shoppers: u32, pages: u32, items: u32) {
    browser
        .wait_for(
            &format!("{when}: the dashboard shows {shoppers} shopper(s), {pages} page(s), {items} carted pair(s)"),
            &format!(
                "document.querySelector('#admin-shoppers[data-count=\"{shoppers}\"]') && \
                 document.querySelector('#admin-pages[data-count=\"{pages}\"]') && \
                 document.querySelector('#admin-items[data-count=\"{items}\"]')"
            ),
        )
        .await;
}

/// Scenario 8: with Basic auth, the shopper count goes 0 -> 1 -> 2 as two shopper windows open,
/// the page and carted-item counts follow, and they drop when a window closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s08_admin_dashboard_counts_shoppers_live() {
    run("s08_admin_dashboard_counts_shoppers_live", 2, |ctx| async move {
        let app = TestApp::start(Backend::Sqlite).await;
        let product = released(&app).await.remove(0);
        let item = in_stock(&product).id;

        let admin = ctx.browser(&app).await;
        admin.goto_url(&admin_url(&app)).await;
        admin.wait_for_path("/admin").await;
        admin.wait_joined("admin:cart_tracker", 1).await;
        let dashboard = admin.window().await;
        wait_counts(&admin, "no shopper yet", 0, 0, 0).await;
        admin.mark_document().await;

        // Shopper 1: another window of the admin's browser (its own session: the admin page
        // has none).
        let shopper1 = admin.open_window("/").await;
        super::wait_live(&admin).await;
        admin.switch_to(&dashboard).await;
        wait_counts(&admin, "shopper 1 on /", 1, 1, 0).await;
        admin.switch_to(&shopper1).await;
        add_to_cart(&admin, item, 1).await;
        admin.switch_to(&dashboard).await;
        wait_counts(&admin, "shopper 1 carted a pair", 1, 1, 1).await;
        admin
            .wait_for(
                "the carted size is listed",
                &format!("document.querySelector('#admin-items [data-item-id=\"{item}\"][data-count=\"1\"]')"),
            )
            .await;

        // Shopper 2: a browser of its own.
        let shopper2 = ctx.browser(&app).await;
        let product_page = format!("/products/{}", product.id);
        open_live(&shopper2, &product_page).await;
        wait_counts(&admin, "shopper 2 on a product page", 2, 2, 1).await;
        admin
            .wait_for(
                "the product page is listed",
                &format!(
                    "document.querySelector('#admin-pages [data-page=\"{product_page}\"][data-count=\"1\"]')"
                ),
            )
            .await;

        // Shopper 1 closes its window.
        admin.switch_to(&shopper1).await;
        admin
            .client
            .close_window()
            .await
            .unwrap_or_else(|e| panic!("close window: {e}"));
        admin.switch_to(&dashboard).await;
        wait_counts(&admin, "shopper 1 closed its window", 1, 1, 0).await;
        // Shopper 2 leaves the store. Chromium keeps the page in its back/forward cache,
        // frozen: its socket must still close at once, or the shopper is counted until the
        // idle timeout.
        shopper2.goto_url("about:blank").await;
        wait_counts(&admin, "shopper 2 left", 0, 0, 0).await;
        // ... and comes back with the Back button: the restored page is live again.
        shopper2
            .client
            .back()
            .await
            .unwrap_or_else(|e| panic!("back: {e}"));
        shopper2.wait_for_path(&product_page).await;
        let topic = super::cart_topic(&shopper2).await;
        let restored = shopper2.js("return window.__sneakersTest.restored;").await;
        // Restored from the cache the page rejoins (a second join); reloaded it joins anew.
        let joins = if restored.as_u64() == Some(1) { 2 } else { 1 };
        shopper2.wait_joined(&topic, joins).await;
        wait_counts(&admin, "shopper 2 came back", 1, 1, 0).await;
        shopper2.goto_url("about:blank").await;
        wait_counts(&admin, "shopper 2 left again", 0, 0, 0).await;
        admin.assert_not_reloaded("the dashboard").await;
    })
    .await
}
