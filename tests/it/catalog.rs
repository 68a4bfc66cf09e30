//! What a shopper sees: the catalog rendered from the database, releases, scheduled drops.

use sneakers::domain::ProductId;
use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sneakers::inventory::Event;
use sneakers::store::schema::products;
use sneakers::with_conn;

use crate::helpers::{Backend, TestApp, level_on_page};
use crate::on_both_backends;

on_both_backends!(
    index_lists_products_with_their_levels,
    release_shows_sizes_on_next_load,
    scheduled_drop_releases_itself
);

async fn index_lists_products_with_their_levels(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (status, html) = app.get("/").await;
    assert_eq!(status, 200);
    let inventory = app.inventory_json().await;
    assert!(inventory.products.len() >= 8);
    let mut seen_levels = std::collections::HashSet::new();
    for product in &inventory.products {
        assert!(html.contains(&format!("data-product-id=\"{}\"", product.id)));
        assert!(html.contains(&format!("id=\"product-{}-sizes\"", product.id)));
        for item in &product.items {
            let shown = level_on_page(&html, item.id);
            if product.released {
                assert_eq!(
                    shown.as_deref(),
                    Some(item.level.as_str()),
                    "item {}",
                    item.id
                );
                seen_levels.insert(item.level.clone());
            } else {
                assert_eq!(shown, None, "unreleased product {} shows sizes", product.id);
            }
        }
    }
    assert_eq!(
        seen_levels.len(),
        4,
        "the seed shows every level: {seen_levels:?}"
    );
    assert!(html.contains("Coming soon"));
    assert!(
        html.contains("countdown__time"),
        "a scheduled drop shows its countdown"
    );
    // Sold-out sizes cannot be clicked.
    let out = inventory
        .products
        .iter()
        .filter(|p| p.released)
        .flat_map(|p| &p.items)
        .find(|i| i.available_count == 0);
    if let Some(out) = out {
        let at = html.find(&format!("id=\"item-{}\"", out.id)).unwrap_or(0);
        let form = &html[at..at + html[at..].find("</form>").unwrap_or(0)];
        assert!(
            form.contains("disabled"),
            "sold-out size is disabled: {form}"
        );
    }

    let product = &inventory.products[0];
    let (status, page) = app.get(&format!("/products/{}", product.id)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&product.name)
            && page.contains(&format!("id=\"product-{}-sizes\"", product.id))
    );
    assert_eq!(app.get("/products/99999").await.0, 404);
    assert_eq!(app.get("/products/not-a-number").await.0, 404);
    let (status, missing) = app.get("/no/such/page").await;
    assert_eq!(status, 404);
    assert!(missing.contains("Back to the drops"));
}

async fn release_shows_sizes_on_next_load(backend: Backend) {
    let app = TestApp::start(backend).await;
    let coming = app.product(false).await;
    let (_, before) = app.get(&format!("/products/{}", coming.id)).await;
    assert!(before.contains("Coming soon"));
    assert_eq!(level_on_page(&before, coming.items[0].id), None);

    let reply = app
        .admin
        .release(&coming.id.to_string())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!reply.already_released);
    let (_, after) = app.get(&format!("/products/{}", coming.id)).await;
    assert!(!after.contains("Coming soon"));
    for item in &coming.items {
        assert_eq!(
            level_on_page(&after, item.id).as_deref(),
            Some(item.level.as_str())
        );
    }
    // Releasing again is harmless and says so; by SKU works too.
    let again = app
        .admin
        .release(&coming.sku)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(again.already_released);
    let unknown = app.admin.release("NO-SUCH-SKU").await.err();
    assert_eq!(unknown.as_ref().and_then(|e| e.code()), Some("not_found"));
    app.assert_cache_matches_db().await;
}

