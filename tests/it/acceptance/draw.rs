//! A draw as a shopper lives it in the browser: enter, withdraw, enter again with another size,
//! and at close the result appears on the page left open, without a reload.

use chrono::{Duration, Utc};
use sneakers::domain::draw::Window;
use sneakers::domain::{ItemId, ProductId};

use super::chrome::Browser;
use super::harness::run;
use super::{open_live, wait_live};
use crate::helpers::{Backend, TestApp};

async fn set_window(app: &TestApp, product: ProductId, closes_in: Duration) {
    let now = Utc::now();
    let window =
        Window::new(now - Duration::minutes(1), now + closes_in).unwrap_or_else(|e| panic!("{e}"));
    app.inventory()
        .configure_draw(product, Some(window))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Fills the draw's entry form for `item` and sends it, as a shopper types it.
async fn enter(browser: &Browser, product: ProductId, item: ItemId) {
    browser
        .js(&format!(
            "document.querySelector('#draw-{product}-size').value = '{item}'; return null;"
        ))
        .await;
    for (field, value) in [
        ("email", "drawfan@example.com"),
        ("name", "Ada Lovelace"),
        ("address_line1", "12 St James's Square"),
        ("city", "London"),
        ("postal_code", "SW1Y 4JH"),
        ("country", "GB"),
        ("card_number", "4242424242424242"),
        ("card_exp", "12/34"),
        ("card_cvc", "123"),
    ] {
        browser
            .type_into(&format!("#draw-{product}-{field}"), value)
            .await;
    }
    browser
        .click(&format!(
            "#draw-{product}-mine form.draw-form button[type=\"submit\"]"
        ))
        .await;
}

async fn wait_standing(browser: &Browser, product: ProductId, standing: &str) {
    browser
        .wait_for(
            &format!("the draw panel says {standing}"),
            &format!(
                "document.querySelector('#draw-{product}-mine[data-standing=\"{standing}\"]')"
            ),
        )
        .await;
}

/// Scenario 54.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s54_a_shopper_enters_a_draw_withdraws_enters_again_and_sees_the_result() {
    run(
        "s54_a_shopper_enters_a_draw_withdraws_enters_again_and_sees_the_result",
        1,
        |ctx| async move {
            let app = TestApp::start(Backend::Sqlite).await;
            let product = app.product(false).await;
            let id = product.id;
            let (first, second) = (product.items[0].id, product.items[1].id);
            crate::draws::stock(&app, second, 1).await;
            set_window(&app, id, Duration::hours(1)).await;

            let browser = ctx.browser(&app).await;
            super::sign_up(&browser, &app, "drawfan@example.com").await;
            open_live(&browser, &format!("/products/{id}")).await;
            enter(&browser, id, first).await;
            wait_standing(&browser, id, "entered").await;
            browser
                .click(&format!(
                    "#draw-{id}-mine form[action=\"/products/{id}/entries/withdraw\"] button"
                ))
                .await;
            wait_standing(&browser, id, "withdrawn").await;
            enter(&browser, id, second).await;
            wait_standing(&browser, id, "entered").await;
            let size = product.items[1].size.clone();
            assert!(
                browser
                    .text(&format!("#draw-{id}-mine"))
                    .await
                    .contains(&format!("for size {size}")),
                "the entry is for the second size"
            );

            // The window closes with the page open: the result arrives on it.
            wait_live(&browser).await;
            browser.mark_document().await;
            set_window(&app, id, Duration::milliseconds(1)).await;
            browser
                .wait_for_within(
                    "the result appears on the open page",
                    &format!("document.querySelector('#draw-{id}-mine[data-standing=\"won\"]')"),
                    std::time::Duration::from_secs(20),
                )
                .await;
            browser
                .assert_not_reloaded("the product page during the draw")
                .await;
            assert!(
                browser
                    .text(&format!("#draw-{id}-mine"))
                    .await
                    .contains("You won!")
            );
        },
    )
    .await;
}
