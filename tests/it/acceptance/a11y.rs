//! Pages everyone can use: axe-core (tests/a11y, `npm ci --prefix tests/a11y`) run in
//! Chromium on every shopper page and the dashboard, live pages included after their pushes:
//! no serious or critical violation. And the shop by keyboard alone, with focus visible.

use std::path::PathBuf;

use fantoccini::key::Key;
use serde_json::Value;

use super::chrome::Browser;
use super::harness::run;
use super::{add_to_cart, admin_url, in_stock, open_live, released, wait_cart, wait_live};
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp};

fn axe_source() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/a11y/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is missing ({}: {e}): run `npm ci --prefix tests/a11y` (scripts/test does)",
            path.display()
        )
    })
}

/// The serious and critical violations axe finds on the current page (WCAG 2.x A and AA and
/// best practices), one line each.
async fn violations(browser: &Browser, axe: &str, page: &str) -> Vec<String> {
    // Through WebDriver, not the page: its CSP allows no script of ours.
    browser.js(&format!("{axe}\nreturn null;")).await;
    let result = browser
        .client
        .execute_async(
            "var done = arguments[arguments.length - 1]; \
             axe.run(document, { resultTypes: ['violations'] }).then(function (r) { \
               done(r.violations.filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; }) \
                 .map(function (v) { return v.impact + ' ' + v.id + ': ' + v.help + ' at ' + \
                   v.nodes.slice(0, 3).map(function (n) { return n.target.join(' '); }).join(', '); })); \
             }, function (e) { done(['axe failed: ' + e]); });",
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("axe on {page}: {e}"));
    result
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| format!("{page}: {}", v.as_str().unwrap_or_default()))
        .collect()
}

