//! Payments against real providers: Stripe's PaymentIntents as `localstripe` serves them, and
//! the built-in test gateway. Holds are taken and checkout started through the inventory
//! service (what the cart and checkout pages call); Stripe's side is the real server's.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use sneakers::domain::address::Address;
use sneakers::domain::order::OrderState;
use sneakers::domain::payment::{Decline, TestCard};
use sneakers::domain::{ItemId, Shopper};
use sneakers::inventory::payments::Paid;
use sneakers::payments::Method;
use sneakers::payments::signature::sign;
use sneakers::store::payments::{self as ledger, Begun};
use sneakers::store::{self, orders};

use crate::helpers::{Backend, TestApp, pairs_left};
use crate::localstripe::{self, WEBHOOK_SECRET};
use crate::on_both_backends;

on_both_backends!(
    stripe_charges_once_and_a_declined_card_charges_nothing,
    webhooks_are_believed_once_and_only_when_signed,
    the_reconcile_pass_at_start_settles_what_nobody_reported,
    a_payment_that_succeeds_after_its_hold_ended_is_refunded,
    the_test_gateway_follows_stripes_test_cards_and_refunds
);

fn address() -> Address {
    Address {
        name: "Ada Lovelace".into(),
        line1: "12 St James's Square".into(),
        line2: String::new(),
        city: "London".into(),
        postal_code: "SW1Y 4JH".into(),
        country: "GB".into(),
    }
}

fn shopper(name: &str) -> Shopper {
    Shopper::guest(format!("{name}-{:x}", rand::random::<u64>()))
}

async fn stripe_app(backend: Backend, hold: Duration) -> TestApp {
    let settings = localstripe::settings().await;
    TestApp::start_with(backend, move |config| {
        config.stripe = Some(settings);
        config.hold = hold;
    })
    .await
}

/// An item of a released product with at least `n` pairs.
async fn item_with(app: &TestApp, n: i32) -> ItemId {
    let product = app.product(true).await;
    let item = product
        .items
        .iter()
        .find(|i| i.available_count >= n)
        .unwrap_or_else(|| panic!("no size with {n} pairs"));
    item.id
}

/// Holds `item` for `who` and starts checkout: the order waiting for payment and its total.
async fn checkout(app: &TestApp, who: &Shopper, item: ItemId) -> (i32, i32) {
    app.inventory()
        .hold(who, item)
        .await
        .unwrap_or_else(|e| panic!("hold: {e}"));
    match app
        .inventory()
        .begin_checkout(who, "ada@example.com", &address(), "test-node")
        .await
        .unwrap_or_else(|e| panic!("begin: {e}"))
    {
        Begun::Order {
            order_id,
            total_cents,
            ..
        } => (order_id, total_cents),
        other => panic!("no order: {other:?}"),
    }
}

async fn state_of(app: &TestApp, order_id: i32) -> OrderState {
    orders::detail(&app.db, order_id)
        .await
        .unwrap_or_else(|e| panic!("detail: {e}"))
        .unwrap_or_else(|| panic!("no order {order_id}"))
        .order
        .state
}

/// How often the order's history says it became `state`.
async fn times_in(app: &TestApp, order_id: i32, state: OrderState) -> usize {
    orders::detail(&app.db, order_id)
        .await
        .unwrap_or_else(|e| panic!("detail: {e}"))
        .map_or(0, |d| d.history.iter().filter(|e| e.state == state).count())
}

