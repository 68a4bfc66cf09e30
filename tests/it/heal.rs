//! Caches that heal: a change made in the database behind the store's back (an operator's SQL,
//! a node killed between its commit and its NOTIFY) reaches every open page within the check
//! period, also when the count changed without a version bump.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;
use sneakers::domain::{ItemId, ProductId};
use sneakers::store::Db;
use sneakers::store::schema::{item_availabilities, products};
use sneakers::with_conn;

use crate::helpers::{Backend, TestApp};
use crate::nodes::{Bus, Cluster};
use crate::on_both_backends;
use crate::ws::{Client, Frame};

on_both_backends!(changes_behind_the_stores_back_reach_open_pages);

/// What an operator does in `psql`: the count only, version untouched.
async fn set_count_without_a_version_bump(db: &Db, item: ItemId, count: i32) {
    let mut conn = db.get().await.unwrap_or_else(|e| panic!("{e}"));
    with_conn!(conn, |c| {
        diesel::update(item_availabilities::table.filter(item_availabilities::item_id.eq(item.0)))
            .set(item_availabilities::available_count.eq(count))
            .execute(c)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    });
}

/// A restored backup: an older version and another count.
async fn rewind(db: &Db, item: ItemId, count: i32) {
    let mut conn = db.get().await.unwrap_or_else(|e| panic!("{e}"));
    with_conn!(conn, |c| {
        diesel::update(item_availabilities::table.filter(item_availabilities::item_id.eq(item.0)))
            .set((
                item_availabilities::available_count.eq(count),
                item_availabilities::version.eq(0),
            ))
            .execute(c)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    });
}

async fn release_in_sql(db: &Db, product: ProductId) {
    let mut conn = db.get().await.unwrap_or_else(|e| panic!("{e}"));
    with_conn!(conn, |c| {
        diesel::update(products::table.filter(products::id.eq(product.0)))
            .set(products::released.eq(true))
            .execute(c)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    });
}

/// The next `stock_change` of `item` on `topic`, skipping other sizes' pushes.
async fn next_change_of(page: &mut Client, topic: &str, item: ItemId) -> Frame {
    loop {
        let frame = page.expect(topic, "stock_change").await;
        if frame.payload["item_id"] == json!(item) {
            return frame;
        }
    }
}

async fn changes_behind_the_stores_back_reach_open_pages(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.cache_check = Duration::from_millis(200)).await;
    let product = app.product(true).await;
    let coming = app.product(false).await;
    let item = product.items[0].id;
    app.set_stock(item, 150).await;
    let topic = format!("product:{}", product.id);
    let coming_topic = format!("product:{}", coming.id);
    let mut page = app.client().await;
    page.join_ok(&topic, json!({ "sizes_shown": true })).await;
    for _ in &product.items {
        page.expect(&topic, "stock_change").await;
    }
    page.join_ok(&coming_topic, json!({})).await;

    set_count_without_a_version_bump(&app.db, item, 0).await;
    let change = next_change_of(&mut page, &topic, item).await;
    assert_eq!(change.payload["level"], "out");
    app.assert_cache_matches_db().await;

    // A backup restored: older version, another count. Taken once the database has stood
    // still for a check.
    rewind(&app.db, item, 600).await;
    let change = next_change_of(&mut page, &topic, item).await;
    assert_eq!(change.payload["level"], "high");
    app.assert_cache_matches_db().await;

    release_in_sql(&app.db, coming.id).await;
    page.expect(&coming_topic, "released").await;
    app.assert_cache_matches_db().await;
    // And the store goes on selling from the healed count.
    app.admin
        .sell(item, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(app.item(item).await.available_count, 599);
}

async fn a_count_changed_behind_two_nodes_reaches_a_page_on_each(bus: Bus) {
    let cluster = Cluster::new(bus).await;
    let db = &cluster.db;
    let env = [("CACHE_CHECK_MS", "500")];
    let a = cluster.node_with("a", &env).await;
    let b = cluster.node_with("b", &env).await;
    let inventory = a.admin.inventory().await.unwrap_or_else(|e| panic!("{e}"));
    let product = inventory
        .products
        .iter()
        .find(|p| p.released)
        .unwrap_or_else(|| panic!("a released product"));
    let item = product.items[0].id;
    // A count on another level than now, so the pages have something to show.
    let (target, level) = if product.items[0].available_count == 0 {
        (200, "medium")
    } else {
        (0, "out")
    };
    let topic = format!("product:{}", product.id);
    let mut pages = Vec::new();
    for node in [&a, &b] {
        let (token, _) = node.socket_token().await;
        let mut page =
            Client::connect(&node.ws_url(&format!("/socket/websocket?vsn=2.0.0&token={token}")))
                .await
                .unwrap_or_else(|s| panic!("{s}"));
        page.join_ok(&topic, json!({})).await;
        page.expect(&topic, "released").await;
        pages.push(page);
    }
    // Neither node is told: no NOTIFY, no version bump.
    set_count_without_a_version_bump(db, item, target).await;
    for page in &mut pages {
        let change = next_change_of(page, &topic, item).await;
        assert_eq!(change.payload["level"], level);
    }
    for node in [&a, &b] {
        let shown = node.available_count(item).await;
        assert_eq!(shown, Some(target), "node {}", node.name);
    }
}

crate::on_both_buses!(a_count_changed_behind_two_nodes_reaches_a_page_on_each);
