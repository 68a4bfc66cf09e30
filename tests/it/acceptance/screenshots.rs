//! Screenshots of the store's pages at desktop and phone widths, kept under
//! `target/screenshots/` for a person to look at.

use serde_json::json;

use super::chrome::{Browser, full_screenshot, target_dir};
use super::harness::run;
use super::{add_to_cart, admin_url, in_stock, open_live, released};
use crate::helpers::{Backend, TestApp};

const SIZES: [(&str, u32, u32, bool); 2] =
    [("desktop", 1280, 900, false), ("phone", 390, 844, true)];

/// Both widths of the page in the current window, as `<name>-desktop.png` and `<name>-phone.png`.
async fn shoot(browser: &Browser, name: &str) {
    let dir = target_dir("screenshots");
    for (width_name, width, height, mobile) in SIZES {
        browser
            .cdp(
                "Emulation.setDeviceMetricsOverride",
                json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
            )
            .await;
        // Lazy images load once scrolled to; the shot covers the whole page.
        browser
            .js("window.scrollTo(0, document.documentElement.scrollHeight); return null;")
            .await;
        browser
            .wait_for(
                "every image has loaded",
                "Array.prototype.every.call(document.images, function (i) { return i.complete && i.naturalWidth > 0; })",
            )
            .await;
        browser.js("window.scrollTo(0, 0); return null;").await;
        // The shim flags swapped fragments for a moment; shoot the page at rest.
        browser
            .wait_for(
                "the update highlight fades",
                "!document.querySelector('.is-updated:not(#admin-server)')",
            )
            .await;
        browser
            .wait_for(
                "a frame is painted at the new size",
                &format!("window.innerWidth === {width}"),
            )
            .await;
        let png = full_screenshot(&browser.client)
            .await
            .unwrap_or_else(|e| panic!("screenshot of {name}: {e}"));
        let path = dir.join(format!("{name}-{width_name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    browser
        .cdp("Emulation.clearDeviceMetricsOverride", json!({}))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "KNOWN FAILURE since the checkout form with holds landed (0ef8b77): /checkout at 390px never \
reports innerWidth 390 in headless Chromium; open in the session note, to fix before this wave closes"]
async fn screenshots_of_every_page() {
    run("screenshots_of_every_page", 1, |ctx| async move {
        let app = TestApp::start(Backend::Sqlite).await;
        let products = released(&app).await;
        let browser = ctx.browser(&app).await;

        open_live(&browser, "/").await;
        shoot(&browser, "home").await;

        open_live(&browser, &format!("/products/{}", products[0].id)).await;
        shoot(&browser, "product").await;

        add_to_cart(&browser, in_stock(&products[0]).id, 1).await;
        let other = in_stock(&products[1]).id;
        app.set_stock(other, 1).await;
        open_live(&browser, "/").await;
        add_to_cart(&browser, other, 2).await;
        // The carted pairs are held, each line counting down to its hold's end.
        browser
            .wait_for(
                "the held lines",
                "document.querySelectorAll('#cart li.cart-line .cart-line__hold').length === 2",
            )
            .await;
        shoot(&browser, "cart").await;

        browser.goto("/checkout").await;
        super::wait_live(&browser).await;
        shoot(&browser, "checkout").await;

        browser.goto("/account/signup").await;
        shoot(&browser, "signup").await;
        super::sign_up(&browser, &app, "shots@example.com").await;
        shoot(&browser, "account").await;

        // The seeded drop with a waiting line, before it drops: join, then the line's page.
        let lined = app
            .inventory_json()
            .await
            .products
            .into_iter()
            .find(|p| p.queue)
            .unwrap_or_else(|| panic!("the seed has a drop with a line"));
        open_live(&browser, &format!("/products/{}", lined.id)).await;
        shoot(&browser, "line-join").await;
        browser
            .click(&format!("#queue-{} button[type=\"submit\"]", lined.id))
            .await;
        browser
            .wait_for_path(&format!("/products/{}/line", lined.id))
            .await;
        super::wait_live(&browser).await;
        shoot(&browser, "line").await;

        browser.goto_url(&admin_url(&app)).await;
        browser.wait_for_path("/admin").await;
        browser.wait_joined("admin:cart_tracker", 1).await;
        shoot(&browser, "admin").await;
    })
    .await
}
