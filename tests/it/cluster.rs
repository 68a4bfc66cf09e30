//! Several nodes on one PostgreSQL: real processes, one database, their cluster on NOTIFY and
//! on Redis (one suite, both buses).

use sneakers::domain::{ItemId, ProductId};
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;
use sneakers::domain::Catalog;
use sneakers::store::{self, Db};

use crate::admin::{count_in, until_counts};
use crate::helpers::pairs_left;
use crate::nodes::{Bus, Cluster, Node, two_nodes};
use crate::visitor::Visitor;
use crate::ws::Client;

/// Every node's `/admin/inventory` counts equal the database's.
async fn assert_nodes_match_db(db: &Db, nodes: &[&Node]) {
    let fresh = Catalog::new(
        store::catalog::load(db)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    for node in nodes {
        let inventory = node
            .admin
            .inventory()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for product in inventory.products {
            let cached = fresh
                .product(product.id)
                .unwrap_or_else(|| panic!("product {}", product.id));
            assert_eq!(
                product.released, cached.released,
                "node {} product {}",
                node.name, product.id
            );
            for item in product.items {
                let want = fresh.item(item.id).map(|(_, i)| i.available_count);
                assert_eq!(
                    Some(item.available_count),
                    want,
                    "node {} item {}",
                    node.name,
                    item.id
                );
            }
        }
    }
}

async fn released_item(node: &Node) -> (ProductId, ItemId) {
    let inventory = node
        .admin
        .inventory()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let product = inventory
        .products
        .iter()
        .find(|p| p.released)
        .unwrap_or_else(|| panic!("released"));
    (product.id, product.items[0].id)
}

async fn set_stock(node: &Node, item: ItemId, count: i32) {
    let now = node
        .available_count(item)
        .await
        .unwrap_or_else(|| panic!("node {} shows no item {item}", node.name));
    let result = match now.cmp(&count) {
        std::cmp::Ordering::Greater => node.admin.sell(item, now - count).await.map(|_| ()),
        std::cmp::Ordering::Less => node.admin.restock(item, count - now).await.map(|_| ()),
        std::cmp::Ordering::Equal => Ok(()),
    };
    result.unwrap_or_else(|e| panic!("{e}"));
}

/// Waits until a node's cache shows `count` pairs of `item` (replication is asynchronous).
async fn until_count(node: &Node, item: ItemId, count: i32) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let inventory = node
            .admin
            .inventory()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if inventory
            .products
            .iter()
            .flat_map(|p| &p.items)
            .any(|i| i.id == item && i.available_count == count)
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {} never showed {count} of item {item}",
            node.name
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn shopper_on(node: &Node) -> Client {
    let (token, _) = node.socket_token().await;
    Client::connect(&node.ws_url(&format!("/socket/websocket?vsn=2.0.0&token={token}")))
        .await
        .unwrap_or_else(|s| panic!("refused {s}"))
}

async fn sales_and_releases_on_one_node_reach_pages_on_the_other(bus: Bus) {
    let (cluster, a, b) = two_nodes(bus).await;
    let db = &cluster.db;
    let (product_id, item) = released_item(&a).await;
    let coming = a
        .admin
        .inventory()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .products
        .into_iter()
        .find(|p| !p.released)
        .unwrap_or_else(|| panic!("coming"));
    set_stock(&b, item, 150).await;
    until_count(&a, item, 150).await;

    let mut page = shopper_on(&a).await;
    let topic = format!("product:{product_id}");
    page.join_ok(&topic, json!({})).await;
    page.expect(&topic, "released").await;
    let coming_topic = format!("product:{}", coming.id);
    page.join_ok(&coming_topic, json!({})).await;

    b.admin
        .sell(item, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let change = page.expect(&topic, "stock_change").await;
    assert_eq!(
        (
            change.payload["item_id"].clone(),
            change.payload["level"].clone()
        ),
        (json!(item), json!("low"))
    );

    b.admin
        .release(&coming.sku)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let released = page.expect(&coming_topic, "released").await;
    assert!(
        released.payload["html"]
            .as_str()
            .is_some_and(|h| h.contains(&format!("id=\"item-{}\"", coming.items[0].id)))
    );
    assert_nodes_match_db(db, &[&a, &b]).await;
}

async fn tabs_of_one_cart_on_two_nodes_stay_in_sync(bus: Bus) {
    let (_cluster, a, b) = two_nodes(bus).await;
    let (_, item) = released_item(&a).await;
    set_stock(&a, item, 20).await;
    until_count(&b, item, 20).await;
    // One shopper (one token, one cart) with a tab on each node.
    let (token, cart_id) = a.socket_token().await;
    let topic = format!("cart:{cart_id}");
    let mut tab_a =
        Client::connect(&a.ws_url(&format!("/socket/websocket?vsn=2.0.0&token={token}")))
            .await
            .unwrap_or_else(|s| panic!("{s}"));
    let mut tab_b =
        Client::connect(&b.ws_url(&format!("/socket/websocket?vsn=2.0.0&token={token}")))
            .await
            .unwrap_or_else(|s| panic!("{s}"));
    for tab in [&mut tab_a, &mut tab_b] {
        tab.join_ok(&topic, json!({ "page": "/" })).await;
        tab.expect(&topic, "cart").await;
        tab.expect(&topic, "new_token").await;
    }
    let msg_ref = tab_b
        .push(None, &topic, "add_item", json!({ "item_id": item }))
        .await;
    assert_eq!(tab_b.reply_to(&msg_ref).await.0, "ok");
    let synced = tab_a.expect(&topic, "cart").await;
    assert_eq!(synced.payload["count"], 1);

    // The pair is held: given back on node B, the tab on node A sees the cart empty.
    let msg_ref = tab_b
        .push(None, &topic, "remove_item", json!({ "item_id": item }))
        .await;
    assert_eq!(tab_b.reply_to(&msg_ref).await.0, "ok");
    let emptied = tab_a.expect(&topic, "cart").await;
    assert_eq!(
        (
            emptied.payload["count"].clone(),
            emptied.payload["holds"].clone()
        ),
        (json!(0), json!([]))
    );
}

async fn admin_counts_shoppers_on_every_node_and_forgets_a_dead_one(bus: Bus) {
    let (cluster, a, mut b) = two_nodes(bus).await;
    let admin_token = a.admin_token().await;
    let mut admin = Client::connect(&a.ws_url(&format!(
        "/admin_socket/websocket?vsn=2.0.0&token={admin_token}"
    )))
    .await
    .unwrap_or_else(|s| panic!("{s}"));
    admin.join_ok("admin:cart_tracker", json!({})).await;

    let mut on_b = Vec::new();
    for _ in 0..2 {
        let (token, cart_id) = b.socket_token().await;
        let mut tab =
            Client::connect(&b.ws_url(&format!("/socket/websocket?vsn=2.0.0&token={token}")))
                .await
                .unwrap_or_else(|s| panic!("{s}"));
        tab.join_ok(&format!("cart:{cart_id}"), json!({ "page": "/" }))
            .await;
        on_b.push(tab);
    }
    until_counts(&mut admin, |h| count_in(h, "admin-shoppers") == Some(2)).await;

    // kill -9: no goodbye. A drops B's shoppers once B has been silent for the down period.
    b.kill_hard();
    drop(on_b);
    until_counts(&mut admin, |h| count_in(h, "admin-shoppers") == Some(0)).await;

    // B comes back; its new shoppers show up on A.
    let b2 = cluster.node("b").await;
    let (token, cart_id) = b2.socket_token().await;
    let mut tab =
        Client::connect(&b2.ws_url(&format!("/socket/websocket?vsn=2.0.0&token={token}")))
            .await
            .unwrap_or_else(|s| panic!("{s}"));
    tab.join_ok(&format!("cart:{cart_id}"), json!({ "page": "/checkout" }))
        .await;
    until_counts(&mut admin, |h| count_in(h, "admin-shoppers") == Some(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_its_feed_reconnects_and_resyncs() {
    let cluster = Cluster::new(Bus::Notify).await;
    let (url, db) = (&cluster.url, &cluster.db);
    let a = cluster.node("a").await;
    let b = cluster.node("b").await;
    let (product_id, item) = released_item(&a).await;
    set_stock(&b, item, 152).await;
    until_count(&a, item, 152).await;
    let mut page = shopper_on(&a).await;
    let topic = format!("product:{product_id}");
    page.join_ok(&topic, json!({})).await;
    page.expect(&topic, "released").await;

    // Cut A's LISTEN connection from the database side, and sell on B meanwhile.
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(connection);
    let killed = client
        .query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sneakers-listen-a' AND datname = current_database()", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        killed.len(),
        1,
        "A's listening connection was found and cut"
    );
    for _ in 0..3 {
        b.admin
            .sell(item, 1)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // A comes back by itself and its page ends on the database's level (149: low).
    a.until_feed("live").await;
    loop {
        let change = page.expect(&topic, "stock_change").await;
        if change.payload["item_id"] == json!(item) && change.payload["level"] == "low" {
            break;
        }
    }
    assert_nodes_match_db(db, &[&a, &b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_node_without_losing_a_checkout() {
    let cluster = Cluster::new(Bus::Notify).await;
    let db = &cluster.db;
    let mut a = cluster.node("a").await;
    let (_, item) = released_item(&a).await;
    set_stock(&a, item, 1000).await;
    let mut page = shopper_on(&a).await;
    page.join_ok("product:1", json!({})).await;
    let buyers = join_all((0..30).map(|_| async {
        let buyer = Visitor::open(&a.url).await;
        assert_eq!(buyer.add(item).await, (303, "/".to_string()));
        buyer
    }))
    .await;
    // SIGTERM lands once the first checkout has been answered, with the others in flight.
    let first_answer = tokio::sync::Notify::new();
    let checkouts = join_all(buyers.iter().map(|b| async {
        let outcome = b.try_checkout().await;
        first_answer.notify_one();
        outcome
    }));
    let terminate = async {
        first_answer.notified().await;
        tokio::task::spawn_blocking(move || {
            let status = a.terminate(Duration::from_secs(30));
            (a, status)
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let (outcomes, (_a, status)) = tokio::join!(checkouts, terminate);
    assert!(status.success(), "exit status {status:?}");
    let answered = outcomes
        .iter()
        .filter(|o| {
            o.as_deref()
                .is_some_and(|l| l.starts_with("/checkout/complete"))
        })
        .count();
    assert!(
        answered >= 1,
        "no checkout reached the node before it stopped"
    );
    let sold = store::orders::pairs_sold(db, item)
        .await
        .unwrap_or_else(|e| panic!("orders: {e}"));
    assert_eq!(
        sold as usize, answered,
        "every order placed was answered, and only those"
    );
    assert_eq!(pairs_left(db, item).await, 1000 - answered as i32);
    // The open page was told to reconnect elsewhere.
    let (code, _) = page.until_closed().await;
    assert_eq!(code, Some(1012));
}

async fn a_checkout_storm_across_two_nodes_sells_exactly_the_stock(bus: Bus) {
    let (cluster, a, b) = two_nodes(bus).await;
    let db = &cluster.db;
    let (_, item) = released_item(&a).await;
    set_stock(&a, item, 40).await;
    until_count(&b, item, 40).await;
    let buyers = join_all((0..300).map(|n| {
        let base = if n % 2 == 0 {
            a.url.clone()
        } else {
            b.url.clone()
        };
        async move {
            let buyer = Visitor::open(&base).await;
            let (status, location) = buyer.add(item).await;
            assert_eq!(status, 303);
            (buyer, location)
        }
    }))
    .await;
    // Carting holds: exactly the stock is held, on either node, everyone else told at once.
    let held = buyers.iter().filter(|(_, l)| l == "/").count();
    let refused = buyers
        .iter()
        .filter(|(_, l)| l == "/?cart_error=sold_out")
        .count();
    assert_eq!((held, refused), (40, 260));
    let outcomes = join_all(buyers.iter().map(|(b, _)| b.checkout())).await;
    let orders = outcomes
        .iter()
        .filter(|l| l.starts_with("/checkout/complete"))
        .count();
    let empty = outcomes.iter().filter(|l| *l == "/checkout").count();
    assert_eq!((orders, empty), (40, 260));
    assert_eq!(
        store::orders::pairs_sold(db, item)
            .await
            .unwrap_or_else(|e| panic!("orders: {e}")),
        40
    );
    assert_eq!(pairs_left(db, item).await, 0);
    assert_nodes_match_db(db, &[&a, &b]).await;
}

/// The admin's cluster panel: the bus, every node with its sockets, from the heartbeats; a
/// node that goes silent is marked down.
async fn the_cluster_panel_shows_every_node_and_marks_a_silent_one_down(bus: Bus) {
    let (_cluster, a, mut b) = two_nodes(bus).await;
    let token = a.admin_token().await;
    let mut admin =
        Client::connect(&a.ws_url(&format!("/admin_socket/websocket?vsn=2.0.0&token={token}")))
            .await
            .unwrap_or_else(|s| panic!("refused {s}"));
    admin.join_ok("admin:cart_tracker", json!({})).await;
    // A shopper on b, so b's heartbeat has a socket to report.
    let _shopper = shopper_on(&b).await;
    let row = |html: &str, node: &str| -> Option<String> {
        let start = html.find(&format!("data-node=\"{node}\""))?;
        let end = html[start..]
            .find("</tr>")
            .map_or(html.len(), |e| start + e);
        Some(html[start..end].to_string())
    };
    loop {
        let frame = admin.frame().await;
        if frame.event != "cluster" {
            continue;
        }
        let html = frame.payload["html"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Some(b_row) = row(&html, "b")
            && b_row.contains("data-up=\"true\"")
            && b_row.contains("<td class=\"num\">1</td>")
        {
            assert!(
                row(&html, "a").is_some_and(|r| r.contains("this one")),
                "{html}"
            );
            let kind = match bus {
                Bus::Notify => "postgres",
                Bus::Redis => "redis",
            };
            assert!(
                html.contains(&format!("data-bus=\"{kind}\" data-connected=\"true\"")),
                "{html}"
            );
            // `/healthz` says the same, for the platform's router.
            for node in [&a, &b] {
                assert_eq!(
                    node.health().await["bus"],
                    json!({ "kind": kind, "connected": true })
                );
            }
            assert!(b_row.contains(">live<"), "{b_row}");
            break;
        }
    }
    b.kill_hard();
    loop {
        let frame = admin.frame().await;
        if frame.event == "cluster"
            && row(frame.payload["html"].as_str().unwrap_or_default(), "b")
                .is_some_and(|r| r.contains("data-up=\"false\""))
        {
            break;
        }
    }
}

crate::on_both_buses!(
    sales_and_releases_on_one_node_reach_pages_on_the_other,
    tabs_of_one_cart_on_two_nodes_stay_in_sync,
    admin_counts_shoppers_on_every_node_and_forgets_a_dead_one,
    a_checkout_storm_across_two_nodes_sells_exactly_the_stock,
    the_cluster_panel_shows_every_node_and_marks_a_silent_one_down,
);
