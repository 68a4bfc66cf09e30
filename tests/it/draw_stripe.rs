//! A draw on Stripe (a real `localstripe`): each entry's card authorised at entry (a
//! manual-capture intent), the winner's captured, every other released (cancelled), and an
//! entry made with another token of a card already entered void, since Stripe's card
//! fingerprint is what names a card.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;
use sneakers::domain::ProductId;
use sneakers::store::schema::draw_entries;
use sneakers::with_conn;

use crate::draws::{cart_socket, close, entrant, next_result, open_window, stock};
use crate::helpers::{Backend, TestApp};
use crate::localstripe;
use crate::on_both_backends;
use crate::visitor::Visitor;

on_both_backends!(a_draw_on_stripe_authorises_entries_captures_winners_and_cancels_the_rest);

/// Enters with a card Stripe.js would have tokenised in the browser.
async fn enter(
    visitor: &Visitor,
    product: ProductId,
    item: &str,
    number: &str,
    street: &str,
) -> u16 {
    let card = localstripe::card(number).await;
    let fields = [
        ("item_id", item),
        ("email", "entrant@example.com"),
        ("name", "Ada Lovelace"),
        ("address_line1", street),
        ("address_line2", ""),
        ("city", "London"),
        ("postal_code", "SW1Y 4JH"),
        ("country", "GB"),
        ("payment_method", card.as_str()),
    ];
    visitor
        .post(&format!("/products/{product}/entries"), &fields)
        .await
        .0
}

/// Each entry's intent, in the order the entries were made.
async fn intents(app: &TestApp, product: ProductId) -> Vec<Option<String>> {
    let mut conn = app.db.get().await.unwrap_or_else(|e| panic!("{e}"));
    with_conn!(conn, |c| {
        draw_entries::table
            .filter(draw_entries::product_id.eq(product.0))
            .order(draw_entries::id)
            .select(draw_entries::payment_ref)
            .load(c)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    })
}

async fn status(intent: &Option<String>) -> String {
    let intent = intent
        .as_deref()
        .unwrap_or_else(|| panic!("an entry without an intent"));
    localstripe::intent(intent).await["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn a_draw_on_stripe_authorises_entries_captures_winners_and_cancels_the_rest(
    backend: Backend,
) {
    let settings = localstripe::settings().await;
    let app = TestApp::start_with(backend, move |config| config.stripe = Some(settings)).await;
    let product = app.product(false).await;
    open_window(&app, product.id, chrono::Duration::hours(1)).await;
    let item = product.items[0].id;
    stock(&app, item, 1).await;
    let page = format!("/products/{}", product.id);
    let size = item.to_string();

    // Ada and Grace enter for the one pair; Bob with a new token of Ada's card number.
    let mut visitors = Vec::new();
    for (number, street) in [
        ("4242424242424242", "1 Ada Street"),
        ("5555555555554444", "2 Grace Road"),
        ("4242424242424242", "4 Bob Close"),
    ] {
        let mut visitor = entrant(&app).await;
        visitor.visit(&page).await;
        assert_eq!(
            enter(&visitor, product.id, &size, number, street).await,
            303
        );
        visitors.push(visitor);
    }
    // Each card is authorised, nothing captured.
    let entered = intents(&app, product.id).await;
    assert_eq!(entered.len(), 3);
    for intent in &entered {
        assert_eq!(status(intent).await, "requires_capture");
    }
    let card = localstripe::intent(entered[0].as_deref().unwrap_or_default()).await;
    assert_eq!(card["capture_method"], json!("manual"), "{card}");

    let mut sockets = Vec::new();
    for visitor in &visitors {
        sockets.push(cart_socket(&app, visitor).await);
    }
    let mut page_socket = app.client().await;
    page_socket
        .join_ok(&format!("product:{}", product.id), json!({}))
        .await;
    close(&app, product.id).await;
    let mut results = Vec::new();
    for socket in &mut sockets {
        let result = next_result(socket, product.id).await;
        results.push(result["standing"].as_str().unwrap_or_default().to_string());
    }
    // Bob's card is Ada's (Stripe's fingerprint): void. One of Ada and Grace won.
    assert_eq!(results[2], "void:same_card", "{results:?}");
    let mut outcomes = [results[0].as_str(), results[1].as_str()];
    outcomes.sort_unstable();
    assert_eq!(outcomes, ["lost", "won"], "{results:?}");
    // The draw is made once every authorisation not charged is let go.
    while page_socket.frame().await.event != "draw_made" {}
    // The winner's authorisation is captured once; the loser's and Bob's are cancelled.
    for (intent, result) in entered.iter().zip(&results) {
        let expected = if result == "won" {
            "succeeded"
        } else {
            "canceled"
        };
        assert_eq!(status(intent).await, expected, "{result}");
    }
    let winner = &entered[results.iter().position(|r| r == "won").unwrap_or_default()];
    assert_eq!(
        localstripe::charges_of(winner.as_deref().unwrap_or_default()).await,
        1,
        "one charge"
    );
}
