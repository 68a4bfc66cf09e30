//! Checkout as a shopper does it: with the shim, racing another buyer, and without JavaScript.

use sneakers::domain::Level;
use sneakers::domain::money::format_cents;
use sneakers::store;

use super::chrome::Browser;
use super::harness::run;
use super::{add_to_cart, in_stock, open_live, price_cents, released};
use crate::helpers::{Backend, TestApp};

const BUY: &str = "form[action=\"/checkout\"] button[type=\"submit\"]";

/// `#connection-status` is shown, as a status region.
const RECONNECTING: &str = "(function () { var s = document.getElementById('connection-status'); \
    return !!s && !s.hidden && s.getAttribute('role') === 'status' \
    && getComputedStyle(s).display !== 'none'; })()";

/// Scenario 5: two pairs in the cart, `/checkout`, buy, the order page with the right total;
/// the stock shown on an open `/` in another tab dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s05_checkout_buys_two_pairs() {
    run("s05_checkout_buys_two_pairs", 1, |ctx| async move {
        let app = TestApp::start(Backend::Sqlite).await;
        let products = released(&app).await;
        let (a, b) = (in_stock(&products[0]).id, in_stock(&products[1]).id);
        // One pair less crosses a level boundary, so the other tab can see each sale.
        app.set_stock(a, 150).await;
        app.set_stock(b, 500).await;
        let browser = ctx.browser(&app).await;
        open_live(&browser, "/").await;
        add_to_cart(&browser, a, 1).await;
        add_to_cart(&browser, b, 2).await;
        browser.click("#cart a.cart-panel__checkout").await;
        browser.wait_for_path("/checkout").await;
        for item in [a, b] {
            assert_eq!(
                browser.count(&format!("tr[data-item-id=\"{item}\"]")).await,
                1,
                "/checkout lists size {item}"
            );
        }
        let total = format_cents(i64::from(price_cents(&app, a)) + i64::from(price_cents(&app, b)));
        let button = browser.text(BUY).await;
        assert!(
            button.contains("2 pairs") && button.contains(&total),
            "the buy button says what it buys: {button:?}"
        );
        let checkout = browser.window().await;

        // Another tab watches the drop page.
        let shop = browser.open_window("/").await;
        super::wait_live(&browser).await;
        browser.mark_document().await;

        browser.switch_to(&checkout).await;
        browser.fill_checkout(crate::visitor::PAYS).await;
        browser.click(BUY).await;
        browser.wait_for_path("/checkout/complete").await;
        let number = browser.text(".order-number").await;
        assert!(
            number.trim().starts_with('#') && number.trim().len() > 1,
            "the order page shows the order number, got {number:?}"
        );
        assert_eq!(browser.text(".order-total").await.trim(), total);
        assert_eq!(app.item(a).await.available_count, 149);
        assert_eq!(app.item(b).await.available_count, 499);

        browser.switch_to(&shop).await;
        for (item, level) in [(a, Level::Low), (b, Level::Medium)] {
            browser
                .wait_for(
                    &format!("the open drop page shows size {item} at {}", level.as_str()),
                    &format!(
                        "document.querySelector('#item-{item}[data-level=\"{}\"]')",
                        level.as_str()
                    ),
                )
                .await;
        }
        browser.assert_not_reloaded("the other tab").await;
        // The bought pairs leave the other tab's cart panel too.
        browser
            .wait_for(
                "the other tab's cart empties after the purchase",
                "document.querySelector('aside#cart[data-count=\"0\"]')",
            )
            .await;
    })
    .await
}

