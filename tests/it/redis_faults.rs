//! The Redis bus failing under real processes: Redis killed under a sales storm, one node cut
//! from Redis only (its link cut, the others fine), the stream trimmed past a node while it was
//! away, Redis restarted (empty) during a release.
//! PostgreSQL stays up: every node keeps selling, and when Redis is back pages converge and
//! presence counts every shopper once. The node that only listens checks its cache seldom
//! (`CACHE_CHECK_MS`), so what it shows came over the bus or its resync, not the heal.

use std::time::Duration;

use serde_json::json;
use sneakers::domain::{ItemId, ProductId};

use crate::admin::{count_in, until_counts};
use crate::cut::Cut;
use crate::faults::{
    Load, NODE_ENV, Outcome, assert_books_balance, stocked_item, storm, until_node_matches_db,
};
use crate::nodes::{Cluster, Node};
use crate::redis::RedisServer;
use crate::visitor::Visitor;
use crate::ws::Client;

/// A listening node: no load-test limits, and a cache check too rare to matter here.
const LISTENER_ENV: [(&str, &str); 2] = [("RATE_LIMIT", "off"), ("CACHE_CHECK_MS", "600000")];

async fn socket_on(node: &Node) -> (Client, String) {
    let (token, cart_id) = node.socket_token().await;
    let client =
        Client::connect(&node.ws_url(&format!("/socket/websocket?vsn=2.0.0&token={token}")))
            .await
            .unwrap_or_else(|s| panic!("refused {s}"));
    (client, cart_id)
}

/// A page on `node` showing `product`'s sizes.
async fn page_on(node: &Node, product: ProductId, released: bool) -> Client {
    let (mut page, _) = socket_on(node).await;
    let topic = format!("product:{product}");
    page.join_ok(&topic, json!({})).await;
    if released {
        page.expect(&topic, "released").await;
    }
    page
}

/// A shopper's tab on `node`, counted in presence.
async fn shopper_on(node: &Node) -> Client {
    let (mut tab, cart_id) = socket_on(node).await;
    tab.join_ok(&format!("cart:{cart_id}"), json!({ "page": "/" }))
        .await;
    tab
}

async fn admin_on(node: &Node) -> Client {
    let token = node.admin_token().await;
    let mut admin =
        Client::connect(&node.ws_url(&format!("/admin_socket/websocket?vsn=2.0.0&token={token}")))
            .await
            .unwrap_or_else(|s| panic!("refused {s}"));
    admin.join_ok("admin:cart_tracker", json!({})).await;
    admin
}

/// Reads the page until `item`'s size shows `level`.
async fn until_level(page: &mut Client, product: ProductId, item: ItemId, level: &str) {
    let topic = format!("product:{product}");
    loop {
        let frame = page.frame().await;
        if frame.topic == topic
            && frame.event == "stock_change"
            && frame.payload["item_id"] == json!(item)
            && frame.payload["level"] == level
        {
            return;
        }
    }
}

async fn product_of(node: &Node, item: ItemId) -> ProductId {
    node.admin
        .inventory()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .products
        .into_iter()
        .find(|p| p.items.iter().any(|i| i.id == item))
        .map(|p| p.id)
        .unwrap_or_else(|| panic!("no product has item {item}"))
}

async fn bus_connected(node: &Node) -> bool {
    node.health().await["bus"]["connected"] == json!(true)
}

