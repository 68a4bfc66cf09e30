//! Behind a proxy that refuses WebSocket upgrades, the shim falls back to LongPoll after a few
//! seconds, stays live (a sale shows on the page, the cart panel follows), and keeps LongPoll
//! for the tab: a reload goes straight to it.

use sneakers::domain::Level;

use super::harness::run;
use super::{in_stock, released};
use crate::helpers::{Backend, TestApp};
use crate::proxy::round_robin;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s30_blocked_websockets_fall_back_to_longpoll() {
    run(
        "s30_blocked_websockets_fall_back_to_longpoll",
        1,
        |ctx| async move {
            let app = TestApp::start(Backend::Sqlite).await;
            let proxy = round_robin(vec![app.url.clone()], true).await;
            // The refused upgrades are logged by Chromium: they are the point of this scenario.
            ctx.expect_console_error("WebSocket connection to");
            let browser = ctx.browser_at(&proxy.url).await;
            let product = released(&app).await.remove(0);
            let item = in_stock(&product).clone();
            browser.goto(&format!("/products/{}", product.id)).await;
            let on_longpoll = "window.Sneakers && window.Sneakers.transport() === 'longpoll' \
                           && window.Sneakers.socketState() === 'open' \
                           && sessionStorage.getItem('sneakers:transport') === 'longpoll'";
            // 2.5 s of failed upgrades, at jittered reconnect moments: up to about 8 s.
            browser
                .wait_for_within(
                    "the shim falls back to LongPoll",
                    on_longpoll,
                    std::time::Duration::from_secs(20),
                )
                .await;

            // Live over LongPoll: the last pair sells elsewhere, the size shows it.
            app.set_stock(item.id, 1).await;
            app.admin
                .sell(item.id, 1)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            browser
                .wait_for(
                    &format!("size {} shows sold out", item.id),
                    &format!(
                        "(function () {{ var f = document.getElementById('item-{}'); \
                     return !!f && f.getAttribute('data-level') === '{}'; }})()",
                        item.id,
                        Level::Out.as_str()
                    ),
                )
                .await;

            // The tab remembers: a reload opens LongPoll without trying a WebSocket first.
            browser.goto(&format!("/products/{}", product.id)).await;
            browser
                .wait_for("LongPoll again after a reload", on_longpoll)
                .await;
            let tried = browser
                .js("return window.__sneakersTest ? window.__sneakersTest.closes.length : -1;")
                .await;
            assert_eq!(
                tried,
                serde_json::json!(0),
                "no WebSocket tried after the reload"
            );
        },
    )
    .await;
}
