//! Scenario 10: no console errors and no CSP violations on any page, while shopping with the
//! shim and as an admin. (Every other scenario also fails on console errors; this one walks
//! every page and reports page by page.)

use super::chrome::{Browser, browser_log};
use super::harness::run;
use super::{add_to_cart, admin_url, in_stock, open_live, released};
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp};

/// The console errors and CSP violations of the current page since the last check.
async fn problems(browser: &Browser, page: &str, expected: &[&str]) -> Vec<String> {
    let log = browser_log(&browser.client)
        .await
        .unwrap_or_else(|e| panic!("browser log: {e}"));
    for warning in log.iter().filter(|e| e.level == "WARNING") {
        eprintln!(
            "{page}: console warning (not a failure): {}",
            warning.message
        );
    }
    let mut found: Vec<String> = log
        .into_iter()
        .filter(|e| e.level == "SEVERE")
        .filter(|e| !expected.iter().any(|n| e.message.contains(n)))
        .map(|e| format!("{page}: console {}", e.message))
        .collect();
    let csp = browser
        .js("return window.__sneakersTest ? window.__sneakersTest.csp : ['the probe did not run'];")
        .await;
    found.extend(
        csp.as_array()
            .into_iter()
            .flatten()
            .map(|v| format!("{page}: CSP violation {}", v.as_str().unwrap_or_default())),
    );
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s10_no_console_errors_or_csp_violations() {
    run(
        "s10_no_console_errors_or_csp_violations",
        1,
        |ctx| async move {
            let app = TestApp::start(Backend::Sqlite).await;
            let products = released(&app).await;
            let (a, b, c) = (
                in_stock(&products[0]).id,
                in_stock(&products[1]).id,
                in_stock(&products[2]).id,
            );
            app.set_stock(c, 1).await;
            let soon = app.product(false).await;
            let browser = ctx.browser(&app).await;
            let mut found = Vec::new();

            open_live(&browser, "/").await;
            found.extend(problems(&browser, "/", &[]).await);

            let page = format!("/products/{}", soon.id);
            open_live(&browser, &page).await;
            found.extend(problems(&browser, &page, &[]).await);

            let page = format!("/products/{}", products[0].id);
            open_live(&browser, &page).await;
            add_to_cart(&browser, a, 1).await;
            browser
                .click(&format!(
                    "#cart li.cart-line[data-item-id=\"{a}\"] form.cart-line__remove button"
                ))
                .await;
            browser
                .wait_for(
                    "the cart empties",
                    "document.querySelector('aside#cart[data-count=\"0\"]')",
                )
                .await;
            add_to_cart(&browser, a, 1).await;
            found.extend(problems(&browser, &format!("{page} (adding, removing)"), &[]).await);

            open_live(&browser, "/").await;
            add_to_cart(&browser, b, 2).await;
            browser.click("#cart a.cart-panel__checkout").await;
            browser.wait_for_path("/checkout").await;
            super::wait_live(&browser).await;
            found.extend(problems(&browser, "/checkout", &[]).await);
            browser.fill_checkout(crate::visitor::PAYS).await;
            browser
                .click("form[action=\"/checkout\"] button[type=\"submit\"]")
                .await;
            browser.wait_for_path("/checkout/complete").await;
            super::wait_live(&browser).await;
            found.extend(problems(&browser, "/checkout/complete", &[]).await);

            // A declined card: the checkout page (402) with its notice.
            let declined = "status of 402";
            ctx.expect_console_error(declined);
            open_live(&browser, "/").await;
            add_to_cart(&browser, c, 1).await;
            browser.goto("/checkout").await;
            super::wait_live(&browser).await;
            browser.fill_checkout(crate::visitor::DECLINED).await;
            browser
                .click("form[action=\"/checkout\"] button[type=\"submit\"]")
                .await;
            browser
                .wait_for(
                    "the decline is said",
                    "document.querySelector('#payment-error')",
                )
                .await;
            super::wait_live(&browser).await;
            found.extend(problems(&browser, "/checkout (declined)", &[declined]).await);

            // An unknown page: the 404 itself is logged by Chromium; nothing else may be.
            let not_found = "status of 404";
            ctx.expect_console_error(not_found);
            browser.goto("/no-such-page").await;
            browser
                .wait_for("the 404 page", "document.readyState === 'complete'")
                .await;
            found.extend(problems(&browser, "/no-such-page", &[not_found]).await);

            let admin_status = app
                .http
                .get(format!("{}/admin", app.url))
                .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            if admin_status == 200 {
                browser.goto_url(&admin_url(&app)).await;
                browser.wait_joined("admin:cart_tracker", 1).await;
                found.extend(problems(&browser, "/admin", &[]).await);
            } else {
                found.push(format!("/admin: answers {admin_status}, not the dashboard"));
            }

            assert!(
                found.is_empty(),
                "console errors or CSP violations:\n  {}",
                found.join("\n  ")
            );
        },
    )
    .await
}
