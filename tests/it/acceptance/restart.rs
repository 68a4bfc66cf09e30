//! The store's process killed (SIGKILL: no goodbye, no 1012) and started again on its port, as
//! a crashed dyno is: open pages say they are reconnecting after a moment, come back without
//! a reload, keep what the shopper chose (the pair in the cart) and what the admin typed (a
//! live form, sent again after the rejoin and re-rendered by the new process as it was), and
//! are live again.

use std::net::TcpListener;

use fantoccini::Locator;
use sneakers::config::Database;
use sneakers::domain::Level;

use super::chrome::Browser;
use super::harness::run;
use super::{cart_topic, open_live, wait_cart};
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, seeded_database};
use crate::nodes::Node;

const SHOWN: &str = "(function () { var s = document.getElementById('connection-status'); \
    return !!s && !s.hidden && s.getAttribute('role') === 'status' \
    && getComputedStyle(s).display !== 'none'; })()";

fn free_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local addr: {e}"))
        .port();
    port.to_string()
}

/// Quick reconnects, so the test does not wait out the back-off.
async fn quick_retries(browser: &Browser) {
    browser
        .js("Math.random = function () { return 0.05; }; return null;")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s48_pages_come_back_from_a_killed_process() {
    run(
        "s48_pages_come_back_from_a_killed_process",
        2,
        |ctx| async move {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
            let url = match seeded_database(Backend::Sqlite, &dir).await {
                Database::Sqlite { path } => format!("sqlite://{}", path.display()),
                Database::Postgres(_) => unreachable!("a SQLite database was asked for"),
            };
            let port = free_port();
            let env = [("PORT", port.as_str())];
            let mut node = Node::start_with(&url, "solo", &env).await;
            ctx.expect_console_error("WebSocket connection to");
            ctx.expect_console_error("ERR_CONNECTION_REFUSED");

            let inventory = node
                .admin
                .inventory()
                .await
                .unwrap_or_else(|e| panic!("inventory: {e}"));
            let product = inventory
                .products
                .iter()
                .find(|p| {
                    p.released && p.items.iter().filter(|i| i.available_count > 0).count() >= 2
                })
                .unwrap_or_else(|| panic!("no released product with two sizes in stock"))
                .clone();
            let mut in_stock = product.items.iter().filter(|i| i.available_count > 0);
            let (carted, watched) = match (in_stock.next(), in_stock.next()) {
                (Some(a), Some(b)) => (a.clone(), b.clone()),
                _ => unreachable!("the product was picked with two sizes in stock"),
            };
            let soon = inventory
                .products
                .iter()
                .find(|p| !p.released)
                .unwrap_or_else(|| panic!("no product to come"))
                .clone();

            // The shopper chose a size: it is in the cart.
            let shopper = ctx.browser_at(&node.url).await;
            open_live(&shopper, &format!("/products/{}", product.id)).await;
            shopper
                .click(&format!("#item-{} button.size__button", carted.id))
                .await;
            wait_cart(&shopper, carted.id, 1).await;
            let cart = cart_topic(&shopper).await;
            shopper.mark_document().await;
            quick_retries(&shopper).await;

            // The admin typed a limit the server refuses, and moved on.
            let admin = ctx.browser_at(&node.url).await;
            let host = node.url.trim_start_matches("http://");
            admin
                .goto_url(&format!(
                    "http://{ADMIN_USER}:{ADMIN_PASSWORD}@{host}/admin"
                ))
                .await;
            admin.wait_joined("admin:cart_tracker", 1).await;
            let field = format!("#admin-limit-{} input[name=max]", soon.id);
            let input = admin
                .client
                .find(Locator::Css(&field))
                .await
                .unwrap_or_else(|e| panic!("{field}: {e}"));
            input
                .clear()
                .await
                .unwrap_or_else(|e| panic!("clearing {field}: {e}"));
            input
                .send_keys("250")
                .await
                .unwrap_or_else(|e| panic!("typing in {field}: {e}"));
            let error = format!("#admin-limit-{}-error", soon.id);
            admin
                .wait_for(
                    "the server's check of the field",
                    &format!("!!document.querySelector({error:?})"),
                )
                .await;
            admin
                .js("document.activeElement.blur(); return null;")
                .await;
            admin.mark_document().await;
            quick_retries(&admin).await;
            let sent = admin
                .js("return window.__sneakersTest.sent.validate;")
                .await
                .as_u64()
                .unwrap_or(0);

            node.kill_hard();
            shopper
                .wait_for("the shopper's page says it is reconnecting", SHOWN)
                .await;
            admin
                .wait_for("the dashboard says it is reconnecting", SHOWN)
                .await;

            let node = Node::start_with(&url, "solo", &env).await;
            shopper.wait_joined(&cart, 2).await;
            shopper
                .wait_for(
                    "the notice leaves once the page has rejoined",
                    &format!("!{SHOWN} && window.Sneakers.socketState() === 'open'"),
                )
                .await;
            wait_cart(&shopper, carted.id, 1).await;
            // Live again: a sale on the new process reaches the page.
            let left = node
                .available_count(watched.id)
                .await
                .unwrap_or_else(|| panic!("the new process knows no size {}", watched.id));
            let (sell, level) = if left > 149 {
                (left - 100, Level::Low)
            } else {
                (left, Level::Out)
            };
            node.admin
                .sell(watched.id, sell)
                .await
                .unwrap_or_else(|e| panic!("sell: {e}"));
            shopper
                .wait_for(
                    &format!("size {} shows {}", watched.id, level.as_str()),
                    &format!(
                        "document.getElementById('item-{}').getAttribute('data-level') === '{}'",
                        watched.id,
                        level.as_str()
                    ),
                )
                .await;
            shopper.assert_not_reloaded("the restart").await;

            admin.wait_joined("admin:cart_tracker", 2).await;
            admin
                .wait_for(
                    "the form is sent again after the rejoin",
                    &format!("window.__sneakersTest.sent.validate > {sent}"),
                )
                .await;
            admin
                .wait_for(
                    "the dashboard's notice leaves",
                    &format!("!{SHOWN} && window.Sneakers.socketState() === 'open'"),
                )
                .await;
            let value = admin
                .js(&format!("return document.querySelector({field:?}).value;"))
                .await;
            assert_eq!(value, "250", "the typed value survived the killed process");
            assert!(
                admin.text(&error).await.contains("whole number"),
                "the new process's re-render names the problem again"
            );
            admin.assert_not_reloaded("the restart").await;
        },
    )
    .await
}
