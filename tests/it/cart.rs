//! The cart channel: tabs in sync, sell-out warnings, clear errors.

use serde_json::{Value, json};
use sneakers::domain::ItemId;

use crate::helpers::{Backend, TestApp};
use crate::ws::Client;

struct Tab {
    client: Client,
    topic: String,
    join_ref: String,
}

impl TestApp {
    /// A tab of the shopper whose token this is: joined to its cart, the first push read.
    async fn tab(&self, token: &str, cart_id: &str, serialized: Value) -> (Tab, Value) {
        let mut client = Client::connect(&self.socket_url(token))
            .await
            .unwrap_or_else(|s| panic!("refused {s}"));
        let topic = format!("cart:{cart_id}");
        let join_ref = client
            .join_ok(&topic, json!({ "serialized": serialized, "page": "/" }))
            .await;
        let cart = client.expect(&topic, "cart").await.payload;
        client.expect(&topic, "new_token").await;
        (
            Tab {
                client,
                topic,
                join_ref,
            },
            cart,
        )
    }
}

impl Tab {
    async fn send(&mut self, event: &str, payload: Value) -> (String, Value) {
        let msg_ref = self
            .client
            .push(Some(&self.join_ref), &self.topic, event, payload)
            .await;
        self.client.reply_to(&msg_ref).await
    }

    async fn next_cart(&mut self) -> Value {
        self.client.expect(&self.topic, "cart").await.payload
    }
}

