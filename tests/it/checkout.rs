//! Checkout: all or nothing, never oversold, with or without JavaScript.

use futures_util::future::join_all;
use sneakers::domain::ItemId;
use sneakers::store;

use crate::helpers::{Backend, TestApp, pairs_left};
use crate::on_both_backends;
use crate::visitor::Visitor;

on_both_backends!(
    a_checkout_records_an_order_and_decrements,
    a_sold_out_pair_buys_nothing,
    a_pair_gone_only_in_the_database_rolls_the_whole_order_back,
    checkout_storm_sells_exactly_the_stock
);

async fn two_items(app: &TestApp) -> (ItemId, ItemId) {
    let product = app.product(true).await;
    let ids: Vec<ItemId> = product
        .items
        .iter()
        .filter(|i| i.available_count > 2)
        .map(|i| i.id)
        .take(2)
        .collect();
    (ids[0], ids[1])
}

async fn a_checkout_records_an_order_and_decrements(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (a, b) = two_items(&app).await;
    let (count_a, count_b) = (
        app.item(a).await.available_count,
        app.item(b).await.available_count,
    );
    let mut shopper = app.visitor().await;
    assert_eq!(shopper.add(a).await.0, 303);
    assert_eq!(shopper.add(b).await.0, 303);
    let review = shopper.visit("/checkout").await;
    assert!(
        review.contains(&format!("data-item-id=\"{a}\""))
            && review.contains(&format!("data-item-id=\"{b}\""))
    );

    let done = shopper.checkout().await;
    assert!(done.starts_with("/checkout/complete?order="), "{done}");
    let page = shopper.visit(&done).await;
    assert!(page.contains("Order placed") && page.contains("order-number"));
    let price = app.product(true).await;
    let total = sneakers::domain::money::format_cents(2 * i64::from(price_of(&app, a).await));
    assert!(page.contains(&total), "the total {total} is shown");
    let _ = price;

    assert_eq!(app.item(a).await.available_count, count_a - 1);
    assert_eq!(app.item(b).await.available_count, count_b - 1);
    assert_eq!(
        store::orders::pairs_sold(&app.db, a)
            .await
            .unwrap_or_default(),
        1
    );
    // The cart is empty afterwards, and another shopper cannot see the order.
    let home = shopper.visit("/").await;
    assert!(
        home.contains("id=\"cart\" data-count=\"0\""),
        "cart emptied"
    );
    let mut stranger = app.visitor().await;
    let (status, _) = {
        let response = stranger
            .http
            .get(format!("{}{done}", stranger.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (response.status().as_u16(), ())
    };
    assert_eq!(status, 404);
    stranger.visit("/").await;
    app.assert_cache_matches_db().await;
}

async fn price_of(app: &TestApp, item: ItemId) -> i32 {
    app.inventory()
        .read(|c| c.item(item).map(|(p, _)| p.price_cents))
        .unwrap_or_default()
}

async fn a_sold_out_pair_buys_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (a, b) = two_items(&app).await;
    let count_a = app.item(a).await.available_count;
    let mut shopper = app.visitor().await;
    shopper.add(a).await;
    shopper.add(b).await;
    app.set_stock(b, 0).await;

    let back = shopper.checkout().await;
    assert_eq!(back, format!("/checkout?sold_out={b}"));
    let page = shopper.visit(&back).await;
    assert!(
        page.contains("sold out before your order went through"),
        "the gone pair is named"
    );
    assert_eq!(
        app.item(a).await.available_count,
        count_a,
        "nothing was charged"
    );
    assert_eq!(
        store::orders::pairs_sold(&app.db, a)
            .await
            .unwrap_or_default(),
        0
    );
    // The rest of the cart is kept and buys on the next try.
    assert!(
        page.contains(&format!("data-item-id=\"{a}\""))
            && !page.contains(&format!("data-item-id=\"{b}\""))
    );
    assert!(shopper.checkout().await.starts_with("/checkout/complete"));
    assert_eq!(app.item(a).await.available_count, count_a - 1);
}

/// The cache still shows the pair (another node sold it a moment ago), so the checkout reaches
/// the database: the order is written there before the pair is found gone, and must vanish.
async fn a_pair_gone_only_in_the_database_rolls_the_whole_order_back(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (a, b) = two_items(&app).await;
    app.set_stock(b, 1).await;
    let shopper = app.visitor().await;
    shopper.add(a).await;
    shopper.add(b).await;
    let count_a = pairs_left(&app.db, a).await;
    let sold_elsewhere = store::catalog::adjust_stock(&app.db, b, -1)
        .await
        .expect("database reachable");
    assert_eq!(sold_elsewhere.map(|(count, _)| count), Some(0));
    assert_eq!(
        app.item(b).await.available_count,
        1,
        "the cache has not heard"
    );

    assert_eq!(shopper.checkout().await, format!("/checkout?sold_out={b}"));
    let orders = store::orders::list(&app.db, store::orders::OrderFilter::Latest, 10)
        .await
        .expect("orders readable");
    assert!(orders.is_empty(), "no order is left behind: {orders:?}");
    assert_eq!(
        pairs_left(&app.db, a).await,
        count_a,
        "the other pair was not charged"
    );
    assert_eq!(app.item(b).await.available_count, 0, "the cache learnt");
    app.assert_cache_matches_db().await;
}

async fn checkout_storm_sells_exactly_the_stock(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (item, _) = two_items(&app).await;
    app.set_stock(item, 25).await;
    let shoppers: Vec<Visitor> = join_all((0..200).map(|_| async {
        let shopper = app.visitor().await;
        assert_eq!(shopper.add(item).await.0, 303);
        shopper
    }))
    .await;
    let outcomes = join_all(shoppers.iter().map(|s| s.checkout())).await;
    let orders = outcomes
        .iter()
        .filter(|l| l.starts_with("/checkout/complete"))
        .count();
    let sold_out = outcomes
        .iter()
        .filter(|l| **l == format!("/checkout?sold_out={item}"))
        .count();
    assert_eq!(orders, 25, "exactly the stock is sold");
    assert_eq!(
        orders + sold_out,
        200,
        "no answer other than an order or sold out: {outcomes:?}"
    );
    assert_eq!(app.item(item).await.available_count, 0);
    assert_eq!(
        store::orders::pairs_sold(&app.db, item)
            .await
            .unwrap_or_default(),
        25
    );
    app.assert_cache_matches_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_no_javascript_flow_works_with_plain_forms() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (a, _) = two_items(&app).await;
    let mut shopper = app.visitor().await;
    let (status, location) = shopper.add(a).await;
    assert_eq!((status, location.as_str()), (303, "/"));
    let page = shopper.visit("/").await;
    assert!(
        page.contains(&format!("data-item-id=\"{a}\"")),
        "the cart panel shows the pair"
    );
    assert!(
        page.contains("<span class=\"cart-link__count\">1</span>"),
        "the header counts it"
    );
    // A second add says why it did nothing.
    let (_, location) = shopper.add(a).await;
    assert_eq!(location, "/?cart_error=duplicate_item");
    assert!(
        shopper
            .visit(&location)
            .await
            .contains("already in your cart")
    );
    // Remove and add back, then buy.
    let (status, _) = shopper.post(&format!("/cart/items/{a}/delete"), &[]).await;
    assert_eq!(status, 303);
    assert!(
        !shopper
            .visit("/")
            .await
            .contains(&format!("data-item-id=\"{a}\""))
    );
    shopper.add(a).await;
    assert!(shopper.checkout().await.starts_with("/checkout/complete"));
    // An empty cart is refused politely.
    let empty = shopper.visit("/checkout").await;
    assert!(empty.contains("Your cart is empty"));
    assert_eq!(shopper.checkout().await, "/checkout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_without_a_valid_csrf_token_are_forbidden() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (a, _) = two_items(&app).await;
    let shopper = app.visitor().await;
    let item = a.to_string();
    assert_eq!(
        shopper
            .post_raw("/cart/items", &[("item_id", &item)])
            .await
            .0,
        403
    );
    assert_eq!(
        shopper
            .post_raw(
                "/cart/items",
                &[("item_id", &item), ("_csrf_token", "forged")]
            )
            .await
            .0,
        403
    );
    assert_eq!(shopper.post_raw("/checkout", &[]).await.0, 403);
    assert_eq!(
        shopper
            .post_raw(&format!("/cart/items/{a}/delete"), &[])
            .await
            .0,
        403
    );
    // Another session's token is no good either.
    let other = app.visitor().await;
    assert_eq!(
        shopper
            .post_raw(
                "/cart/items",
                &[("item_id", &item), ("_csrf_token", &other.csrf)]
            )
            .await
            .0,
        403
    );
    // The header form is accepted.
    let response = shopper
        .http
        .post(format!("{}/cart/items", shopper.base))
        .header("x-csrf-token", &shopper.csrf)
        .form(&[("item_id", &item)])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_cart_cookie_is_an_empty_cart_not_an_error() {
    let app = TestApp::start(Backend::Sqlite).await;
    let client = reqwest::Client::new();
    for cookie in [
        "sneakers_cart=garbage",
        "sneakers_cart=eyJkIjoiWzFdIiwidCI6MH0.AAAA",
        "sneakers_cart=",
    ] {
        let response = client
            .get(format!("{}/", app.url))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), 200, "{cookie}");
        let html = response.text().await.unwrap_or_default();
        assert!(html.contains("id=\"cart\" data-count=\"0\""), "{cookie}");
    }
}