async fn until_bus(node: &Node, connected: bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while bus_connected(node).await != connected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {} never reported its bus connected={connected}",
            node.name
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads the admin's pushes until its cluster panel shows the Redis bus `connected` or not.
async fn until_panel_says(admin: &mut Client, connected: bool) {
    let shown = format!("data-bus=\"redis\" data-connected=\"{connected}\"");
    loop {
        let frame = admin.frame().await;
        if frame.event == "cluster"
            && frame.payload["html"]
                .as_str()
                .is_some_and(|html| html.contains(&shown))
        {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_under_a_sales_storm() {
    let redis = RedisServer::dedicated();
    let cluster = Cluster::with_redis(Some(redis.url())).await;
    let db = &cluster.db;
    let a = cluster.node_with("a", &NODE_ENV).await;
    let b = cluster.node_with("b", &LISTENER_ENV).await;
    // 160 pairs: "medium"; the storm takes the size to "low" (under 150) with Redis down.
    let item = stocked_item(&a, 160).await;
    until_node_matches_db(&b, db, item).await;
    let product = product_of(&b, item).await;
    let mut page = page_on(&b, product, true).await;
    let mut admin = admin_on(&b).await;
    until_panel_says(&mut admin, true).await;
    let Outcome { sold, unsold } = storm(
        std::slice::from_ref(&a.url),
        item,
        Load {
            buyers: 30,
            rounds: 2,
            fault_after: 5,
        },
        async { tokio::task::block_in_place(|| redis.kill()) },
    )
    .await;
    // PostgreSQL is the truth and it was up: every checkout sold, none lost, none oversold.
    assert_eq!((sold.len(), unsold), (60, 0));
    assert_books_balance(db, item, 160, &sold).await;
    until_bus(&a, false).await;
    until_bus(&b, false).await;
    // The admin on B is told the bus is down, and then that it is back.
    until_panel_says(&mut admin, false).await;
    tokio::task::block_in_place(|| redis.revive());
    until_panel_says(&mut admin, true).await;
    // Pages heal when it is back: B resyncs, and its page shows the size low.
    until_level(&mut page, product, item, "low").await;
    until_node_matches_db(&b, db, item).await;
    for node in [&a, &b] {
        until_bus(node, true).await;
    }
    // And pushes flow again: the size sells out on A, B's page hears it.
    let left = crate::helpers::pairs_left(db, item).await;
    a.admin
        .sell(item, left)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    until_level(&mut page, product, item, "out").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_from_redis_only_serves_its_own_and_catches_up() {
    let redis = RedisServer::dedicated();
    let link = Cut::to(redis.port).await;
    let cluster = Cluster::with_redis(None).await;
    let direct = redis.url();
    let through_link = format!("redis://127.0.0.1:{}/0", link.port);
    let mut a_env = LISTENER_ENV.to_vec();
    a_env.push(("REDIS_URL", &through_link));
    let mut b_env = LISTENER_ENV.to_vec();
    b_env.push(("REDIS_URL", &direct));
    let a = cluster.node_with("a", &a_env).await;
    let b = cluster.node_with("b", &b_env).await;
    let db = &cluster.db;
    let item = stocked_item(&b, 300).await;
    until_node_matches_db(&a, db, item).await;
    let product = product_of(&a, item).await;
    let mut page_on_a = page_on(&a, product, true).await;
    let mut admin = admin_on(&b).await;
    let _shopper = shopper_on(&a).await;
    until_counts(&mut admin, |h| count_in(h, "admin-shoppers") == Some(1)).await;

    link.cut();
    until_bus(&a, false).await;
    assert!(bus_connected(&b).await, "B keeps its bus");
    // B stops hearing A: A's shopper leaves B's count after the down period.
    until_counts(&mut admin, |h| count_in(h, "admin-shoppers") == Some(0)).await;
    // A still sells to its own shoppers.
    let buyer = Visitor::open(&a.url).await;
    assert_eq!(buyer.add(item).await.0, 303);
    assert!(buyer.checkout().await.starts_with("/checkout/complete"));
    // B sells meanwhile: 299 -> 120 pairs, "low", which A's page has not heard of.
    b.admin
        .sell(item, 179)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    link.restore();
    until_bus(&a, true).await;
    // A reads on from where it was: its page hears B's sale, B hears A's.
    until_level(&mut page_on_a, product, item, "low").await;
    until_node_matches_db(&a, db, item).await;
    until_node_matches_db(&b, db, item).await;
    // A's shopper is back in B's count, once.
    until_counts(&mut admin, |h| count_in(h, "admin-shoppers") == Some(1)).await;
    let _second = shopper_on(&b).await;
    until_counts(&mut admin, |h| count_in(h, "admin-shoppers") == Some(2)).await;
}

/// The stream's newest entry, as its payload.
async fn stream_top(redis: &RedisServer) -> String {
    let top: Vec<(String, Vec<(String, String)>)> = redis
        .query(
            ::redis::cmd("XREVRANGE")
                .arg("sneakers:stream")
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1),
        )
        .await;
    top.into_iter()
        .flat_map(|(_, fields)| fields)
        .map(|(_, payload)| payload)
        .collect()
}

/// How many gaps the node found in its feed (`sneakers_cluster_gaps_total` in `/metrics`).
async fn gaps_of(node: &Node) -> u64 {
    let text = node
        .http
        .get(format!("{}/metrics", node.url))
        .basic_auth(
            crate::helpers::ADMIN_USER,
            Some(crate::helpers::ADMIN_PASSWORD),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("/metrics: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("/metrics: {e}"));
    text.lines()
        .find_map(|line| line.strip_prefix("sneakers_cluster_gaps_total "))
        .map_or(0, |n| {
            n.trim().parse().unwrap_or_else(|e| panic!("{n}: {e}"))
        })
}

/// A node away while the stream is trimmed past it reads on, finds the numbers it missed gone,
/// and resyncs from PostgreSQL: its page shows a sale whose entry it never read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_the_stream_was_trimmed_past_resyncs() {
    let redis = RedisServer::dedicated();
    let link = Cut::to(redis.port).await;
    let cluster = Cluster::with_redis(None).await;
    let direct = redis.url();
    let through_link = format!("redis://127.0.0.1:{}/0", link.port);
    let mut a_env = LISTENER_ENV.to_vec();
    a_env.push(("REDIS_URL", &through_link));
    let mut b_env = LISTENER_ENV.to_vec();
    b_env.push(("REDIS_URL", &direct));
    let a = cluster.node_with("a", &a_env).await;
    let b = cluster.node_with("b", &b_env).await;
    let db = &cluster.db;
    let item = stocked_item(&b, 300).await;
    until_node_matches_db(&a, db, item).await;
    let product = product_of(&a, item).await;
    let mut page_on_a = page_on(&a, product, true).await;
    let gaps_before = gaps_of(&a).await;

    link.cut();
    until_bus(&a, false).await;
    // 300 -> 120 pairs: "low", said on the stream while A is away.
    b.admin
        .sell(item, 180)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Once B has said something after the sale (its heartbeat), trim the stream to that last
    // entry: the sale's entry is gone, and nothing left in the stream tells of it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let top = stream_top(&redis).await;
        if top.contains("\"t\":\"heartbeat\"") && !top.contains("\"t\":\"stock\"") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B never said anything after its sale"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let trimmed: u64 = redis
        .query(
            ::redis::cmd("XTRIM")
                .arg("sneakers:stream")
                .arg("MAXLEN")
                .arg(1),
        )
        .await;
    assert!(trimmed > 0, "the stream held B's sale");

    link.restore();
    until_bus(&a, true).await;
    until_level(&mut page_on_a, product, item, "low").await;
    until_node_matches_db(&a, db, item).await;
    assert!(
        gaps_of(&a).await > gaps_before,
        "A read on as if nothing was missing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_during_a_release() {
    let redis = RedisServer::dedicated();
    let cluster = Cluster::with_redis(Some(redis.url())).await;
    let a = cluster.node_with("a", &LISTENER_ENV).await;
    let b = cluster.node_with("b", &LISTENER_ENV).await;
    let coming = a
        .admin
        .inventory()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .products
        .into_iter()
        .find(|p| !p.released)
        .unwrap_or_else(|| panic!("an unreleased product"));
    let mut page = page_on(&b, coming.id, false).await;
    let mut admin = admin_on(&a).await;
    let _on_a = shopper_on(&a).await;
    let _on_b = shopper_on(&b).await;
    until_counts(&mut admin, |h| count_in(h, "admin-shoppers") == Some(2)).await;

    tokio::task::block_in_place(|| redis.kill());
    a.admin
        .release(&coming.sku)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::task::block_in_place(|| redis.revive());

    // B's page hears of the drop (B resyncs: Redis came back empty).
    let topic = format!("product:{}", coming.id);
    loop {
        let frame = page.frame().await;
        if frame.topic == topic && frame.event == "released" {
            break;
        }
    }
    for node in [&a, &b] {
        until_bus(node, true).await;
    }
    // Presence is rebuilt from each node's own entries (each sends its whole state again, which
    // replaces what the others had of it): both shoppers, each once. A third makes three.
    let _third = shopper_on(&b).await;
    let (html, _) = until_counts(&mut admin, |h| count_in(h, "admin-shoppers") >= Some(3)).await;
    assert_eq!(count_in(&html, "admin-shoppers"), Some(3), "{html}");
}
