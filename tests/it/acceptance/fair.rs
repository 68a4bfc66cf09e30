//! A fair drop as a shopper lives it: sign up, join the line, watch the place fall, get in,
//! buy the one pair the limit allows, be refused a second.

use sneakers::domain::ProductId;

use super::harness::run;
use super::{add_to_cart, open_live, wait_live};
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp};

async fn admin_post(app: &TestApp, path: &str, form: &[(&str, &str)]) {
    let response = app
        .http
        .post(format!("{}{path}", app.url))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .form(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200, "POST {path}");
}

fn position(browser_js: &serde_json::Value) -> u64 {
    browser_js
        .as_str()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no position: {browser_js}"))
}

/// Scenario 11.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11_sign_up_wait_in_line_and_buy_the_one_pair_allowed() {
    run("s11_sign_up_wait_in_line_and_buy_the_one_pair_allowed", 1, |ctx| async move {
        let app = TestApp::start(Backend::Sqlite).await;
        let product: ProductId = app.product(false).await.id;
        // One every two seconds, one pair per customer.
        admin_post(&app, &format!("/admin/products/{product}/queue"), &[("enabled", "1"), ("admit_per_minute", "30")]).await;
        admin_post(&app, &format!("/admin/products/{product}/limit"), &[("max", "1")]).await;
        // Three shoppers were in line before the drop.
        for n in 0..3 {
            let mut visitor = app.visitor().await;
            crate::accounts::signup(&app.db, &mut visitor, &format!("early{n}@example.com")).await;
            let (status, location) = visitor.post(&format!("/products/{product}/line"), &[]).await;
            assert_eq!((status, location), (303, format!("/products/{product}/line")));
        }

        let browser = ctx.browser(&app).await;
        super::sign_up(&browser, &app, "fan@example.com").await;
        assert!(browser.text("#account-email").await.contains("fan@example.com"));

        app.admin.release(&product.to_string()).await.unwrap_or_else(|e| panic!("{e}"));
        open_live(&browser, &format!("/products/{product}")).await;
        browser.click(&format!("#queue-{product} button[type=\"submit\"]")).await;
        browser.wait_for_path(&format!("/products/{product}/line")).await;
        wait_live(&browser).await;
        let panel = format!("#queue-{product}");
        let first = position(&browser.js(&format!("return document.querySelector('{panel}').getAttribute('data-position');")).await);
        // Three came before the drop; one is let in every two seconds from it.
        assert!(first >= 2, "behind those who came before the drop: {first}");
        browser
            .wait_for(
                "the place falls while the page stays open",
                &format!("(function () {{ var p = document.querySelector('{panel}'); return p && p.getAttribute('data-admitted') === 'false' && Number(p.getAttribute('data-position')) < {first} && Number(p.getAttribute('data-position')) > 0; }})()"),
            )
            .await;
        browser.mark_document().await;
        browser
            .wait_for_within(
                "the shopper is let in",
                &format!("document.querySelector('{panel}[data-admitted=\"true\"]')"),
                std::time::Duration::from_secs(20),
            )
            .await;
        browser.assert_not_reloaded("the line page while waiting").await;

        let item = app
            .inventory_json()
            .await
            .products
            .into_iter()
            .find(|p| p.id == product)
            .map(|p| p.items.into_iter().filter(|i| i.available_count > 0).map(|i| i.id).collect::<Vec<_>>())
            .unwrap_or_default();
        assert!(item.len() >= 2, "two sizes in stock");
        open_live(&browser, &format!("/products/{product}")).await;
        add_to_cart(&browser, item[0], 1).await;
        browser.click("#cart a.cart-panel__checkout").await;
        browser.wait_for_path("/checkout").await;
        browser.fill_checkout(crate::visitor::PAYS).await;
        browser.click("form[action=\"/checkout\"] button[type=\"submit\"]").await;
        browser.wait_for_path("/checkout/complete").await;

        // The limit: a second pair of the drop is refused.
        open_live(&browser, &format!("/products/{product}")).await;
        browser.click(&format!("#item-{} button.size__button", item[1])).await;
        browser
            .wait_for(
                "the shopper is told about the limit",
                "document.querySelector('#flash') && document.querySelector('#flash').textContent.indexOf('limit per customer') >= 0",
            )
            .await;
        browser.goto("/account").await;
        assert_eq!(browser.count("[data-order-id]").await, 1);
    })
    .await;
}
