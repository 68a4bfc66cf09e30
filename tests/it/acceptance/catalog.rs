//! An admin prepares a drop in the browser: the product form checked as it is typed (the
//! field keeps focus and caret), saved, released and edited while a shopper watches; the same
//! form without JavaScript.

use fantoccini::Locator;

use super::chrome::Browser;
use super::harness::run;
use super::{admin_url, open_live};
use crate::helpers::{Backend, TestApp};

/// Types `text` into the field `css` (cleared first), finding it again if a re-render of the
/// form replaced it meanwhile.
async fn type_into(browser: &Browser, css: &str, text: &str) {
    let mut tries = 0;
    loop {
        let typed = match browser.client.find(Locator::Css(css)).await {
            Ok(field) => match field.clear().await {
                Ok(()) => field.send_keys(text).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match typed {
            Ok(()) => return,
            Err(e) if tries >= 20 => panic!("typing in {css}: {e}"),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Presses Save and waits for the page that says it was saved.
async fn save(admin: &Browser) {
    admin.mark_document().await;
    admin.click("button[name=op][value=save]").await;
    admin
        .wait_for(
            "the saved product's page",
            "window.__sneakersSameDocument !== true && !!document.querySelector('.notice--ok')",
        )
        .await;
}

/// The admin pages of `app` at `path`, with the credentials in the URL.
fn admin_page(app: &TestApp, path: &str) -> String {
    format!("{}{path}", admin_url(app).trim_end_matches("/admin"))
}

/// Scenario 50: a bad price shows its error while it is typed, the field keeping focus and
/// what was typed; the product is created (coming soon), a shopper opens its page, the admin
/// releases it and then changes its price: the shopper's page shows the sizes and the new
/// price without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s50_an_admin_prepares_a_drop_and_the_shopper_sees_it_live() {
    run(
        "s50_an_admin_prepares_a_drop_and_the_shopper_sees_it_live",
        2,
        |ctx| async move {
            let app = TestApp::start(Backend::Sqlite).await;
            let admin = ctx.browser(&app).await;
            admin.goto_url(&admin_page(&app, "/admin/products/new")).await;
            admin.wait_joined("admin:cart_tracker", 1).await;
            admin.mark_document().await;
            type_into(&admin, "#f-price", "-5").await;
            admin
                .wait_for(
                    "the price's error, as it is typed",
                    "(document.querySelector('#f-price-error') || {}).textContent === 'A price must be more than $0.'",
                )
                .await;
            let kept = admin
                .js("var f = document.querySelector('#f-price'); return [document.activeElement === f, f.value, f.selectionStart];")
                .await;
            assert_eq!(kept, serde_json::json!([true, "-5", 2]), "focus, value and caret stay");
            admin.assert_not_reloaded("a live check").await;
            // A field nobody typed in yet is not flagged.
            assert_eq!(admin.count("#f-brand-error").await, 0);

            type_into(&admin, "#f-brand", "Nike").await;
            type_into(&admin, "#f-name", "Air Max Live").await;
            type_into(&admin, "#f-color", "Volt").await;
            type_into(&admin, "#f-sku", "AM-LIVE").await;
            type_into(&admin, "#f-price", "180").await;
            type_into(&admin, "#f-size-0-label", "US 9").await;
            type_into(&admin, "#f-size-0-stock", "4").await;
            admin
                .wait_for(
                    "the price's error goes once the price is right",
                    "!document.querySelector('#f-price-error')",
                )
                .await;
            admin.click("input[name=release][value=soon]").await;
            save(&admin).await;
            let path = admin.path().await;
            let id = path
                .trim_start_matches("/admin/products/")
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string();

            let shopper = ctx.browser(&app).await;
            open_live(&shopper, &format!("/products/{id}")).await;
            shopper.mark_document().await;
            assert!(shopper.text(".product-detail").await.contains("Coming soon"));

            admin.wait_joined("admin:cart_tracker", 1).await;
            admin.click("input[name=release][value=now]").await;
            save(&admin).await;
            shopper
                .wait_for(
                    "the sizes appear at the release",
                    &format!("!!document.querySelector('#product-{id}-sizes [data-level]')"),
                )
                .await;
            admin.wait_joined("admin:cart_tracker", 1).await;
            type_into(&admin, "#f-price", "199").await;
            save(&admin).await;
            shopper
                .wait_for(
                    "the new price",
                    &format!("(document.querySelector('#product-{id}-price') || {{}}).textContent === '$199.00'"),
                )
                .await;
            shopper.assert_not_reloaded("release and edit").await;
        },
    )
    .await;
}

/// Scenario 51: without JavaScript the form posts and comes back with the same error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s51_the_product_form_works_without_javascript() {
    run(
        "s51_the_product_form_works_without_javascript",
        1,
        |ctx| async move {
            let app = TestApp::start(Backend::Sqlite).await;
            // The refused post's 422 is logged by the browser.
            ctx.expect_console_error("status of 422");
            let admin = ctx.browser_without_javascript(&app).await;
            admin.goto_url(&admin_page(&app, "/admin/products/new")).await;
            type_into(&admin, "#f-price", "-5").await;
            admin.click("button[name=op][value=save]").await;
            admin
                .wait_for(
                    "the posted form comes back with the price's error and what was typed",
                    "(document.querySelector('#f-price-error') || {}).textContent === 'A price must be more than $0.' \
                     && document.querySelector('#f-price').value === '-5'",
                )
                .await;
            assert_eq!(
                admin.js("return typeof window.Sneakers;").await,
                serde_json::json!("undefined"),
                "the shim did not run: JavaScript is off"
            );
        },
    )
    .await;
}

/// Scenario 53: the release time is typed in the browser's own time zone: in Kolkata (UTC+05:30)
/// a new product's form preselects +05:30, and a drop scheduled for 10:00 UTC opens as 15:30
/// there and is saved at the same instant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s53_the_release_time_is_in_the_browsers_time_zone() {
    run(
        "s53_the_release_time_is_in_the_browsers_time_zone",
        1,
        |ctx| async move {
            let app = TestApp::start(Backend::Sqlite).await;
            let mut fields = crate::admin_catalog::new_product("TZ-TEST", "at");
            fields.push(("release_at".into(), "2030-06-01T10:00".into()));
            let (status, location, body) = app.admin_post("/admin/products", &fields).await;
            assert_eq!(status, 303, "{body}");
            let edit = location.trim_end_matches("?saved=1").to_string();
            let admin = ctx.browser(&app).await;
            admin
                .cdp(
                    "Emulation.setTimezoneOverride",
                    serde_json::json!({ "timezoneId": "Asia/Kolkata" }),
                )
                .await;
            admin.goto_url(&admin_page(&app, "/admin/products/new")).await;
            admin
                .wait_for(
                    "the browser's offset preselected",
                    "document.querySelector('#f-release_offset').value === '+05:30'",
                )
                .await;

            admin.goto_url(&admin_page(&app, &edit)).await;
            admin
                .wait_for(
                    "the drop's time shown in Kolkata, the same instant",
                    "document.querySelector('#f-release_offset').value === '+05:30' \
                     && document.querySelector('#f-release_at').value === '2030-06-01T15:30'",
                )
                .await;
            admin
                .wait_for(
                    "the server's re-render still says 10:00 UTC",
                    "(document.querySelector('#f-release-utc') || {}).textContent === 'That is 2030-06-01 10:00 UTC.'",
                )
                .await;
            save(&admin).await;
            let id = edit
                .trim_start_matches("/admin/products/")
                .split('/')
                .next()
                .and_then(|id| id.parse().ok())
                .map(sneakers::domain::ProductId)
                .unwrap_or_else(|| panic!("the product's id in {edit}"));
            let at = app.inventory().read(|c| c.product(id).and_then(|p| p.release_at));
            assert_eq!(
                at.map(|t| t.to_rfc3339()),
                Some("2030-06-01T10:00:00+00:00".to_string()),
                "saved at the same instant"
            );
        },
    )
    .await;
}
