//! Selling pairs: levels move, sold-out is refused, racing buyers never oversell.

use futures_util::future::join_all;
use sneakers::domain::{ItemId, ProductId};

use crate::helpers::{Backend, TestApp, level_on_page};
use crate::on_both_backends;

on_both_backends!(
    a_sale_changes_a_level,
    selling_a_sold_out_item_is_refused,
    concurrent_sales_never_oversell
);

async fn released_item(app: &TestApp) -> (ProductId, ItemId) {
    let product = app.product(true).await;
    (product.id, product.items[0].id)
}

async fn a_sale_changes_a_level(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (product_id, item_id) = released_item(&app).await;
    app.set_stock(item_id, 150).await;
    let (_, page) = app.get(&format!("/products/{product_id}")).await;
    assert_eq!(level_on_page(&page, item_id).as_deref(), Some("medium"));

    let sold = app
        .admin
        .sell(item_id, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((sold.available_count, sold.level.as_str()), (149, "low"));
    let (_, page) = app.get(&format!("/products/{product_id}")).await;
    assert_eq!(level_on_page(&page, item_id).as_deref(), Some("low"));
    app.assert_cache_matches_db().await;
}

async fn selling_a_sold_out_item_is_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (product_id, item_id) = released_item(&app).await;
    app.set_stock(item_id, 1).await;
    app.admin
        .sell(item_id, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let refused = app.admin.sell(item_id, 1).await.err();
    assert_eq!(refused.as_ref().and_then(|e| e.code()), Some("sold_out"));
    assert!(refused.is_some_and(|e| e.to_string().contains("0 pairs left")));
    assert_eq!(app.item(item_id).await.available_count, 0);
    let (_, page) = app.get(&format!("/products/{product_id}")).await;
    assert_eq!(level_on_page(&page, item_id).as_deref(), Some("out"));

    // Other refusals are just as clear.
    let unknown = app.admin.sell(ItemId(999_999), 1).await.err();
    assert_eq!(unknown.as_ref().and_then(|e| e.code()), Some("not_found"));
    let zero = app.admin.sell(item_id, 0).await.err();
    assert_eq!(zero.as_ref().and_then(|e| e.code()), Some("invalid_count"));
    let unreleased = app.product(false).await;
    let early = app.admin.sell(unreleased.items[0].id, 1).await.err();
    assert_eq!(early.as_ref().and_then(|e| e.code()), Some("not_released"));
    app.assert_cache_matches_db().await;
}

async fn concurrent_sales_never_oversell(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_, item_id) = released_item(&app).await;
    app.set_stock(item_id, 10).await;
    let results = join_all((0..50).map(|_| app.admin.sell(item_id, 1))).await;
    let sold = results.iter().filter(|r| r.is_ok()).count();
    let other_errors: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|e| e.code() != Some("sold_out"))
        .map(ToString::to_string)
        .collect();
    assert_eq!(sold, 10, "exactly the 10 pairs in stock sell");
    assert!(
        other_errors.is_empty(),
        "only sold_out refusals: {other_errors:?}"
    );
    assert_eq!(app.item(item_id).await.available_count, 0);
    app.assert_cache_matches_db().await;
}
