//! Product pages go live: `released` and `stock_change` reach every joined client.

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use crate::ws::Client;

on_both_backends!(
    release_pushes_the_size_selector,
    stock_changes_follow_levels,
    a_scheduled_drop_pushes_released
);

async fn a_scheduled_drop_pushes_released(backend: Backend) {
    let app = TestApp::start(backend).await;
    let coming = app.product(false).await;
    let topic = format!("product:{}", coming.id);
    let mut client = app.client().await;
    client.join_ok(&topic, json!({})).await;
    app.schedule_release(
        coming.id,
        chrono::Utc::now() + chrono::Duration::milliseconds(200),
    )
    .await;
    let released = client.expect(&topic, "released").await;
    assert_eq!(released.payload["product_id"], json!(coming.id));
}

async fn release_pushes_the_size_selector(backend: Backend) {
    let app = TestApp::start(backend).await;
    let coming = app.product(false).await;
    let topic = format!("product:{}", coming.id);
    let mut client = app.client().await;
    client.join_ok(&topic, json!({})).await;

    app.admin
        .release(&coming.sku)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let released = client.expect(&topic, "released").await;
    assert_eq!(
        released.join_ref,
        json!(null),
        "a broadcast is not tied to one join"
    );
    assert_eq!(released.payload["product_id"], json!(coming.id));
    let html = released.payload["html"].as_str().unwrap_or_default();
    assert!(
        html.starts_with("<div ") && html.contains(&format!("id=\"product-{}-sizes\"", coming.id)),
        "{html}"
    );
    for item in &coming.items {
        assert!(
            html.contains(&format!("id=\"item-{}\"", item.id)),
            "size {} missing",
            item.size
        );
    }
    assert!(
        !html.contains("_csrf_token"),
        "shared fragments carry no per-shopper token"
    );
}