/// Waits for the order to reach `state` (a background task gets it there).
async fn until_state(app: &TestApp, order_id: i32, state: OrderState, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = state_of(app, order_id).await;
        if now == state {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "order {order_id} is {now}, not {state}, after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the browser and Stripe do when the store is not listening (or its node died after the
/// intent was created): an intent for the order, recorded, then confirmed at Stripe.
async fn paid_behind_the_stores_back(app: &TestApp, order_id: i32, total: i32) -> String {
    let card = localstripe::card("4242424242424242").await;
    let total_text = total.to_string();
    let created = localstripe::api(
        reqwest::Method::POST,
        "/v1/payment_intents",
        &[
            ("amount", &total_text),
            ("currency", "usd"),
            ("payment_method", &card),
            ("capture_method", "automatic"),
        ],
    )
    .await;
    let intent = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no intent: {created}"))
        .to_string();
    ledger::record_attempt(
        &app.db,
        order_id,
        "stripe",
        &intent,
        &format!("test-{intent}"),
        total,
    )
    .await
    .unwrap_or_else(|e| panic!("record: {e}"));
    let confirmed = localstripe::api(
        reqwest::Method::POST,
        &format!("/v1/payment_intents/{intent}/confirm"),
        &[],
    )
    .await;
    assert_eq!(confirmed["status"], "succeeded", "{confirmed}");
    intent
}

async fn stripe_charges_once_and_a_declined_card_charges_nothing(backend: Backend) {
    let app = stripe_app(backend, Duration::from_secs(600)).await;
    let name = app.url.rsplit(':').next().unwrap_or("app").to_string();
    localstripe::register_webhook(&name, &format!("{}/payments/stripe/webhook", app.url)).await;
    let item = item_with(&app, 3).await;
    let before = pairs_left(&app.db, item).await;
    let ada = shopper("ada");
    let (order_id, total) = checkout(&app, &ada, item).await;
    assert_eq!(
        pairs_left(&app.db, item).await,
        before - 1,
        "held: out of stock"
    );
    // A refresh of the checkout is the same order.
    let again = app
        .inventory()
        .begin_checkout(&ada, "ada@example.com", &address(), "test-node")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(again, Begun::Order { order_id: o, .. } if o == order_id));

    // A double click: two submissions of the same card at once.
    let card = Method::Stripe(localstripe::card("4242424242424242").await);
    let (first, second) = tokio::join!(
        app.inventory().pay(order_id, &card),
        app.inventory().pay(order_id, &card)
    );
    for paid in [first, second] {
        assert_eq!(paid.ok(), Some(Paid::Paid { order_id }));
    }
    assert_eq!(state_of(&app, order_id).await, OrderState::Paid);
    assert_eq!(times_in(&app, order_id, OrderState::Paid).await, 1);
    let detail = orders::detail(&app.db, order_id)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no order"));
    let intent = detail
        .order
        .payment_ref
        .unwrap_or_else(|| panic!("no payment reference"));
    assert_eq!(localstripe::charges_of(&intent).await, 1, "one charge");
    assert_eq!(localstripe::intent(&intent).await["amount"], json!(total));
    // The held pair is sold for good: no hold left, the stock as it was when held.
    assert!(
        app.inventory()
            .holds_of(&ada.cart_id)
            .await
            .ok()
            .is_some_and(|h| h.is_empty())
    );
    assert_eq!(pairs_left(&app.db, item).await, before - 1);

    // A declined card: nothing charged, the order waits, the pair stays held a short while.
    let bob = shopper("bob");
    let (bobs, _) = checkout(&app, &bob, item).await;
    let declined = Method::Stripe(localstripe::card("4000000000000341").await);
    let paid = app.inventory().pay(bobs, &declined).await.ok();
    assert_eq!(paid, Some(Paid::Declined(Decline::CardDeclined)));
    assert_eq!(state_of(&app, bobs).await, OrderState::PendingPayment);
    let holds = app
        .inventory()
        .holds_of(&bob.cart_id)
        .await
        .unwrap_or_default();
    let retry_by = Utc::now().timestamp_millis() + 120_000;
    assert!(
        holds.len() == 1 && holds[0].expires_at_ms <= retry_by,
        "{holds:?}"
    );
    // Another card works: a new attempt, one charge.
    let good = Method::Stripe(localstripe::card("4242424242424242").await);
    assert_eq!(
        app.inventory().pay(bobs, &good).await.ok(),
        Some(Paid::Paid { order_id: bobs })
    );
    assert_eq!(pairs_left(&app.db, item).await, before - 2);
}

/// A `payment_intent.*` event as Stripe sends it, with its signature header.
fn signed_event(kind: &str, intent: &serde_json::Value, secret: &str, at: i64) -> (String, String) {
    let body = json!({
        "id": format!("evt_{:x}", rand::random::<u64>()),
        "object": "event",
        "type": kind,
        "created": at,
        "data": { "object": intent },
    })
    .to_string();
    let header = format!("t={at},v1={}", sign(body.as_bytes(), at, secret));
    (body, header)
}

async fn deliver(app: &TestApp, body: &str, header: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = app
        .http
        .post(format!("{}/payments/stripe/webhook", app.url))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(header) = header {
        request = request.header("stripe-signature", header);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn webhooks_are_believed_once_and_only_when_signed(backend: Backend) {
    let app = stripe_app(backend, Duration::from_secs(600)).await;
    let item = item_with(&app, 2).await;
    let ada = shopper("ada");
    let (order_id, total) = checkout(&app, &ada, item).await;
    let intent = paid_behind_the_stores_back(&app, order_id, total).await;
    let object = localstripe::intent(&intent).await;
    let now = Utc::now().timestamp();

    // Forged, stale or unsigned: refused, and nothing changes.
    let (body, forged) = signed_event("payment_intent.succeeded", &object, "whsec_not_ours", now);
    let (stale_body, stale) = signed_event(
        "payment_intent.succeeded",
        &object,
        WEBHOOK_SECRET,
        now - 400,
    );
    for (body, header) in [
        (&body, Some(forged.as_str())),
        (&stale_body, Some(stale.as_str())),
        (&body, None),
    ] {
        let (status, answer) = deliver(&app, body, header).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("bad_signature"))
        );
    }
    assert_eq!(state_of(&app, order_id).await, OrderState::PendingPayment);

    // Signed: settled; delivered again, nothing more happens.
    let (body, header) = signed_event("payment_intent.succeeded", &object, WEBHOOK_SECRET, now);
    for _ in 0..2 {
        let (status, answer) = deliver(&app, &body, Some(&header)).await;
        assert_eq!((status, answer["received"].as_bool()), (200, Some(true)));
    }
    // Out of order: a failure reported after the success changes nothing.
    let mut failed = object.clone();
    failed["status"] = json!("requires_payment_method");
    failed["last_payment_error"] = json!({ "code": "card_declined" });
    let (body, header) = signed_event(
        "payment_intent.payment_failed",
        &failed,
        WEBHOOK_SECRET,
        now,
    );
    assert_eq!(deliver(&app, &body, Some(&header)).await.0, 200);
    assert_eq!(state_of(&app, order_id).await, OrderState::Paid);
    assert_eq!(times_in(&app, order_id, OrderState::Paid).await, 1);
    assert_eq!(localstripe::charges_of(&intent).await, 1);
    // Not JSON at all, signed: the store's error, not a crash.
    let at = Utc::now().timestamp();
    let header = format!("t={at},v1={}", sign(b"{{{", at, WEBHOOK_SECRET));
    assert_eq!(deliver(&app, "{{{", Some(&header)).await.0, 400);
}

async fn the_reconcile_pass_at_start_settles_what_nobody_reported(backend: Backend) {
    let mut app = stripe_app(backend, Duration::from_secs(600)).await;
    let item = item_with(&app, 2).await;
    let ada = shopper("ada");
    let (order_id, total) = checkout(&app, &ada, item).await;
    // The node died after Stripe charged and before it wrote the order paid.
    let intent = paid_behind_the_stores_back(&app, order_id, total).await;
    assert_eq!(state_of(&app, order_id).await, OrderState::PendingPayment);
    app.restart().await;
    until_state(&app, order_id, OrderState::Paid, Duration::from_secs(10)).await;
    assert_eq!(localstripe::charges_of(&intent).await, 1);
    // Passes after that find nothing to do.
    let asked = app.inventory().reconcile().await.ok();
    assert_eq!(asked, Some(0));
    assert_eq!(times_in(&app, order_id, OrderState::Paid).await, 1);
}

async fn a_payment_that_succeeds_after_its_hold_ended_is_refunded(backend: Backend) {
    let app = stripe_app(backend, Duration::from_millis(1500)).await;
    let item = item_with(&app, 2).await;
    app.set_stock(item, 1).await;
    let ada = shopper("ada");
    let (order_id, total) = checkout(&app, &ada, item).await;
    assert_eq!(pairs_left(&app.db, item).await, 0);
    // Stripe took the money, but the store heard nothing before the hold ended.
    let intent = paid_behind_the_stores_back(&app, order_id, total).await;
    // The hold ends: the pair goes back and someone else takes it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let bob = shopper("bob");
    loop {
        if app.inventory().hold(&bob, item).await.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pair never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    until_state(
        &app,
        order_id,
        OrderState::Refunded,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(localstripe::refunded_of(&intent).await, i64::from(total));
    assert_eq!(pairs_left(&app.db, item).await, 0, "bob holds the one pair");
    let history = orders::detail(&app.db, order_id).await.ok().flatten();
    let states: Vec<OrderState> = history
        .map(|d| d.history.iter().map(|e| e.state).collect())
        .unwrap_or_default();
    assert_eq!(
        states,
        [
            OrderState::PendingPayment,
            OrderState::Cancelled,
            OrderState::Refunded
        ]
    );
}

async fn the_test_gateway_follows_stripes_test_cards_and_refunds(backend: Backend) {
    let app = TestApp::start(backend).await;
    let item = item_with(&app, 2).await;
    let before = pairs_left(&app.db, item).await;
    let ada = shopper("ada");
    let (order_id, total) = checkout(&app, &ada, item).await;
    let today = Utc::now().date_naive();
    let card = |n: &str| {
        Method::Test(TestCard::parse(n, "12/40", "123", today).unwrap_or_else(|e| panic!("{e:?}")))
    };
    let inventory = app.inventory();
    assert_eq!(
        inventory
            .pay(order_id, &card("4000 0000 0000 0002"))
            .await
            .ok(),
        Some(Paid::Declined(Decline::CardDeclined))
    );
    assert_eq!(
        inventory
            .pay(order_id, &card("4000 0000 0000 9995"))
            .await
            .ok(),
        Some(Paid::Declined(Decline::InsufficientFunds))
    );
    assert_eq!(state_of(&app, order_id).await, OrderState::PendingPayment);
    let pay = card("4242 4242 4242 4242");
    let (first, second) =
        tokio::join!(inventory.pay(order_id, &pay), inventory.pay(order_id, &pay));
    assert_eq!(first.ok(), Some(Paid::Paid { order_id }));
    assert_eq!(second.ok(), Some(Paid::Paid { order_id }));
    assert_eq!(times_in(&app, order_id, OrderState::Paid).await, 1);
    assert_eq!(pairs_left(&app.db, item).await, before - 1);

    // An admin refunds it and puts the pair back.
    inventory
        .refund_order(order_id, "admin", true)
        .await
        .unwrap_or_else(|e| panic!("refund: {e}"));
    assert_eq!(state_of(&app, order_id).await, OrderState::Refunded);
    assert_eq!(pairs_left(&app.db, item).await, before);
    let reference = ledger::latest_attempt(&app.db, order_id)
        .await
        .ok()
        .flatten()
        .map(|a| a.reference)
        .unwrap_or_default();
    let charge = store::test_gateway::find(&app.db, &reference)
        .await
        .ok()
        .flatten();
    assert_eq!(charge.map(|c| c.refunded_cents), Some(total));
    let refunded = orders::detail(&app.db, order_id).await.ok().flatten();
    assert!(refunded.is_some_and(|d| {
        d.history
            .last()
            .is_some_and(|e| e.state == OrderState::Refunded && e.actor.as_deref() == Some("admin"))
    }));
}
