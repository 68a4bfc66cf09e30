//! What the shim adds to a page, as a shopper or admin notices it: links that keep the one
//! socket and every page live, forms that survive a restart, a reconnect notice, one spoken
//! sentence per change, a button sent once, and the same pages by plain links and forms.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::Value;
use sneakers::domain::Level;

use super::chrome::Browser;
use super::harness::run;
use super::{admin_url, cart_topic, in_stock, open_live, released, wait_live};
use crate::helpers::{Backend, TestApp};

/// WebSockets the page opened since it loaded (the probe counts them).
async fn sockets(browser: &Browser) -> u64 {
    browser
        .js("return window.__sneakersTest.sockets;")
        .await
        .as_u64()
        .unwrap_or_else(|| panic!("the probe counts no sockets"))
}

async fn joins(browser: &Browser, topic: &str) -> u64 {
    browser
        .js(&format!(
            "return window.__sneakersTest.joined[{topic:?}] || 0;"
        ))
        .await
        .as_u64()
        .unwrap_or(0)
}

async fn announced(browser: &Browser) -> Vec<String> {
    let all = browser.js("return window.__sneakersTest.announced;").await;
    all.as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// Follows the link `css` the way a shopper does (a click) and waits for the new page's path.
async fn follow(browser: &Browser, css: &str, path: &str) {
    browser.click(css).await;
    browser.wait_for_path(path).await;
    browser
        .wait_for(
            &format!("the page of {path} is in place"),
            &format!("document.getElementById('main') && location.pathname === {path:?}"),
        )
        .await;
}

/// `#item-<id>` shows `level`.
async fn wait_level(browser: &Browser, item: sneakers::domain::ItemId, level: Level) {
    browser
        .wait_for(
            &format!("size {item} shows {}", level.as_str()),
            &format!(
                "(function () {{ var el = document.getElementById('item-{item}'); \
                 return !!el && el.getAttribute('data-level') === '{}'; }})()",
                level.as_str()
            ),
        )
        .await;
}

/// `/` -> a product -> back -> the cart, on the socket the first page opened: each step
/// leaves what it no longer shows and joins what it does, and each page follows sales.
/// A page reached this way is the page a full load of its URL shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s40_links_keep_one_socket_and_every_page_live() {
    run(
        "s40_links_keep_one_socket_and_every_page_live",
        1,
        |ctx| async move {
            let app = TestApp::start(Backend::Sqlite).await;
            let products = released(&app).await;
            let (first, second) = (&products[0], &products[1]);
            let (a, b) = (in_stock(first).id, in_stock(second).id);
            app.set_stock(a, 500).await;
            app.set_stock(b, 500).await;
            let browser = ctx.browser(&app).await;
            open_live(&browser, "/").await;
            browser.mark_document().await;
            let cart = cart_topic(&browser).await;
            let product_topic = format!("product:{}", first.id);
            let others = format!("product:{}", second.id);
            browser.js("window.scrollTo(0, 400); return null;").await;

            // A product page.
            let cart_joins = joins(&browser, &cart).await;
            let page = format!("/products/{}", first.id);
            follow(
                &browser,
                &format!("article[data-product-id=\"{}\"] .product-name a", first.id),
                &page,
            )
            .await;
            browser.wait_joined(&cart, (cart_joins + 1) as u32).await;
            browser.wait_joined(&product_topic, 2).await;
            assert!(
                browser.text("h1.product-name").await.contains(&first.name),
                "the product page shows {}",
                first.name
            );
            app.set_stock(a, 499).await;
            wait_level(&browser, a, Level::Medium).await;
            let navigated = browser
                .js("return [document.title, document.getElementById('main').outerHTML];")
                .await;

            // Back to the drops, where the reader was.
            browser
                .client
                .back()
                .await
                .unwrap_or_else(|e| panic!("back: {e}"));
            browser.wait_for_path("/").await;
            browser
                .wait_for(
                    "the drops are back, scrolled where they were",
                    "!!document.querySelector('.product-grid') && Math.abs(window.scrollY - 400) < 5",
                )
                .await;
            browser.wait_joined(&others, 2).await;
            app.set_stock(b, 499).await;
            wait_level(&browser, b, Level::Medium).await;

            // The cart.
            let cart_joins = joins(&browser, &cart).await;
            follow(&browser, "a.cart-link", "/checkout").await;
            browser.wait_joined(&cart, (cart_joins + 1) as u32).await;
            browser
                .wait_for(
                    "the checkout page shows no product channel",
                    "!document.querySelector('[data-product-id]')",
                )
                .await;
            browser.assert_not_reloaded("navigation").await;
            assert_eq!(
                sockets(&browser).await,
                1,
                "the whole walk ran on the socket the first page opened"
            );
            // Topics the page does not show were left: a sale there pushes nothing here.
            let left = browser
                .js("return window.__sneakersTest.sent.phx_leave || 0;")
                .await;
            assert!(
                left.as_u64().unwrap_or(0) >= 1,
                "the product topics were left on the way to the cart, sent {left}"
            );
            let count = browser.text(".cart-link__count").await;
            assert_eq!(count.trim(), "0");

            // The same product page loaded in full is the page navigation showed.
            browser.goto(&page).await;
            wait_live(&browser).await;
            let loaded = browser
                .js("return [document.title, document.getElementById('main').outerHTML];")
                .await;
            assert_eq!(
                strip_transient(&navigated),
                strip_transient(&loaded),
                "a page reached by a link equals a full load of its URL"
            );
        },
    )
    .await
}

