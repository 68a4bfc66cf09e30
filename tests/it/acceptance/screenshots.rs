//! Screenshots of the store's pages at desktop and phone widths, kept under
//! `target/screenshots/` for a person to look at.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::chrome::{Browser, DEADLINE, full_screenshot, target_dir};
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
        fits(browser, name, width).await;
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

/// Waits for the page to be laid out at `width`, and fails naming what sticks out if it is wider:
/// a phone shows a page wider than itself zoomed out (its layout viewport grows to the page),
/// so `innerWidth` only reaches `width` when nothing overflows.
async fn fits(browser: &Browser, name: &str, width: u32) {
    let started = Instant::now();
    loop {
        let laid_out = browser
            .js(&format!(
                "return window.innerWidth === {width} && \
                 document.documentElement.scrollWidth <= {width};"
            ))
            .await;
        if laid_out == Value::Bool(true) {
            return;
        }
        if started.elapsed() > DEADLINE {
            let wide = browser.js(WIDER_THAN_VIEWPORT).await;
            panic!("{name} at {width}px is wider than the screen: {wide}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The page's width and the outermost elements whose right edge is past the layout viewport.
const WIDER_THAN_VIEWPORT: &str = "var w = document.documentElement.clientWidth, out = []; \
    document.querySelectorAll('body *').forEach(function (el) { \
      var r = el.getBoundingClientRect(); \
      if (r.right > w + 0.5 && !(el.parentElement && el.parentElement.getBoundingClientRect().right > w + 0.5)) \
        out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + \
          (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '') + \
          ' to ' + Math.round(r.right) + 'px'); \
    }); \
    return { innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth, \
      sticking_out: out };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
