//! Holds as shoppers see them: a carted pair is held, so every other page counts it out at
//! once; removing it, or its hold ending, puts it back on every page; the cart shows each
//! hold's end, and a hold that ended unpaid as a warning until the shopper removes it. Real sockets, real HTTP, both databases.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use sneakers::domain::{ItemId, ProductId};

use crate::helpers::{Backend, TestApp, level_on_page};
use crate::on_both_backends;
use crate::ws::Client;

on_both_backends!(
    a_held_pair_counts_out_on_every_page_until_its_hold_ends,
    removing_a_pair_gives_it_back_at_once,
    a_refused_hold_says_which_rule
);

/// 150 pairs is `medium`; one held makes it `low`: every page's level shows each move.
const EDGE: i32 = 150;

async fn item_at_the_edge(app: &TestApp) -> (ProductId, ItemId) {
    let product = app.product(true).await;
    let item = product.items[0].id;
    app.set_stock(item, EDGE).await;
    (product.id, item)
}

/// Another shopper's product page, joined.
async fn watcher(app: &TestApp, product: ProductId) -> (Client, String) {
    let (token, _) = app.socket_token().await;
    let mut client = Client::connect(&app.socket_url(&token))
        .await
        .unwrap_or_else(|s| panic!("refused {s}"));
    let topic = format!("product:{product}");
    client.join_ok(&topic, json!({})).await;
    (client, topic)
}