/// Clicks the shim leaves to the browser (a new tab or window, a download, another target,
/// another site, a link marked `data-full-reload`) are not taken over: the page stays, the
/// browser does what it always does. A plain click on a same-site link is the shim's. Then
/// back and forward through pages reached in place keep the one socket and each page live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s38_modified_clicks_are_the_browsers_and_forward_works() {
    run(
        "s38_modified_clicks_are_the_browsers_and_forward_works",
        1,
        |ctx| async move {
            let app = TestApp::start(Backend::Sqlite).await;
            let product = released(&app).await.remove(0);
            let item = in_stock(&product).id;
            app.set_stock(item, 500).await;
            let browser = ctx.browser(&app).await;
            open_live(&browser, "/").await;
            browser.mark_document().await;
            let page = format!("/products/{}", product.id);
            // Whether the shim took each click over (it prevents the browser's default); a
            // listener after the shim's keeps the browser from acting on any of them.
            let taken = browser
                .js(&format!(
                    "var main = document.getElementById('main'), out = {{}}; \
                     function link(name, attrs, href) {{ var a = document.createElement('a'); \
                       a.href = href || {page:?}; a.textContent = name; \
                       Object.keys(attrs).forEach(function (k) {{ a.setAttribute(k, attrs[k]); }}); \
                       main.appendChild(a); return a; }} \
                     function click(a, opts) {{ var ev = new MouseEvent('click', Object.assign( \
                       {{ bubbles: true, cancelable: true, button: 0 }}, opts || {{}})), by_shim = null; \
                       window.addEventListener('click', function stop(e) {{ \
                         window.removeEventListener('click', stop); \
                         by_shim = e.defaultPrevented; e.preventDefault(); }}); \
                       a.dispatchEvent(ev); return by_shim; }} \
                     var plain = link('plain', {{}}); \
                     out.ctrl = click(plain, {{ ctrlKey: true }}); \
                     out.meta = click(plain, {{ metaKey: true }}); \
                     out.shift = click(plain, {{ shiftKey: true }}); \
                     out.alt = click(plain, {{ altKey: true }}); \
                     out.middle = click(plain, {{ button: 1 }}); \
                     out.download = click(link('download', {{ download: '' }})); \
                     out.blank = click(link('blank', {{ target: '_blank' }})); \
                     out.other_site = click(link('other', {{}}, 'https://example.com/')); \
                     out.full_reload = click(link('full', {{ 'data-full-reload': '' }})); \
                     out.plain = click(plain); \
                     return out;"
                ))
                .await;
            let taken = taken
                .as_object()
                .unwrap_or_else(|| panic!("no answer from the page: {taken}"));
            for (click, by_shim) in taken {
                let expected = click == "plain";
                assert_eq!(
                    by_shim.as_bool(),
                    Some(expected),
                    "a {click} click is {}",
                    if expected {
                        "the shim's"
                    } else {
                        "the browser's"
                    }
                );
            }
            // The plain click went on in place: the product page, live.
            browser.wait_for_path(&page).await;
            wait_live(&browser).await;
            browser
                .client
                .back()
                .await
                .unwrap_or_else(|e| panic!("back: {e}"));
            browser.wait_for_path("/").await;
            browser
                .wait_for("the drops are back", "!!document.querySelector('.product-grid')")
                .await;
            let product_topic = format!("product:{}", product.id);
            let joined = joins(&browser, &product_topic).await;
            browser
                .client
                .forward()
                .await
                .unwrap_or_else(|e| panic!("forward: {e}"));
            browser.wait_for_path(&page).await;
            browser
                .wait_for(
                    "the product page is back",
                    "!!document.querySelector('h1.product-name')",
                )
                .await;
            browser
                .wait_joined(&product_topic, (joined + 1) as u32)
                .await;
            app.set_stock(item, 499).await;
            wait_level(&browser, item, Level::Medium).await;
            browser.assert_not_reloaded("back and forward").await;
            assert_eq!(sockets(&browser).await, 1, "one socket the whole way");
        },
    )
    .await
}