async fn in_stock_items(app: &TestApp, n: usize) -> Vec<ItemId> {
    let product = app.product(true).await;
    product
        .items
        .iter()
        .filter(|i| i.available_count > 1)
        .take(n)
        .map(|i| i.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_topic_is_only_for_its_owner() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (token, cart_id) = app.socket_token().await;
    let mut client = Client::connect(&app.socket_url(&token))
        .await
        .unwrap_or_else(|s| panic!("{s}"));
    let (_, status, response) = client.join(&format!("cart:{}x", cart_id), json!({})).await;
    assert_eq!(
        (status.as_str(), response),
        ("error", json!({"reason": "unauthorized"}))
    );
    let (_, status, response) = client.join("cart:someone-else", json!({})).await;
    assert_eq!(
        (status.as_str(), response),
        ("error", json!({"reason": "unauthorized"}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_and_remove_reply_with_the_cart_or_a_clear_error() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (token, cart_id) = app.socket_token().await;
    let (mut tab, first) = app.tab(&token, &cart_id, json!(null)).await;
    assert_eq!(first["count"], 0);
    assert!(
        first["html"]
            .as_str()
            .is_some_and(|h| h.contains("id=\"cart\"") && h.contains("data-count=\"0\""))
    );
    let items = in_stock_items(&app, 2).await;

    let (status, reply) = tab.send("add_item", json!({ "item_id": items[0] })).await;
    assert_eq!(status, "ok");
    assert_eq!(reply["count"], 1);
    assert!(reply["serialized"].as_str().is_some_and(|s| !s.is_empty()));
    let html = reply["html"].as_str().unwrap_or_default();
    assert!(
        html.contains(&format!("data-item-id=\"{}\"", items[0])),
        "{html}"
    );

    let errors = [
        ("add_item", json!({ "item_id": items[0] }), "duplicate_item"),
        ("remove_item", json!({ "item_id": items[1] }), "not_found"),
        ("add_item", json!({ "item_id": 999_999 }), "invalid_item"),
        ("add_item", json!({ "item_id": "twelve" }), "invalid_item"),
        ("add_item", json!({ "item_id": 1.5 }), "invalid_item"),
        ("add_item", json!({}), "invalid_item"),
        ("remove_item", json!([]), "invalid_item"),
    ];
    for (event, payload, code) in errors {
        let (status, reply) = tab.send(event, payload.clone()).await;
        assert_eq!(status, "error", "{event} {payload}");
        assert_refusal(&app, &reply, code).await;
    }
    let sold_out = items[1];
    app.set_stock(sold_out, 0).await;
    let (status, reply) = tab.send("add_item", json!({ "item_id": sold_out })).await;
    assert_eq!(status, "error");
    assert_refusal(&app, &reply, "sold_out").await;
    let unreleased = app.product(false).await.items[0].id;
    let (status, reply) = tab.send("add_item", json!({ "item_id": unreleased })).await;
    assert_eq!(status, "error");
    assert_refusal(&app, &reply, "invalid_item").await;

    let (status, reply) = tab
        .send("remove_item", json!({ "item_id": items[0] }))
        .await;
    assert_eq!((status.as_str(), reply["count"].clone()), ("ok", json!(0)));
    assert_eq!(tab.client.heartbeat().await.0, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cart_says_so_over_the_socket_as_on_the_page() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (token, cart_id) = app.socket_token().await;
    let (mut tab, _) = app.tab(&token, &cart_id, json!(null)).await;
    let items: Vec<ItemId> = app
        .inventory_json()
        .await
        .products
        .into_iter()
        .filter(|p| p.released)
        .flat_map(|p| p.items)
        .filter(|i| i.available_count > 0)
        .map(|i| i.id)
        .collect();
    let max = sneakers::domain::cart::MAX_ITEMS;
    assert!(
        items.len() > max,
        "the seed has more sizes in stock than a cart holds"
    );
    for item in &items[..max] {
        let (status, _) = tab.send("add_item", json!({ "item_id": item })).await;
        assert_eq!(status, "ok");
    }
    let (status, reply) = tab.send("add_item", json!({ "item_id": items[max] })).await;
    assert_eq!(status, "error");
    assert_refusal(&app, &reply, "cart_full").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tabs_of_one_cart_stay_in_sync_and_keep_their_held_pairs() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (token, cart_id) = app.socket_token().await;
    let (mut one, _) = app.tab(&token, &cart_id, json!(null)).await;
    let (mut two, _) = app.tab(&token, &cart_id, json!(null)).await;
    let items = in_stock_items(&app, 3).await;
    let (a, b, c) = (items[0], items[1], items[2]);

    let (_, reply) = one.send("add_item", json!({ "item_id": a })).await;
    assert_eq!(reply["count"], 1);
    let pushed = two.next_cart().await;
    assert_eq!(pushed["count"], 1);
    assert!(
        pushed["html"]
            .as_str()
            .is_some_and(|h| h.contains(&format!("data-item-id=\"{a}\"")))
    );
    two.send("add_item", json!({ "item_id": b })).await;
    assert_eq!(one.next_cart().await["count"], 2);

    // A carted pair is held: the rest of its size selling out takes nothing from this cart.
    app.set_stock(a, 0).await;
    one.send("remove_item", json!({ "item_id": b })).await;
    assert_eq!(two.next_cart().await["count"], 1);
    one.send("add_item", json!({ "item_id": c })).await;
    let next = two.next_cart().await;
    assert_eq!(next["count"], 2);
    let html = next["html"].as_str().unwrap_or_default();
    assert!(
        html.contains(&format!("data-item-id=\"{c}\""))
            && html.contains(&format!("data-item-id=\"{a}\""))
            && !html.contains("data-sold-out"),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_cart_token_is_an_empty_cart() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (token, cart_id) = app.socket_token().await;
    let items = in_stock_items(&app, 1).await;
    let (mut tab, _) = app.tab(&token, &cart_id, json!(null)).await;
    let (_, reply) = tab.send("add_item", json!({ "item_id": items[0] })).await;
    let good = reply["serialized"].as_str().unwrap_or_default().to_string();

    let (_, restored) = app.tab(&token, &cart_id, json!(good)).await;
    assert_eq!(restored["count"], 1);
    for bad in [
        json!(format!("{good}x")),
        json!("garbage"),
        json!(42),
        json!({"items": [1]}),
    ] {
        let (_, cart) = app.tab(&token, &cart_id, bad.clone()).await;
        assert_eq!(cart["count"], 0, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_join_hands_out_a_fresh_token_that_connects() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (token, cart_id) = app.socket_token().await;
    let mut client = Client::connect(&app.socket_url(&token))
        .await
        .unwrap_or_else(|s| panic!("{s}"));
    let topic = format!("cart:{cart_id}");
    client.join_ok(&topic, json!({})).await;
    client.expect(&topic, "cart").await;
    let fresh = client.expect(&topic, "new_token").await.payload["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut again = Client::connect(&app.socket_url(&fresh))
        .await
        .unwrap_or_else(|s| panic!("refused {s}"));
    again.join_ok(&topic, json!({})).await;
}

/// A refusal over the socket names its code and carries the very text the page without
/// JavaScript shows for it (`?cart_error=<code>`).
async fn assert_refusal(app: &TestApp, reply: &serde_json::Value, code: &str) {
    assert_eq!(reply["error"], code, "{reply}");
    let message = reply["message"]
        .as_str()
        .unwrap_or_else(|| panic!("the {code} refusal has no message: {reply}"));
    assert!(!message.is_empty());
    let (_, page) = app.get(&format!("/?cart_error={code}")).await;
    let shown = maud::html! { (message) }.into_string();
    assert!(
        page.contains(&shown),
        "the page says something else for {code}: {message:?}"
    );
}