/// Scenario 6: the cart holds the last pair (nobody else can take it), the checkout page counts
/// the hold down; a declined card says so and keeps the pair; the card that pays places the
/// order, whose page says it is paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s06_a_declined_card_keeps_the_held_pair_then_pays() {
    run(
        "s06_a_declined_card_keeps_the_held_pair_then_pays",
        1,
        |ctx| async move {
            let app = TestApp::start(Backend::Sqlite).await;
            let products = released(&app).await;
            let a = in_stock(&products[0]);
            app.set_stock(a.id, 1).await;
            let browser = ctx.browser(&app).await;
            open_live(&browser, "/").await;
            add_to_cart(&browser, a.id, 1).await;
            assert_eq!(app.item(a.id).await.available_count, 0, "held at add");
            assert!(
                app.admin.sell(a.id, 1).await.is_err(),
                "a held pair is nobody else's"
            );
            browser.click("#cart a.cart-panel__checkout").await;
            browser.wait_for_path("/checkout").await;
            browser
                .wait_for(
                    "the held pair counts down",
                    &format!(
                        "(function () {{ var t = document.querySelector('tr[data-item-id=\"{}\"] time[data-countdown-to]'); \
                         return !!t && t.textContent.indexOf('in ') === 0; }})()",
                        a.id
                    ),
                )
                .await;

            ctx.expect_console_error("status of 402");
            browser.fill_checkout(crate::visitor::DECLINED).await;
            browser.click(BUY).await;
            browser
                .wait_for("the decline is said", "document.querySelector('#payment-error')")
                .await;
            let notice = browser.text("#payment-error").await;
            assert!(
                notice.contains("declined") && notice.contains("Nothing was charged"),
                "{notice:?}"
            );
            assert_eq!(
                browser
                    .count(&format!("tr[data-item-id=\"{}\"]", a.id))
                    .await,
                1,
                "the pair is still held for another try"
            );
            assert_eq!(app.item(a.id).await.available_count, 0);

            browser.fill_checkout(crate::visitor::PAYS).await;
            browser.click(BUY).await;
            browser.wait_for_path("/checkout/complete").await;
            assert_eq!(
                browser
                    .attr("section.order-complete", "data-order-state")
                    .await
                    .as_deref(),
                Some("paid")
            );
            assert_eq!(
                store::orders::pairs_sold(&app.db, a.id)
                    .await
                    .unwrap_or_else(|e| panic!("{e}")),
                1
            );
        },
    )
    .await
}

/// Joins of `topic` the page has had since it loaded.
async fn joins(browser: &Browser, topic: &str) -> u32 {
    browser
        .js(&format!(
            "return window.__sneakersTest.joined[{topic:?}] || 0;"
        ))
        .await
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0)
}

/// What the checkout form holds now, field by field.
async fn checkout_values(browser: &Browser) -> Vec<(String, String)> {
    let values = browser
        .js("return Array.prototype.map.call(document.querySelectorAll('#checkout-form input:not([type=hidden])'), \
             function (i) { return [i.name, i.value]; });")
        .await;
    values
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pair| Some((pair[0].as_str()?.to_string(), pair[1].as_str()?.to_string())))
        .collect()
}