/// With Stripe, /checkout carries scripts of its own (Stripe.js, the card field's module) and
/// a Content-Security-Policy that lets them in: the cart's link to it is loaded in full, and
/// the card field is there to type into. (The test gateway's checkout has none: s49 reaches
/// it in place.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s39_a_page_with_scripts_of_its_own_is_loaded_in_full() {
    run(
        "s39_a_page_with_scripts_of_its_own_is_loaded_in_full",
        1,
        |ctx| async move {
            let stripe = crate::localstripe::settings().await;
            let app = TestApp::start_with(Backend::Sqlite, move |config| {
                config.stripe = Some(stripe);
            })
            .await;
            let product = released(&app).await.remove(0);
            let item = in_stock(&product).id;
            let browser = ctx.browser(&app).await;
            open_live(&browser, "/").await;
            super::add_to_cart(&browser, item, 1).await;
            browser.mark_document().await;
            follow(&browser, "#cart a.cart-panel__checkout", "/checkout").await;
            browser
                .wait_for(
                    "Stripe's card field is mounted",
                    "!!document.querySelector('#card-element input')",
                )
                .await;
            assert_eq!(
                browser
                    .js("return window.__sneakersSameDocument === true;")
                    .await,
                Value::Bool(false),
                "the page with Stripe's scripts was loaded in full, not swapped in"
            );
            wait_live(&browser).await;
        },
    )
    .await
}