/// The next `stock_change` of `item` on a product page: its level.
async fn next_level(client: &mut Client, topic: &str, item: ItemId) -> String {
    loop {
        let frame = client.frame().await;
        if frame.topic == topic
            && frame.event == "stock_change"
            && frame.payload["item_id"] == json!(item)
        {
            return frame.payload["level"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
    }
}

/// A shopper's cart tab: joined, its first push read.
async fn cart_tab(app: &TestApp) -> (Client, String, String) {
    let (token, cart_id) = app.socket_token().await;
    let mut client = Client::connect(&app.socket_url(&token))
        .await
        .unwrap_or_else(|s| panic!("refused {s}"));
    let topic = format!("cart:{cart_id}");
    let join_ref = client
        .join_ok(&topic, json!({ "serialized": null, "page": "/" }))
        .await;
    client.expect(&topic, "cart").await;
    client.expect(&topic, "new_token").await;
    (client, topic, join_ref)
}

async fn send(
    client: &mut Client,
    topic: &str,
    join_ref: &str,
    event: &str,
    item: ItemId,
) -> (String, Value) {
    let msg_ref = client
        .push(Some(join_ref), topic, event, json!({ "item_id": item }))
        .await;
    client.reply_to(&msg_ref).await
}

async fn a_held_pair_counts_out_on_every_page_until_its_hold_ends(backend: Backend) {
    let hold = Duration::from_millis(2500);
    let app = TestApp::start_with(backend, |config| config.hold = hold).await;
    let (product, item) = item_at_the_edge(&app).await;
    let (mut other, product_topic) = watcher(&app, product).await;
    let (mut cart, cart_topic, join_ref) = cart_tab(&app).await;

    let before = Utc::now().timestamp_millis();
    let (status, reply) = send(&mut cart, &cart_topic, &join_ref, "add_item", item).await;
    assert_eq!(status, "ok", "{reply}");
    assert_eq!(reply["count"], 1);
    let holds = reply["holds"].as_array().cloned().unwrap_or_default();
    assert_eq!(holds.len(), 1, "{reply}");
    assert_eq!(holds[0]["item_id"], json!(item));
    let ends = holds[0]["expires_at"].as_i64().unwrap_or_default();
    let hold_ms = i64::try_from(hold.as_millis()).unwrap_or(i64::MAX);
    assert!(
        (before + hold_ms..=Utc::now().timestamp_millis() + hold_ms).contains(&ends),
        "the hold ends HOLD_MS after the add: {ends}"
    );
    let html = reply["html"].as_str().unwrap_or_default();
    assert!(
        html.contains(&format!("data-countdown-to=\"{ends}\"")),
        "the cart line counts down to the hold's end: {html}"
    );

    // Held is gone for everyone else: the other shopper's page drops to low, the store too.
    assert_eq!(next_level(&mut other, &product_topic, item).await, "low");
    assert_eq!(app.item(item).await.available_count, EDGE - 1);
    let page = app.get(&format!("/products/{product}")).await.1;
    assert_eq!(level_on_page(&page, item).as_deref(), Some("low"));

    // The hold ends unpaid: the pair is back on the other page, and the cart says so.
    assert_eq!(next_level(&mut other, &product_topic, item).await, "medium");
    let returned_at = Utc::now().timestamp_millis();
    assert!(
        returned_at >= ends && returned_at < ends + 1500,
        "the pair is back within a second or so of the hold's end ({} ms late)",
        returned_at - ends
    );
    let pushed = cart.expect(&cart_topic, "cart").await.payload;
    assert_eq!(
        (pushed["count"].clone(), pushed["holds"].clone()),
        (json!(0), json!([]))
    );
    // Nothing is held, but the line stays as a warning, said once.
    let html = pushed["html"].as_str().unwrap_or_default();
    assert!(
        html.contains(&format!("data-item-id=\"{item}\" data-hold-ended")),
        "the ended hold stays in the cart as a warning: {html}"
    );
    let said = pushed["announce"].as_str().unwrap_or_default();
    assert!(
        said.starts_with("Your hold on size ")
            && said.ends_with("has ended: the pair is back on sale."),
        "the cart says the hold ended: {pushed}"
    );
    assert_eq!(app.item(item).await.available_count, EDGE);
    app.assert_cache_matches_db().await;

    // The shopper dismisses the warning: the cart is empty.
    let (status, reply) = send(&mut cart, &cart_topic, &join_ref, "remove_item", item).await;
    assert_eq!(status, "ok", "{reply}");
    let html = reply["html"].as_str().unwrap_or_default();
    assert!(
        !html.contains("data-item-id"),
        "the warning is gone: {html}"
    );
    let (status, reply) = send(&mut cart, &cart_topic, &join_ref, "remove_item", item).await;
    assert_eq!(
        (status.as_str(), reply["error"].clone()),
        ("error", json!("not_found"))
    );
}

async fn removing_a_pair_gives_it_back_at_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (product, item) = item_at_the_edge(&app).await;
    let (mut other, product_topic) = watcher(&app, product).await;

    // Without JavaScript: the plain forms hold and give back.
    let mut shopper = app.visitor().await;
    assert_eq!(shopper.add(item).await, (303, "/".to_string()));
    assert_eq!(next_level(&mut other, &product_topic, item).await, "low");
    let home = shopper.visit("/").await;
    assert!(
        home.contains("id=\"cart\" data-count=\"1\"") && home.contains("Held for you"),
        "the cart panel shows the held pair and its hold"
    );
    let (status, location) = shopper
        .post(&format!("/cart/items/{item}/delete"), &[])
        .await;
    assert_eq!((status, location.as_str()), (303, "/"));
    assert_eq!(next_level(&mut other, &product_topic, item).await, "medium");
    assert_eq!(app.item(item).await.available_count, EDGE);
    assert!(
        shopper
            .visit("/")
            .await
            .contains("id=\"cart\" data-count=\"0\"")
    );

    // Over the socket the same.
    let (mut cart, cart_topic, join_ref) = cart_tab(&app).await;
    assert_eq!(
        send(&mut cart, &cart_topic, &join_ref, "add_item", item)
            .await
            .0,
        "ok"
    );
    assert_eq!(next_level(&mut other, &product_topic, item).await, "low");
    let (status, reply) = send(&mut cart, &cart_topic, &join_ref, "remove_item", item).await;
    assert_eq!((status.as_str(), reply["count"].clone()), ("ok", json!(0)));
    assert_eq!(next_level(&mut other, &product_topic, item).await, "medium");
    let (status, reply) = send(&mut cart, &cart_topic, &join_ref, "remove_item", item).await;
    assert_eq!(
        (status.as_str(), reply["error"].clone()),
        ("error", json!("not_found"))
    );
    app.assert_cache_matches_db().await;
}

async fn a_refused_hold_says_which_rule(backend: Backend) {
    let app = TestApp::start(backend).await;
    let product = app.product(true).await;
    let (gone, other) = (product.items[0].id, product.items[1].id);
    app.set_stock(gone, 1).await;
    let (mut cart, cart_topic, join_ref) = cart_tab(&app).await;
    assert_eq!(
        send(&mut cart, &cart_topic, &join_ref, "add_item", gone)
            .await
            .0,
        "ok"
    );
    // The second tab of the same shopper holds it already.
    let (status, reply) = send(&mut cart, &cart_topic, &join_ref, "add_item", gone).await;
    assert_eq!(
        (status.as_str(), reply["error"].clone()),
        ("error", json!("duplicate_item"))
    );
    // Someone else: stock.
    let (mut late, late_topic, late_ref) = cart_tab(&app).await;
    let (status, reply) = send(&mut late, &late_topic, &late_ref, "add_item", gone).await;
    assert_eq!(
        (status.as_str(), reply["error"].clone()),
        ("error", json!("sold_out"))
    );
    let mut visitor = app.visitor().await;
    assert_eq!(
        visitor.add(gone).await,
        (303, "/?cart_error=sold_out".to_string())
    );
    assert!(
        visitor
            .visit("/")
            .await
            .contains("id=\"cart\" data-count=\"0\"")
    );
    // A limited drop: a guest is sent to sign in (the limit counts an account's pairs).
    app.inventory()
        .set_limit(product.id, Some(1))
        .await
        .unwrap_or_else(|e| panic!("limit: {e}"));
    let (status, reply) = send(&mut late, &late_topic, &late_ref, "add_item", other).await;
    assert_eq!(
        (status.as_str(), reply["error"].clone()),
        ("error", json!("sign_in_required")),
        "{reply}"
    );
    assert_eq!(
        visitor.add(other).await,
        (303, "/account/login?next=/".to_string())
    );
    app.assert_cache_matches_db().await;
}