async fn scheduled_drop_releases_itself(backend: Backend) {
    let app = TestApp::start(backend).await;
    let coming = app.product(false).await;
    let mut events = app.inventory().subscribe();
    app.schedule_release(coming.id, Utc::now() + chrono::Duration::milliseconds(300))
        .await;
    app.inventory()
        .reload()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let released = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match events.recv().await {
                Ok(sneakers::inventory::Published {
                    event: Event::Released { product_id },
                    ..
                }) if product_id == coming.id => break,
                Ok(_) => continue,
                Err(e) => panic!("event bus: {e}"),
            }
        }
    })
    .await;
    assert!(
        released.is_ok(),
        "the scheduled drop did not release itself"
    );
    let (_, page) = app.get(&format!("/products/{}", coming.id)).await;
    assert!(level_on_page(&page, coming.items[0].id).is_some());
    assert!(app.product_released_in_db(coming.id).await);
}

impl TestApp {
    /// Moves a product's drop to `at` (as if the seed had run minutes ago) and reloads the cache.
    pub async fn schedule_release(&self, id: ProductId, at: chrono::DateTime<Utc>) {
        let mut conn = self.db.get().await.unwrap_or_else(|e| panic!("{e}"));
        with_conn!(conn, |c| {
            diesel::update(products::table.filter(products::id.eq(id.0)))
                .set(products::release_at.eq(Some(at.naive_utc())))
                .execute(c)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        });
        drop(conn);
        self.inventory()
            .reload()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    async fn product_released_in_db(&self, id: ProductId) -> bool {
        let mut conn = self.db.get().await.unwrap_or_else(|e| panic!("{e}"));
        with_conn!(conn, |c| {
            products::table
                .filter(products::id.eq(id.0))
                .select(products::released)
                .first::<bool>(c)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        })
    }
}

/// A page as a browser gets it, plain or asking for gzip (then unzipped here).
async fn fetch_page(visitor: &crate::visitor::Visitor, path: &str, gzip: bool) -> String {
    use std::io::Read;

    let mut request = visitor.http.get(format!("{}{path}", visitor.base));
    if gzip {
        request = request.header("accept-encoding", "gzip, deflate, br, zstd");
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200);
    let encoding = response
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap_or_default().to_string());
    let body = response.bytes().await.unwrap_or_else(|e| panic!("{e}"));
    if gzip {
        assert_eq!(encoding.as_deref(), Some("gzip"));
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{path}: not valid gzip: {e}"));
        text
    } else {
        assert_eq!(encoding, None);
        String::from_utf8_lossy(&body).into_owned()
    }
}

/// Pages are gzipped when asked, identical to the plain ones once unzipped, and each visitor's
/// own: the catalog part they share never carries another visitor's tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_each_visitors_own_plain_or_gzipped() {
    use crate::visitor::meta;

    let app = TestApp::start(Backend::Sqlite).await;
    let product = app.product(true).await;
    for path in ["/".to_string(), format!("/products/{}", product.id)] {
        let first = app.visitor().await;
        let second = app.visitor().await;
        let plain = fetch_page(&first, &path, false).await;
        let zipped = fetch_page(&first, &path, true).await;
        // The socket token is signed at each answer; all else is the same page.
        let token = |html: &str| meta(html, "socket-token").unwrap_or_default();
        assert_eq!(
            zipped.replace(&token(&zipped), ""),
            plain.replace(&token(&plain), "")
        );
        let other = fetch_page(&second, &path, true).await;
        for (visitor, html) in [(&first, &plain), (&second, &other)] {
            assert_eq!(
                meta(html, "cart-id").as_deref(),
                Some(visitor.cart_id.as_str())
            );
            assert_eq!(
                meta(html, "csrf-token").as_deref(),
                Some(visitor.csrf.as_str())
            );
            let forms = html.matches("name=\"_csrf_token\"").count();
            let own = html
                .matches(&format!("name=\"_csrf_token\" value=\"{}\"", visitor.csrf))
                .count();
            assert!(
                forms > 0 && own == forms,
                "{path}: a form with another token"
            );
        }
        assert_ne!(first.cart_id, second.cart_id);
    }
}
