//! Checkout: all or nothing, never oversold, with or without JavaScript.

use futures_util::future::join_all;
use sneakers::domain::ItemId;
use sneakers::store;

use crate::helpers::{Backend, TestApp, pairs_left};
use crate::on_both_backends;
use crate::visitor::{DECLINED, PAYS, Visitor, checkout_form};

on_both_backends!(
    a_checkout_records_an_order_and_decrements,
    a_held_pair_is_bought_even_when_the_rest_sell_out,
    a_pair_gone_only_in_the_database_is_not_held,
    checkout_storm_sells_exactly_the_stock,
    the_checkout_form_names_bad_fields_declines_and_pays
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

/// A carted pair is held: the rest of its size selling out meanwhile takes nothing from the
/// shopper, who buys what they hold.
async fn a_held_pair_is_bought_even_when_the_rest_sell_out(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (a, b) = two_items(&app).await;
    let count_a = app.item(a).await.available_count;
    let mut shopper = app.visitor().await;
    shopper.add(a).await;
    shopper.add(b).await;
    assert_eq!(
        app.item(a).await.available_count,
        count_a - 1,
        "held at add"
    );
    app.set_stock(b, 0).await;
    let review = shopper.visit("/checkout").await;
    assert!(
        review.contains(&format!("data-item-id=\"{a}\""))
            && review.contains(&format!("data-item-id=\"{b}\"")),
        "both held pairs are the shopper's"
    );
    let done = shopper.checkout().await;
    assert!(done.starts_with("/checkout/complete?order="), "{done}");
    assert_eq!(app.item(a).await.available_count, count_a - 1);
    assert_eq!(app.item(b).await.available_count, 0);
    for item in [a, b] {
        assert_eq!(
            store::orders::pairs_sold(&app.db, item)
                .await
                .unwrap_or_default(),
            1
        );
    }
    app.assert_cache_matches_db().await;
}

/// The cache still shows the pair (another node sold it a moment ago), so the add reaches the
/// database, which holds nothing: the shopper is told it sold out, and the cache learns.
async fn a_pair_gone_only_in_the_database_is_not_held(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (a, b) = two_items(&app).await;
    app.set_stock(b, 1).await;
    let mut shopper = app.visitor().await;
    shopper.add(a).await;
    let sold_elsewhere = store::catalog::adjust_stock(&app.db, b, -1)
        .await
        .expect("database reachable");
    assert_eq!(sold_elsewhere.map(|(count, _)| count), Some(0));
    assert_eq!(
        app.item(b).await.available_count,
        1,
        "the cache has not heard"
    );
    assert_eq!(shopper.add(b).await.1, "/?cart_error=sold_out");
    assert_eq!(app.item(b).await.available_count, 0, "the cache learnt");
    let review = shopper.visit("/checkout").await;
    assert!(!review.contains(&format!("data-item-id=\"{b}\"")));
    assert!(shopper.checkout().await.starts_with("/checkout/complete"));
    assert_eq!(pairs_left(&app.db, b).await, 0);
    app.assert_cache_matches_db().await;
}

/// 200 shoppers race for 25 pairs: 25 hold one and buy it, everyone else is told at once that
/// it sold out, and checking out an empty cart buys nothing.
async fn checkout_storm_sells_exactly_the_stock(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (item, _) = two_items(&app).await;
    app.set_stock(item, 25).await;
    let shoppers: Vec<(Visitor, String)> = join_all((0..200).map(|_| async {
        let shopper = app.visitor().await;
        let (status, location) = shopper.add(item).await;
        assert_eq!(status, 303);
        (shopper, location)
    }))
    .await;
    let held = shoppers.iter().filter(|(_, l)| l == "/").count();
    let refused = shoppers
        .iter()
        .filter(|(_, l)| l == "/?cart_error=sold_out")
        .count();
    assert_eq!((held, refused), (25, 175), "exactly the stock is held");
    let outcomes = join_all(shoppers.iter().map(|(s, _)| s.checkout())).await;
    let orders = outcomes
        .iter()
        .filter(|l| l.starts_with("/checkout/complete"))
        .count();
    let empty = outcomes.iter().filter(|l| *l == "/checkout").count();
    assert_eq!(orders, 25, "exactly the stock is sold");
    assert_eq!(
        orders + empty,
        200,
        "no answer other than an order or an empty cart: {outcomes:?}"
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

/// The checkout form: bad fields are named (422) and nothing is charged; a declined card is
/// said (402) and the pairs stay held for another try, within two minutes; the card that pays
/// places the order (303). Starting checkout extends the hold once.
async fn the_checkout_form_names_bad_fields_declines_and_pays(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (a, _) = two_items(&app).await;
    let count_a = app.item(a).await.available_count;
    let mut shopper = app.visitor().await;
    shopper.add(a).await;
    let review = shopper.visit("/checkout").await;
    assert!(review.contains("test payments") && review.contains("name=\"card_number\""));
    let holder = shopper.cart_id.clone();
    let added = app.inventory().holds_of(&holder).await.unwrap_or_default();
    assert_eq!(added.len(), 1);

    let mut bad = checkout_form(PAYS);
    for (field, value) in &mut bad {
        match *field {
            "email" => *value = "not an email",
            "country" => *value = "XX",
            "card_exp" => *value = "13/99",
            _ => {}
        }
    }
    let response = shopper.post_page("/checkout", &bad).await;
    assert_eq!(response.0, 422);
    for field in ["email", "country", "card_exp"] {
        assert!(
            response.1.contains(&format!("id=\"error-{field}\"")),
            "{field} is named: {}",
            response.1
        );
    }
    assert!(
        response.1.contains("value=\"not an email\""),
        "what was typed is kept"
    );
    assert!(
        !response.1.contains("value=\"4242"),
        "the card's number is never echoed"
    );

    let declined = shopper
        .post_page("/checkout", &checkout_form(DECLINED))
        .await;
    assert_eq!(declined.0, 402);
    assert!(declined.1.contains("id=\"payment-error\"") && declined.1.contains("declined"));
    assert_eq!(app.item(a).await.available_count, count_a - 1, "still held");
    let kept = app.inventory().holds_of(&holder).await.unwrap_or_default();
    assert_eq!(kept.len(), 1, "the pair is kept for another try");
    let now = chrono::Utc::now().timestamp_millis();
    assert!(
        kept[0].extended && kept[0].expires_at_ms <= now + sneakers::domain::hold::RETRY_WINDOW_MS,
        "checkout extended the hold once, the decline leaves two minutes at most: {kept:?}"
    );

    let done = shopper.checkout().await;
    assert!(done.starts_with("/checkout/complete?order="), "{done}");
    let page = shopper.visit(&done).await;
    assert!(page.contains("Order placed") && page.contains("data-order-state=\"paid\""));
    assert_eq!(app.item(a).await.available_count, count_a - 1);
    assert!(
        app.inventory()
            .holds_of(&holder)
            .await
            .unwrap_or_default()
            .is_empty()
    );
    assert!(
        shopper
            .visit("/")
            .await
            .contains("id=\"cart\" data-count=\"0\"")
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