/// The flash of a freshly swapped element is not part of the page.
fn strip_transient(page: &Value) -> Value {
    match page {
        Value::Array(parts) => Value::Array(
            parts
                .iter()
                .map(|p| Value::String(p.as_str().unwrap_or_default().replace(" is-updated", "")))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// An admin types a limit the server refuses (checked as they type); the node restarts; on
/// rejoin the shim sends the form again and the server's re-render still shows the typed
/// value and its error; a release re-rendering the product's row (a push shared by every
/// admin) keeps it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s41_a_typed_field_survives_a_restart() {
    run(
        "s41_a_typed_field_survives_a_restart",
        1,
        |ctx| async move {
            let mut app = TestApp::start(Backend::Sqlite).await;
            let soon = app.product(false).await;
            let browser = ctx.browser(&app).await;
            ctx.expect_console_error("WebSocket connection to");
            browser.goto_url(&admin_url(&app)).await;
            browser.wait_joined("admin:cart_tracker", 1).await;
            browser.mark_document().await;
            let field = format!("#admin-limit-{} input[name=max]", soon.id);
            let input = browser
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
            browser
                .wait_for(
                    "the server's check of the field",
                    &format!("!!document.querySelector({error:?})"),
                )
                .await;
            let sent = browser
                .js("return window.__sneakersTest.sent.validate;")
                .await;
            // Away from the field: from here the page, not the focus, keeps what was typed.
            browser
                .js("document.activeElement.blur(); return null;")
                .await;

            browser
                .js("Math.random = function () { return 0.1; }; return null;")
                .await;
            app.restart().await;
            browser.wait_joined("admin:cart_tracker", 2).await;
            browser
                .wait_for(
                    "the form is sent again after the rejoin",
                    &format!(
                        "window.__sneakersTest.sent.validate > {}",
                        sent.as_u64().unwrap_or(0)
                    ),
                )
                .await;
            app.admin
                .release(&soon.id.to_string())
                .await
                .unwrap_or_else(|e| panic!("release: {e}"));
            browser
                .wait_for(
                    "the row shows the release",
                    &format!(
                        "!!document.querySelector('#admin-product-{} .badge--released')",
                        soon.id
                    ),
                )
                .await;
            let value = browser
                .js(&format!("return document.querySelector({field:?}).value;"))
                .await;
            assert_eq!(
                value, "250",
                "the typed value survived the restart and the push"
            );
            assert!(
                browser.text(&error).await.contains("whole number"),
                "the server's re-render after the rejoin still names the problem"
            );
            browser.assert_not_reloaded("restart").await;
        },
    )
    .await
}

/// The server goes away: after a moment (not at once) the page says it is reconnecting, in a
/// status region; once the server is back and the page has rejoined, the notice goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s42_the_reconnect_notice_shows_while_down() {
    run(
        "s42_the_reconnect_notice_shows_while_down",
        1,
        |ctx| async move {
            let mut app = TestApp::start(Backend::Sqlite).await;
            let product = released(&app).await.remove(0);
            let browser = ctx.browser(&app).await;
            ctx.expect_console_error("WebSocket connection to");
            // Refused sockets in a row make the shim ask for a fresh token, refused too.
            ctx.expect_console_error("ERR_CONNECTION_REFUSED");
            open_live(&browser, &format!("/products/{}", product.id)).await;
            browser.mark_document().await;
            let shown = "(function () { var s = document.getElementById('connection-status'); \
                         return !!s && !s.hidden && s.getAttribute('role') === 'status' \
                         && getComputedStyle(s).display !== 'none'; })()";
            // Quick retries, so the test does not wait out the back-off.
            browser
                .js("Math.random = function () { return 0.05; }; return null;")
                .await;
            app.stop().await;
            let hidden_at_first = browser.js(&format!("return !{shown};")).await;
            assert_eq!(
                hidden_at_first,
                Value::Bool(true),
                "no notice the moment the socket drops (a quick reconnect would flicker)"
            );
            browser.wait_for("the reconnecting notice", shown).await;
            app.start_again().await;
            browser
                .wait_for_within(
                    "the notice leaves once the page has rejoined",
                    &format!("!{shown} && window.Sneakers.socketState() === 'open'"),
                    Duration::from_secs(20),
                )
                .await;
            browser.assert_not_reloaded("reconnect").await;
        },
    )
    .await
}

/// One stock change is one sentence in the live region, in words, whatever the page swaps;
/// a countdown reaching zero says its words once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s43_one_announcement_per_change() {
    run("s43_one_announcement_per_change", 1, |ctx| async move {
        let app = TestApp::start(Backend::Sqlite).await;
        let product = released(&app).await.remove(0);
        let item = in_stock(&product).clone();
        app.set_stock(item.id, 500).await;
        let browser = ctx.browser(&app).await;
        open_live(&browser, &format!("/products/{}", product.id)).await;
        wait_level(&browser, item.id, Level::High).await;
        assert_eq!(announced(&browser).await, Vec::<String>::new(), "loading says nothing");

        app.set_stock(item.id, 100).await;
        wait_level(&browser, item.id, Level::Low).await;
        // Another sale within the level changes nothing on the page and says nothing.
        app.set_stock(item.id, 99).await;
        let words = format!(
            "Size {} of the {} {} is now low on stock.",
            item.size, product.brand, product.name
        );
        browser
            .wait_for(
                "the change is said",
                &format!("window.__sneakersTest.announced.indexOf({words:?}) >= 0"),
            )
            .await;
        // The cart panel and the size are swapped too; only the sentence is read.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(announced(&browser).await, vec![words]);

        browser
            .js("var t = document.createElement('time'); \
                 t.setAttribute('data-countdown-to', String(Date.now() + 1500)); \
                 t.setAttribute('data-countdown-announce', 'It drops now.'); \
                 t.textContent = 'Sat 12 Dec, 18:00 UTC'; \
                 document.getElementById('main').appendChild(t); return null;")
            .await;
        browser
            .wait_for(
                "the countdown counts in words",
                "/^in \\d+s/.test(document.querySelector('main time[data-countdown-to]').textContent)",
            )
            .await;
        browser
            .wait_for(
                "the countdown says its words at zero",
                "window.__sneakersTest.announced.indexOf('It drops now.') >= 0",
            )
            .await;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let all = announced(&browser).await;
        assert_eq!(
            all.iter().filter(|w| *w == "It drops now.").count(),
            1,
            "said once: {all:?}"
        );
    })
    .await
}

