//! The Phoenix V2 wire protocol as a client sees it.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::ws::Client;

async fn app() -> TestApp {
    TestApp::start(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_join_leave_and_unmatched_topics() {
    let app = app().await;
    let product = app.product(true).await;
    let topic = format!("product:{}", product.id);
    let mut client = app.client().await;

    let (status, response) = client.heartbeat().await;
    assert_eq!((status.as_str(), response), ("ok", json!({})));

    let join_ref = client.join_ok(&topic, json!({})).await;
    // The join pushes the current state, tagged with the join's ref.
    let released = client.expect(&topic, "released").await;
    assert_eq!(released.join_ref, json!(join_ref));
    assert_eq!(released.msg_ref, json!(null));

    let (_, status, response) = client.join("nonsense:1", json!({})).await;
    assert_eq!(
        (status.as_str(), response),
        ("error", json!({"reason": "unmatched topic"}))
    );
    let (_, status, response) = client.join("product:999999", json!({})).await;
    assert_eq!(
        (status.as_str(), response),
        ("error", json!({"reason": "not_found"}))
    );

    let leave_ref = client
        .push(Some(&join_ref), &topic, "phx_leave", json!({}))
        .await;
    let (status, _) = client.reply_to(&leave_ref).await;
    assert_eq!(status, "ok");
    let closed = client.expect(&topic, "phx_close").await;
    assert_eq!(closed.join_ref, json!(join_ref));

    // After leaving, the topic is no longer joined.
    let msg_ref = client
        .push(Some(&join_ref), &topic, "anything", json!({}))
        .await;
    let (status, response) = client.reply_to(&msg_ref).await;
    assert_eq!(
        (status.as_str(), response),
        ("error", json!({"reason": "unmatched topic"}))
    );
}

/// Pings are the transport's, answered by the socket's own write path: a pong must come back
/// on a quiet socket, and between pushes without tearing their frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_pings_are_answered_on_a_quiet_socket_and_between_pushes() {
    let app = app().await;
    let product = app.product(true).await;
    let topic = format!("product:{}", product.id);
    let item = product.items[0].id;
    let mut client = app.client().await;
    client.join_ok(&topic, json!({})).await;
    client.expect(&topic, "released").await;

    client.ping(b"quiet").await;
    let (data, before) = client.pong().await;
    assert_eq!((data.as_slice(), before.len()), (&b"quiet"[..], 0));

    // Sell out and restock while pinging: every push and every pong arrive, whole, in order.
    if app.item(item).await.available_count > 0 {
        app.set_stock(item, 0).await;
        client.expect(&topic, "stock_change").await;
    }
    let mut levels = Vec::new();
    for (n, data) in [&b"one"[..], b"two", b"three"].into_iter().enumerate() {
        app.set_stock(item, if n % 2 == 0 { 1 } else { 0 }).await;
        client.ping(data).await;
        let (pong, before) = client.pong().await;
        assert_eq!(pong, data);
        levels.extend(before.iter().map(|f| f.payload["level"].to_string()));
    }
    while levels.len() < 3 {
        let frame = client.expect(&topic, "stock_change").await;
        levels.push(frame.payload["level"].to_string());
    }
    assert_eq!(levels, [r#""low""#, r#""out""#, r#""low""#]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_join_closes_the_first() {
    let app = app().await;
    let topic = format!("product:{}", app.product(false).await.id);
    let mut client = app.client().await;
    let first = client.join_ok(&topic, json!({})).await;
    let second_ref = "99";
    client
        .send_text(json!([second_ref, second_ref, topic, "phx_join", {}]).to_string())
        .await;
    let closed = client.expect(&topic, "phx_close").await;
    assert_eq!(closed.join_ref, json!(first));
    let (status, _) = client.reply_to(second_ref).await;
    assert_eq!(status, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_errors_and_the_socket_lives_on() {
    let app = app().await;
    let topic = format!("product:{}", app.product(false).await.id);
    let mut client = app.client().await;
    let join_ref = client.join_ok(&topic, json!({})).await;

    for bad in [
        "not json",
        "{}",
        r#"["1","2","t","e"]"#,
        r#"["1","2",7,"e",{}]"#,
        r#"["1","2","t",null,{}]"#,
    ] {
        client.send_text(bad).await;
        let frame = client.expect(&frame_topic(bad), "phx_reply").await;
        assert_eq!(frame.payload["status"], "error", "{bad}");
        assert!(
            frame.payload["response"]["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("malformed")),
            "{bad}: {frame:?}"
        );
    }
    let oversized =
        json!([join_ref, "77", topic, "add_item", {"pad": "x".repeat(20_000)}]).to_string();
    client.send_text(oversized).await;
    let (status, response) = client.reply_to("77").await;
    assert_eq!(
        (status.as_str(), response),
        ("error", json!({"reason": "frame too large"}))
    );
    client.send_binary(vec![1, 2, 3]).await;
    let frame = client.expect("phoenix", "phx_reply").await;
    assert_eq!(frame.payload["status"], "error");

    let msg_ref = client
        .push(Some(&join_ref), &topic, "no_such_event", json!({}))
        .await;
    let (status, response) = client.reply_to(&msg_ref).await;
    assert_eq!(status, "error");
    assert!(
        response["reason"]
            .as_str()
            .is_some_and(|r| r.contains("unknown event"))
    );

    let (status, _) = client.heartbeat().await;
    assert_eq!(status, "ok", "the socket still answers after all that");
    // And the channel still works.
    app.admin
        .release(&topic["product:".len()..])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    client.expect(&topic, "released").await;
}

fn frame_topic(bad: &str) -> String {
    serde_json::from_str::<Vec<serde_json::Value>>(bad)
        .ok()
        .and_then(|v| v.get(2).and_then(|t| t.as_str().map(str::to_string)))
        .unwrap_or_else(|| "phoenix".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_a_hundred_channels_per_socket() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sneakers::store::schema::products;
    use sneakers::with_conn;

    let app = app().await;
    // Enough (unreleased, so joins push nothing) products for 101 topics.
    let mut conn = app.db.get().await.unwrap_or_else(|e| panic!("{e}"));
    with_conn!(conn, |c| {
        for n in 0..101 {
            diesel::insert_into(products::table)
                .values((
                    products::sku.eq(format!("CAP-{n}")),
                    products::brand.eq("Test"),
                    products::name.eq(format!("Cap {n}")),
                    products::color.eq("Grey"),
                    products::price_cents.eq(100),
                    products::main_image_url.eq(""),
                ))
                .execute(c)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    });
    drop(conn);
    app.inventory()
        .reload()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<sneakers::domain::ProductId> = app
        .inventory_json()
        .await
        .products
        .iter()
        .filter(|p| p.sku.starts_with("CAP-"))
        .map(|p| p.id)
        .collect();

    let mut client = app.client().await;
    for id in &ids[..100] {
        client.join_ok(&format!("product:{id}"), json!({})).await;
    }
    let (_, status, response) = client
        .join(&format!("product:{}", ids[100]), json!({}))
        .await;
    assert_eq!(
        (status.as_str(), response),
        ("error", json!({"reason": "too many channels"}))
    );
    // Rejoining a topic it already has is still allowed, and the socket is fine.
    let again = client
        .push(
            Some("x"),
            &format!("product:{}", ids[0]),
            "phx_join",
            json!({}),
        )
        .await;
    client
        .expect(&format!("product:{}", ids[0]), "phx_close")
        .await;
    assert_eq!(client.reply_to(&again).await.0, "ok");
    assert_eq!(client.heartbeat().await.0, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_origins_are_checked_before_the_upgrade() {
    let app = app().await;
    let (token, _) = app.socket_token().await;
    assert!(Client::connect(&app.socket_url(&token)).await.is_ok());
    let missing = format!(
        "{}/socket/websocket?vsn=2.0.0",
        app.url.replacen("http", "ws", 1)
    );
    assert_eq!(Client::connect(&missing).await.err(), Some(403));
    assert_eq!(
        Client::connect(&app.socket_url("forged.token")).await.err(),
        Some(403)
    );
    let tampered = format!("{}x", token);
    assert_eq!(
        Client::connect(&app.socket_url(&tampered)).await.err(),
        Some(403)
    );
    let evil = Client::connect_request(
        &app.socket_url(&token),
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(evil.err(), Some(403));
    let host = app.url.trim_start_matches("http://").to_string();
    let same = Client::connect_request(
        &app.socket_url(&token),
        &[("origin", &format!("http://{host}"))],
    )
    .await;
    assert!(same.is_ok());
    let old = format!(
        "{}/socket/websocket?vsn=1.0.0&token={token}",
        app.url.replacen("http", "ws", 1)
    );
    assert_eq!(Client::connect(&old).await.err(), Some(400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_socket_is_closed_after_the_idle_timeout() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.socket_idle_timeout = Duration::from_millis(300)
    })
    .await;
    let mut talkative = app.client().await;
    let mut silent = app.client().await;
    // The talkative client heartbeats every 100 ms (its pace, not a wait for the server) while
    // the silent one says nothing: only the silent one is closed.
    let keep_talking = async {
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(talkative.heartbeat().await.0, "ok");
        }
    };
    let ((code, skipped), ()) = tokio::join!(silent.until_closed(), keep_talking);
    assert_eq!((code, skipped), (Some(1000), 0));
}
