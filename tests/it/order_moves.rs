//! Admins move orders on: ship a paid one (with its tracking number), refund it (the pairs back
//! to stock when asked), cancel an unpaid one (its held pairs back). A move the state does not
//! allow is refused with the state; every move is in the order's history.

use serde_json::Value;
use sneakers::domain::ItemId;
use sneakers::domain::order::OrderState;
use sneakers::store::orders;

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp};
use crate::on_both_backends;
use crate::visitor::DECLINED;

on_both_backends!(orders_are_shipped_refunded_and_cancelled_by_admins);

async fn admin_post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", app.url))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .form(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn state_of(app: &TestApp, order: i32) -> (OrderState, Vec<Option<String>>) {
    let detail = orders::detail(&app.db, order)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no order {order}"));
    (
        detail.order.state,
        detail.history.into_iter().map(|e| e.note).collect(),
    )
}

async fn orders_are_shipped_refunded_and_cancelled_by_admins(backend: Backend) {
    let app = TestApp::start(backend).await;
    let product = app.product(true).await;
    let item: ItemId = product
        .items
        .iter()
        .find(|i| i.available_count > 2)
        .map(|i| i.id)
        .unwrap_or_else(|| panic!("a size in stock"));
    let before = app.item(item).await.available_count;
    let shopper = app.visitor().await;
    shopper.add(item).await;
    let done = shopper.checkout().await;
    let order: i32 = done
        .strip_prefix("/checkout/complete?order=")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("{done}"));
    let path = |what: &str| format!("/admin/orders/{order}/{what}");

    // Paid: not to be cancelled, but shipped, with its tracking number in the history.
    let (status, body) = admin_post(&app, &path("cancel"), &[]).await;
    assert_eq!((status, body["error"].clone()), (409, "not_allowed".into()));
    let (status, body) = admin_post(&app, &path("fulfil"), &[("tracking", "1Z999AA1")]).await;
    assert_eq!((status, body["state"].clone()), (200, "fulfilled".into()));
    let (state, notes) = state_of(&app, order).await;
    assert_eq!(state, OrderState::Fulfilled);
    assert!(
        notes.contains(&Some("tracking 1Z999AA1".into())),
        "{notes:?}"
    );

    // Refunded with its pairs back on sale.
    let (status, _) = admin_post(&app, &path("refund"), &[("restock", "maybe")]).await;
    assert_eq!(status, 422);
    let (status, body) = admin_post(&app, &path("refund"), &[("restock", "1")]).await;
    assert_eq!((status, body["state"].clone()), (200, "refunded".into()));
    assert_eq!(state_of(&app, order).await.0, OrderState::Refunded);
    assert_eq!(app.item(item).await.available_count, before);
    let (status, _) = admin_post(&app, &path("fulfil"), &[]).await;
    assert_eq!(status, 409);

    // An order waiting for payment (a declined card) is cancelled: its held pair goes back.
    let late = app.visitor().await;
    late.add(item).await;
    assert_eq!(late.pay_with(DECLINED).await.0, 402);
    assert_eq!(app.item(item).await.available_count, before - 1);
    let pending = orders::list(&app.db, orders::OrderFilter::Latest, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pending = pending[0].id;
    assert_eq!(state_of(&app, pending).await.0, OrderState::PendingPayment);
    let (status, body) = admin_post(&app, &format!("/admin/orders/{pending}/cancel"), &[]).await;
    assert_eq!((status, body["state"].clone()), (200, "cancelled".into()));
    assert_eq!(app.item(item).await.available_count, before);
    let (status, _) = admin_post(&app, "/admin/orders/nope/cancel", &[]).await;
    assert_eq!(status, 404);
    app.assert_cache_matches_db().await;
}