/// Pressing a size twice before the answer sends it once, and the button shows it waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s44_a_button_is_sent_once() {
    run("s44_a_button_is_sent_once", 1, |ctx| async move {
        let app = TestApp::start(Backend::Sqlite).await;
        let product = released(&app).await.remove(0);
        let item = in_stock(&product).id;
        let browser = ctx.browser(&app).await;
        open_live(&browser, &format!("/products/{}", product.id)).await;
        let waiting = browser
            .js(&format!(
                "var b = document.querySelector('#item-{item} button.size__button'); \
                 b.click(); var waiting = b.classList.contains('is-loading') \
                 && b.getAttribute('aria-disabled') === 'true' \
                 && b.form.getAttribute('aria-busy') === 'true'; \
                 b.click(); return waiting;"
            ))
            .await;
        assert_eq!(
            waiting,
            Value::Bool(true),
            "the pressed size shows it is waiting"
        );
        super::wait_cart(&browser, item, 1).await;
        browser
            .wait_for(
                "the waiting state ends with the answer",
                "!document.querySelector('.is-loading')",
            )
            .await;
        let sent = browser
            .js("return window.__sneakersTest.sent.add_item;")
            .await;
        assert_eq!(sent, serde_json::json!(1), "the second press sent nothing");
        assert!(
            browser.text("#flash").await.is_empty(),
            "no refusal (a second add would be a duplicate)"
        );
    })
    .await
}

/// JavaScript off: the same walk by plain links, the browser's back, and plain forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s45_the_same_walk_without_javascript() {
    run("s45_the_same_walk_without_javascript", 1, |ctx| async move {
        let app = TestApp::start(Backend::Sqlite).await;
        let product = released(&app).await.remove(0);
        let item = in_stock(&product).id;
        let browser = ctx.browser_without_javascript(&app).await;
        browser.goto("/").await;
        let page = format!("/products/{}", product.id);
        browser
            .click(&format!(
                "article[data-product-id=\"{}\"] .product-name a",
                product.id
            ))
            .await;
        browser.wait_for_path(&page).await;
        browser.click(&format!("#item-{item} button.size__button")).await;
        browser
            .wait_for(
                "the pair is in the cart",
                &format!("document.querySelector('aside#cart[data-count=\"1\"] li[data-item-id=\"{item}\"]')"),
            )
            .await;
        browser
            .client
            .back()
            .await
            .unwrap_or_else(|e| panic!("back: {e}"));
        browser.wait_for_path(&page).await;
        browser.click("a.cart-link").await;
        browser.wait_for_path("/checkout").await;
        assert!(
            browser
                .text(&format!("tr[data-item-id=\"{item}\"]"))
                .await
                .contains(&product.name),
            "the cart shows the pair"
        );
        browser.click("a.brand").await;
        browser.wait_for_path("/").await;
        browser
            .click(&format!("#cart li[data-item-id=\"{item}\"] form.cart-line__remove button"))
            .await;
        browser
            .wait_for(
                "the cart is empty again",
                "document.querySelector('aside#cart[data-count=\"0\"]')",
            )
            .await;
        assert_eq!(app.live().sockets.len(), 0, "JavaScript really was off");
    })
    .await
}
