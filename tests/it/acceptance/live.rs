//! Live pages: a drop appears without a reload, stock levels follow sales, a restarted server
//! is rejoined by itself.

use sneakers::domain::ItemId;
use std::time::{Duration, Instant};

use sneakers::domain::Level;

use super::chrome::Browser;
use super::harness::run;
use super::{in_stock, open_live, product_by_id, released};
use crate::helpers::{Backend, TestApp};

/// The size `#item-<id>` shows `level` every way a shopper can tell: `data-level`, its class,
/// its label, and a disabled button when sold out.
fn shows_level(item_id: ItemId, level: Level) -> String {
    format!(
        "(function () {{ var f = document.getElementById('item-{item_id}'); if (!f) return false; \
         var b = f.querySelector('button.size__button'), l = f.querySelector('.size__level'); \
         return f.getAttribute('data-level') === '{level}' && f.classList.contains('size--{level}') \
         && !!l && l.textContent.trim() === {label:?} && !!b && b.disabled === {disabled}; }})()",
        level = level.as_str(),
        label = level.label(),
        disabled = level.is_out(),
    )
}

async fn wait_level(browser: &Browser, item_id: ItemId, level: Level) {
    browser
        .wait_for(
            &format!("size {item_id} shows level {}", level.as_str()),
            &shows_level(item_id, level),
        )
        .await;
}

/// Scenario 1: a shopper on `/` sees a "coming soon" product; an admin releases it; within a
/// second the page shows its size buttons, without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s01_release_shows_sizes_without_reload() {
    run("s01_release_shows_sizes_without_reload", 1, |ctx| async move {
        let app = TestApp::start(Backend::Sqlite).await;
        let product = app.product(false).await;
        let sizes = format!("#product-{}-sizes", product.id);
        let browser = ctx.browser(&app).await;
        open_live(&browser, "/").await;

        let soon = browser.text(&format!("{sizes} .coming-soon")).await;
        assert!(
            soon.contains("Coming soon"),
            "{} shows \"Coming soon\" before its drop, got {soon:?}",
            product.name
        );
        assert_eq!(browser.count(&format!("{sizes} .size")).await, 0);
        browser.mark_document().await;

        let started = Instant::now();
        app.admin
            .release(&product.id.to_string())
            .await
            .unwrap_or_else(|e| panic!("release: {e}"));
        let all_sizes = format!(
            "document.querySelectorAll('{sizes} .size button.size__button').length === {} \
             && !document.querySelector('{sizes} .coming-soon')",
            product.items.len()
        );
        browser
            .wait_for("the released product's size buttons", &all_sizes)
            .await;
        let took = started.elapsed();
        assert!(
            took <= Duration::from_secs(1),
            "the sizes appeared {took:?} after the release; the page must show them within a second"
        );
        browser.assert_not_reloaded("release").await;
        for item in &product_by_id(&app, product.id).await.items {
            let level = Level::for_count(item.available_count);
            assert!(
                browser
                    .js(&format!("return {};", shows_level(item.id, level)))
                    .await
                    .as_bool()
                    .unwrap_or(false),
                "size {} shows level {}",
                item.size,
                level.as_str()
            );
        }
    })
    .await
}

/// Scenario 2: sales through the admin API move a size from `high` to `out` on an open page; the
/// button follows every level change and ends disabled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s02_sales_move_a_size_from_high_to_out() {
    run(
        "s02_sales_move_a_size_from_high_to_out",
        1,
        |ctx| async move {
            let app = TestApp::start(Backend::Sqlite).await;
            let product = released(&app).await.remove(0);
            let item = in_stock(&product).id;
            app.set_stock(item, 500).await;
            let browser = ctx.browser(&app).await;
            open_live(&browser, &format!("/products/{}", product.id)).await;
            wait_level(&browser, item, Level::High).await;
            browser.mark_document().await;

            for (count, level) in [(499, Level::Medium), (149, Level::Low), (0, Level::Out)] {
                app.set_stock(item, count).await;
                wait_level(&browser, item, level).await;
            }
            browser.assert_not_reloaded("sales").await;
        },
    )
    .await
}

/// Scenario 9: the server restarts on the same port; the page says it is reconnecting, comes
/// back by itself and shows the stock change made while it was away, then follows new ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s09_reconnects_after_a_restart_and_converges() {
    run(
        "s09_reconnects_after_a_restart_and_converges",
        1,
        |ctx| async move {
            let mut app = TestApp::start(Backend::Sqlite).await;
            let product = released(&app).await.remove(0);
            let item = in_stock(&product).id;
            app.set_stock(item, 500).await;
            let topic = format!("product:{}", product.id);
            let browser = ctx.browser(&app).await;
            // While the server is down the browser may log refused connections.
            ctx.expect_console_error("WebSocket connection to");
            open_live(&browser, &format!("/products/{}", product.id)).await;
            wait_level(&browser, item, Level::High).await;
            browser.mark_document().await;
            // The shim waits a random part of a 5 s window after a restart (full jitter); pin
            // the draw near the top so the page is surely away while the stock changes.
            browser
                .js("Math.random = function () { return 0.999; }; return null;")
                .await;

            app.restart().await;
            app.set_stock(item, 499).await;
            let joins = browser
                .js(&format!("return window.__sneakersTest.joined[{topic:?}];"))
                .await;
            assert_eq!(
                joins.as_u64(),
                Some(1),
                "the page rejoined before the change; the scenario needs it away"
            );

            browser
                .wait_for(
                    "the page shows \"Reconnecting…\"",
                    "(function () { var s = document.getElementById('connection-status'); \
                     return !!s && !s.hidden && getComputedStyle(s).display !== 'none' \
                     && s.textContent.indexOf('Reconnecting') >= 0; })()",
                )
                .await;
            let closes = browser.js("return window.__sneakersTest.closes;").await;
            assert!(
                closes
                    .as_array()
                    .is_some_and(|c| c.iter().any(|code| code.as_u64() == Some(1012))),
                "the server closed the socket with 1012 (service restart), got {closes}"
            );

            browser
                .wait_for_within(
                    "the page reconnects by itself and hides the notice",
                    &format!(
                        "window.Sneakers.socketState() === 'open' && \
                         window.__sneakersTest.joined[{topic:?}] >= 2 && \
                         document.getElementById('connection-status').hidden"
                    ),
                    Duration::from_secs(15),
                )
                .await;
            wait_level(&browser, item, Level::Medium).await;
            browser.assert_not_reloaded("reconnect").await;

            // Live again, not just a fresh state at join.
            app.set_stock(item, 149).await;
            wait_level(&browser, item, Level::Low).await;
        },
    )
    .await
}