async fn stock_changes_follow_levels(backend: Backend) {
    let app = TestApp::start(backend).await;
    let product = app.product(true).await;
    let topic = format!("product:{}", product.id);
    let item = product.items[1].id;
    app.set_stock(item, 151).await;
    let mut client = app.client().await;
    client.join_ok(&topic, json!({})).await;
    client.expect(&topic, "released").await;

    // 151 -> 150 stays medium: nothing is sent. 150 -> 149 is low: the next frame says so.
    app.admin
        .sell(item, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    app.admin
        .sell(item, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let change = client.expect(&topic, "stock_change").await;
    assert_eq!(change.payload["item_id"], json!(item));
    assert_eq!(change.payload["product_id"], json!(product.id));
    assert_eq!(change.payload["level"], "low");
    let html = change.payload["html"].as_str().unwrap_or_default();
    assert!(
        html.starts_with(&format!(
            "<div id=\"item-{item}\" class=\"size size--low\" data-level=\"low\""
        )),
        "{html}"
    );

    // Down to the last pair, then out: the button comes back disabled.
    app.admin
        .sell(item, 148)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    app.admin
        .sell(item, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let out = client.expect(&topic, "stock_change").await;
    assert_eq!(out.payload["level"], "out");
    assert!(
        out.payload["html"]
            .as_str()
            .is_some_and(|h| h.contains("disabled"))
    );
    // A restock brings it back.
    app.admin
        .restock(item, 600)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let back = client.expect(&topic, "stock_change").await;
    assert_eq!(back.payload["level"], "high");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_showing_the_sizes_gets_each_size_on_join() {
    let app = TestApp::start(Backend::Sqlite).await;
    let product = app.product(true).await;
    let topic = format!("product:{}", product.id);
    let mut client = app.client().await;
    client.join_ok(&topic, json!({ "sizes_shown": true })).await;
    for item in &product.items {
        let push = client.expect(&topic, "stock_change").await;
        assert_eq!(push.payload["item_id"], json!(item.id));
        assert_eq!(push.payload["level"], json!(item.level));
        assert!(
            push.payload["html"]
                .as_str()
                .is_some_and(|h| h.starts_with(&format!("<div id=\"item-{}\"", item.id)))
        );
    }
    // Nothing else was sent: the next frame answers this heartbeat.
    assert_eq!(client.heartbeat().await.0, "ok");
}

/// A page that names the levels it shows gets back only the sizes that differ: none for a page
/// just rendered, one for a size that changed since.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_naming_its_levels_gets_only_the_sizes_that_differ() {
    let app = TestApp::start(Backend::Sqlite).await;
    let product = app.product(true).await;
    let topic = format!("product:{}", product.id);
    let mut levels: serde_json::Map<String, serde_json::Value> = product
        .items
        .iter()
        .map(|i| (i.id.to_string(), json!(i.level)))
        .collect();

    let mut fresh = app.client().await;
    fresh
        .join_ok(
            &topic,
            json!({ "sizes_shown": true, "levels": levels.clone() }),
        )
        .await;
    // Nothing was pushed: the next frame answers this heartbeat.
    assert_eq!(fresh.heartbeat().await.0, "ok");

    let stale = &product.items[0];
    let shown = if stale.level == "out" { "high" } else { "out" };
    levels.insert(stale.id.to_string(), json!(shown));
    let mut behind = app.client().await;
    behind
        .join_ok(&topic, json!({ "sizes_shown": true, "levels": levels }))
        .await;
    let push = behind.expect(&topic, "stock_change").await;
    assert_eq!(push.payload["item_id"], json!(stale.id));
    assert_eq!(push.payload["level"], json!(stale.level));
    assert_eq!(behind.heartbeat().await.0, "ok", "only that size came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sockets_all_receive_one_stock_change() {
    let app = TestApp::start_with(Backend::Sqlite, crate::helpers::unlimited).await;
    let product = app.product(true).await;
    let topic = format!("product:{}", product.id);
    let item = product.items[0].id;
    app.set_stock(item, 150).await;
    let (token, _) = app.socket_token().await;
    let url = app.socket_url(&token);
    let clients = join_all((0..1000).map(|_| {
        let (url, topic) = (url.clone(), topic.clone());
        async move {
            let mut client = Client::connect(&url)
                .await
                .unwrap_or_else(|s| panic!("refused {s}"));
            client.join_ok(&topic, json!({})).await;
            client.expect(&topic, "released").await;
            client
        }
    }))
    .await;
    assert_eq!(
        app.live().hub.subscriber_count(&topic),
        1000,
        "every socket is subscribed before the sale"
    );
    app.admin
        .sell(item, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let received = join_all(clients.into_iter().map(|mut client| {
        let topic = topic.clone();
        async move { client.expect(&topic, "stock_change").await.payload["level"].clone() }
    }))
    .await;
    assert_eq!(received.len(), 1000);
    assert!(received.iter().all(|level| level == "low"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped_and_others_keep_receiving() {
    let app = TestApp::start(Backend::Sqlite).await;
    let product = app.product(true).await;
    let topic = format!("product:{}", product.id);
    let mut reader = app.client().await;
    let mut sleeper = app.client().await;
    reader.join_ok(&topic, json!({})).await;
    reader.expect(&topic, "released").await;
    sleeper.join_ok(&topic, json!({})).await;
    sleeper.expect(&topic, "released").await;

    // Frame after frame, each read by the reader before the next, while the sleeper reads
    // nothing: its socket buffers and then its queue fill up, and it is dropped.
    let big = "x".repeat(64 * 1024);
    let mut sent = 0;
    while app.live().hub.subscriber_count(&topic) > 1 {
        assert!(sent < 5_000, "the slow client was never dropped");
        app.live()
            .hub
            .broadcast(&topic, "flood", json!({ "n": sent, "pad": big }));
        let frame = reader.expect(&topic, "flood").await;
        assert_eq!(frame.payload["n"], json!(sent));
        sent += 1;
    }
    // The reader carries on as if nothing happened.
    app.live()
        .hub
        .broadcast(&topic, "flood", json!({ "n": sent }));
    assert_eq!(
        reader.expect(&topic, "flood").await.payload["n"],
        json!(sent)
    );
    assert_eq!(reader.heartbeat().await.0, "ok");
    // The sleeper, when it finally reads, finds some frames and then the door closed.
    let (code, got) = sleeper.until_closed().await;
    assert!(got < sent, "the slow client got everything ({got} frames)");
    assert!(code.is_none() || code == Some(1013), "close code {code:?}");
}