/// Scenario 49: the shopper is filling in checkout when the store restarts (a deploy: the
/// server goes, the page says it is reconnecting, the shopper types on, the server comes
/// back): every field keeps what was typed, the page rejoins without a reload, and the order
/// goes through on the new process. The card's number stays in its field only: the shim
/// sends no field of this form over the socket and keeps none in storage or cookies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s49_checkout_fields_survive_a_restart() {
    run(
        "s49_checkout_fields_survive_a_restart",
        1,
        |ctx| async move {
            let mut app = TestApp::start(Backend::Sqlite).await;
            let products = released(&app).await;
            let a = in_stock(&products[0]).id;
            let browser = ctx.browser(&app).await;
            ctx.expect_console_error("WebSocket connection to");
            ctx.expect_console_error("ERR_CONNECTION_REFUSED");
            open_live(&browser, "/").await;
            add_to_cart(&browser, a, 1).await;
            browser.mark_document().await;
            let cart = super::cart_topic(&browser).await;
            let joins = joins(&browser, &cart).await;
            // The cart's link navigates in place: the page rejoins the cart from /checkout.
            browser.click("#cart a.cart-panel__checkout").await;
            browser.wait_for_path("/checkout").await;
            browser.wait_joined(&cart, joins + 1).await;
            let typed: Vec<(String, String)> = crate::visitor::checkout_form(crate::visitor::PAYS)
                .into_iter()
                .map(|(field, value)| (field.to_string(), value.to_string()))
                .collect();
            // Everything but the postal code now; that one while the store is away.
            for (field, value) in typed.iter().filter(|(f, _)| f != "postal_code") {
                browser
                    .type_into(&format!("#checkout-form [name=\"{field}\"]"), value)
                    .await;
            }
            // Quick retries, so the test does not wait out the back-off.
            browser
                .js("Math.random = function () { return 0.05; }; return null;")
                .await;

            app.stop().await;
            browser
                .wait_for("the page says it is reconnecting", RECONNECTING)
                .await;
            browser
                .type_into("#checkout-form [name=\"postal_code\"]", "SW1Y 4JH")
                .await;
            app.start_again().await;
            browser.wait_joined(&cart, joins + 2).await;
            browser
                .wait_for(
                    "the notice leaves once the page has rejoined",
                    &format!("!{RECONNECTING} && window.Sneakers.socketState() === 'open'"),
                )
                .await;
            browser
                .assert_not_reloaded("the way to checkout and the restart")
                .await;
            assert_eq!(
                checkout_values(&browser).await,
                typed,
                "every field keeps what the shopper typed, before and during the restart"
            );
            let kept = browser
                .js("return [JSON.stringify(window.sessionStorage), JSON.stringify(window.localStorage), \
                     document.cookie, window.__sneakersTest.frames.join('\\n')];")
                .await;
            for (place, text) in ["session storage", "local storage", "cookies", "socket frames"]
                .iter()
                .zip(kept.as_array().into_iter().flatten())
            {
                let text = text.as_str().unwrap_or_default();
                assert!(
                    !text.contains(crate::visitor::PAYS)
                        && !text.contains(&crate::visitor::PAYS.replace(' ', ""))
                        && !text.contains("SW1Y 4JH"),
                    "no checkout field is kept in {place}: {text}"
                );
            }

            browser.click(BUY).await;
            browser.wait_for_path("/checkout/complete").await;
            assert_eq!(
                browser
                    .attr("section.order-complete", "data-order-state")
                    .await
                    .as_deref(),
                Some("paid"),
                "the new process takes the order with what survived"
            );
            assert_eq!(
                store::orders::pairs_sold(&app.db, a)
                    .await
                    .unwrap_or_else(|e| panic!("{e}")),
                1
            );
        },
    )
    .await
}

/// Scenario 7: with JavaScript off: browse, add to the cart with the form, check out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s07_shopping_without_javascript() {
    run("s07_shopping_without_javascript", 1, |ctx| async move {
        let app = TestApp::start(Backend::Sqlite).await;
        let product = released(&app).await.remove(0);
        let item = in_stock(&product);
        let before = item.available_count;
        let browser = ctx.browser_without_javascript(&app).await;
        browser.goto("/").await;
        browser
            .click(&format!(
                "article[data-product-id=\"{}\"] .product-name a",
                product.id
            ))
            .await;
        browser
            .wait_for_path(&format!("/products/{}", product.id))
            .await;
        assert!(browser.text("h1.product-name").await.contains(&product.name));
        assert_eq!(
            browser.js("return typeof window.Sneakers;").await,
            serde_json::json!("undefined"),
            "the shim did not run: JavaScript is off"
        );

        browser
            .click(&format!("#item-{} button.size__button", item.id))
            .await;
        browser
            .wait_for(
                "the page comes back with the pair in the cart",
                &format!(
                    "document.querySelector('aside#cart[data-count=\"1\"] li.cart-line[data-item-id=\"{}\"]')",
                    item.id
                ),
            )
            .await;
        browser.click("#cart a.cart-panel__checkout").await;
        browser.wait_for_path("/checkout").await;
        browser.fill_checkout(crate::visitor::PAYS).await;
        browser.click(BUY).await;
        browser.wait_for_path("/checkout/complete").await;
        assert!(browser.text(".order-number").await.contains('#'));
        assert_eq!(
            browser.text(".order-total").await.trim(),
            format_cents(price_cents(&app, item.id).into())
        );
        assert_eq!(app.item(item.id).await.available_count, before - 1);
        assert_eq!(
            app.live().sockets.len(),
            0,
            "no socket was opened: JavaScript really was off"
        );
    })
    .await
}