async fn admin_post(app: &TestApp, path: &str, form: &[(&str, &str)]) {
    let response = app
        .http
        .post(format!("{}{path}", app.url))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .form(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    assert_eq!(response.status(), 200, "POST {path}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s50_no_serious_accessibility_violations() {
    run(
        "s50_no_serious_accessibility_violations",
        1,
        |ctx| async move {
            let axe = axe_source();
            let app = TestApp::start(Backend::Sqlite).await;
            let products = released(&app).await;
            let item = in_stock(&products[0]).id;
            let lined = products[1].id;
            admin_post(
                &app,
                &format!("/admin/products/{lined}/queue"),
                &[("enabled", "1"), ("admit_per_minute", "30")],
            )
            .await;
            let soon = app.product(false).await;
            let browser = ctx.browser(&app).await;
            let mut found = Vec::new();

            open_live(&browser, "/").await;
            found.extend(violations(&browser, &axe, "/").await);

            let page = format!("/products/{}", soon.id);
            open_live(&browser, &page).await;
            found.extend(violations(&browser, &axe, &format!("{page} before its drop")).await);
            app.admin
                .release(&soon.id.to_string())
                .await
                .unwrap_or_else(|e| panic!("release: {e}"));
            browser
                .wait_for(
                    "the sizes of the released product",
                    &format!(
                        "!!document.querySelector('#product-{}-sizes .size')",
                        soon.id
                    ),
                )
                .await;
            found.extend(violations(&browser, &axe, &format!("{page} after its drop")).await);

            open_live(&browser, &format!("/products/{}", products[0].id)).await;
            add_to_cart(&browser, item, 1).await;
            found.extend(violations(&browser, &axe, "a product page with the cart").await);

            // A line's place is a verified account's: sign in first.
            browser.goto("/account").await;
            browser.wait_for_path("/account/login").await;
            found.extend(violations(&browser, &axe, "/account (sign in)").await);
            super::sign_up(&browser, &app, "reader@example.com").await;

            let page = format!("/products/{lined}");
            open_live(&browser, &page).await;
            browser
                .click(&format!("#queue-{lined} button[type=\"submit\"]"))
                .await;
            browser.wait_for_path(&format!("{page}/line")).await;
            wait_live(&browser).await;
            // The only one in line is let in within the pace's first step: check the panel
            // that says it's their turn, which has its own colours.
            browser
                .wait_for(
                    "the shopper let in from the line",
                    &format!("!!document.querySelector('#queue-{lined}[data-admitted=\"true\"]')"),
                )
                .await;
            found.extend(violations(&browser, &axe, &format!("{page}/line")).await);

            open_live(&browser, "/checkout").await;
            found.extend(violations(&browser, &axe, "/checkout").await);
            browser.fill_checkout(crate::visitor::PAYS).await;
            browser
                .click("form[action=\"/checkout\"] button[type=\"submit\"]")
                .await;
            browser.wait_for_path("/checkout/complete").await;
            wait_live(&browser).await;
            found.extend(violations(&browser, &axe, "/checkout/complete").await);

            browser.goto("/account").await;
            found.extend(violations(&browser, &axe, "/account").await);

            browser.goto_url(&admin_url(&app)).await;
            browser.wait_joined("admin:cart_tracker", 1).await;
            found.extend(violations(&browser, &axe, "/admin").await);

            assert!(
                found.is_empty(),
                "serious or critical accessibility violations:\n  {}",
                found.join("\n  ")
            );
        },
    )
    .await
}

/// What has focus: its tag, id or class, and whether the browser draws its focus ring.
async fn focused(browser: &Browser) -> Value {
    browser
        .js("var el = document.activeElement; var s = getComputedStyle(el); \
             return { tag: el.tagName, text: (el.textContent || '').trim().slice(0, 40), \
               item: el.closest('[id^=item-]') ? el.closest('[id^=item-]').id : null, \
               ring: el.matches(':focus-visible') && s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 };")
        .await
}

/// Keyboard only: tab to a size, press Enter, the pair is in the cart; the focus ring shows on
/// the way and the focused size keeps focus while pushes re-render it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s51_shopping_by_keyboard_alone() {
    run("s51_shopping_by_keyboard_alone", 1, |ctx| async move {
        let app = TestApp::start(Backend::Sqlite).await;
        let product = released(&app).await.remove(0);
        let item = in_stock(&product).id;
        app.set_stock(item, 500).await;
        let browser = ctx.browser(&app).await;
        open_live(&browser, &format!("/products/{}", product.id)).await;
        let target = format!("item-{item}");
        let mut reached = None;
        for _ in 0..40 {
            browser
                .client
                .active_element()
                .await
                .unwrap_or_else(|e| panic!("active element: {e}"))
                .send_keys(&Key::Tab.to_string())
                .await
                .unwrap_or_else(|e| panic!("tab: {e}"));
            let now = focused(&browser).await;
            if now["tag"] != "BODY" {
                assert_eq!(
                    now["ring"],
                    Value::Bool(true),
                    "the focus ring shows on {now}"
                );
            }
            if now["item"] == target.as_str() {
                reached = Some(now);
                break;
            }
        }
        assert!(reached.is_some(), "Tab reaches size {item}");
        // A sale re-renders the focused size: it keeps focus.
        app.set_stock(item, 499).await;
        browser
            .wait_for(
                "the focused size shows its new level",
                &format!(
                    "document.getElementById('{target}').getAttribute('data-level') === 'medium'"
                ),
            )
            .await;
        assert_eq!(
            focused(&browser).await["item"],
            target.as_str(),
            "the push kept the focus where it was"
        );
        browser
            .client
            .active_element()
            .await
            .unwrap_or_else(|e| panic!("active element: {e}"))
            .send_keys(&Key::Enter.to_string())
            .await
            .unwrap_or_else(|e| panic!("enter: {e}"));
        wait_cart(&browser, item, 1).await;
        assert_eq!(
            focused(&browser).await["item"],
            target.as_str(),
            "adding keeps the focus on the size"
        );
    })
    .await
}

/// Removing pairs by keyboard: the pressed button goes with its line, and focus stays in the
/// cart (on the next pair's button, then on the emptied cart itself) rather than falling back
/// to the top of the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s52_removing_by_keyboard_keeps_focus_in_the_cart() {
    run(
        "s52_removing_by_keyboard_keeps_focus_in_the_cart",
        1,
        |ctx| async move {
            let app = TestApp::start(Backend::Sqlite).await;
            let product = released(&app).await.remove(0);
            let sizes: Vec<_> = product
                .items
                .iter()
                .filter(|i| i.available_count > 0)
                .take(2)
                .map(|i| i.id)
                .collect();
            assert_eq!(sizes.len(), 2, "{} has two sizes in stock", product.sku);
            let browser = ctx.browser(&app).await;
            open_live(&browser, &format!("/products/{}", product.id)).await;
            add_to_cart(&browser, sizes[0], 1).await;
            add_to_cart(&browser, sizes[1], 2).await;
            let in_cart = "(function () { var el = document.activeElement; \
                           return el !== document.body && !!el.closest('#cart'); })()";

            browser
                .js(&format!(
                    "document.querySelector('#cart li[data-item-id=\"{}\"] .cart-line__remove button').focus(); \
                     return null;",
                    sizes[0]
                ))
                .await;
            press_enter(&browser).await;
            browser
                .wait_for(
                    "one pair left",
                    "!!document.querySelector('aside#cart[data-count=\"1\"]')",
                )
                .await;
            assert_eq!(
                browser.js(&format!("return {in_cart};")).await,
                Value::Bool(true),
                "focus stays in the cart after the first removal"
            );

            browser
                .js("document.querySelector('#cart .cart-line__remove button').focus(); return null;")
                .await;
            press_enter(&browser).await;
            browser
                .wait_for(
                    "the cart is empty",
                    "!!document.querySelector('aside#cart[data-count=\"0\"]')",
                )
                .await;
            assert_eq!(
                browser.js(&format!("return {in_cart};")).await,
                Value::Bool(true),
                "focus stays on the emptied cart, not the top of the page"
            );
        },
    )
    .await
}

async fn press_enter(browser: &Browser) {
    browser
        .client
        .active_element()
        .await
        .unwrap_or_else(|e| panic!("active element: {e}"))
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap_or_else(|e| panic!("enter: {e}"));
}
