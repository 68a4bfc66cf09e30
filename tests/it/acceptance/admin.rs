//! The admin dashboard's live counts, as an admin sees them while shoppers come and go.

use super::chrome::Browser;
use super::harness::run;
use super::{add_to_cart, admin_url, in_stock, open_live, released};
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp};

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

/// Scenario 12: `/admin` while `sneakers sell-random --until-gone --rate 50` runs: the sales
/// chart moves and the drop's sell-through bar fills to sold out, without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s12_admin_watches_a_drop_sell_out() {
    run("s12_admin_watches_a_drop_sell_out", 1, |ctx| async move {
        let app = TestApp::start(Backend::Sqlite).await;
        let products = released(&app).await;
        // A small drop: four pairs a size of the first product, nothing left elsewhere.
        for (i, product) in products.iter().enumerate() {
            for item in &product.items {
                app.set_stock(item.id, if i == 0 { 4 } else { 0 }).await;
            }
        }
        let watched = products[0].id;
        let admin = ctx.browser(&app).await;
        admin.goto_url(&admin_url(&app)).await;
        admin.wait_for_path("/admin").await;
        admin.wait_joined("admin:cart_tracker", 1).await;
        admin.mark_document().await;
        let points = "document.querySelector('#admin-sales-chart polyline.series--all').getAttribute('points')";
        let before = admin.js(&format!("return {points};")).await;
        let bar = format!("#admin-sell-through [data-product-id=\"{watched}\"]");
        let filled = admin
            .js(&format!("return document.querySelector('{bar}').getAttribute('data-permille');"))
            .await;
        assert_ne!(filled, serde_json::json!("1000"), "pairs are left before the run");

        let seller = tokio::process::Command::new(env!("CARGO_BIN_EXE_sneakers"))
            .args(["sell-random", "--until-gone", "--rate", "50", "--url", &app.url])
            .env("ADMIN_USERNAME", ADMIN_USER)
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run sell-random: {e}"));
        admin
            .wait_for(
                "the sales chart moves",
                &format!("{points} !== {before}"),
            )
            .await;
        let out = seller.wait_with_output().await.unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        admin
            .wait_for(
                "the drop's bar fills to sold out",
                &format!("document.querySelector('{bar}[data-permille=\"1000\"]')"),
            )
            .await;
        admin.assert_not_reloaded("the dashboard").await;
        admin
            .wait_for(
                "the latest orders panel is on the page",
                "document.querySelector('#admin-orders')",
            )
            .await;
    })
    .await;
}
