//! Catalog and stock queries. Every stock write is one guarded statement that returns the new
//! count and version, so callers never read-modify-write.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use std::collections::HashMap;

use super::schema::{item_availabilities, items, product_details, products};
use super::{Db, StoreError};
use crate::domain::fingerprint::WEIGHT_MODULUS;
use crate::domain::product_fields::{Listing, Visibility};
use crate::domain::{Fingerprint, Item, ItemId, Product, ProductId};
use crate::with_conn;

/// Stock above this is refused, far from integer overflow on either backend.
pub const MAX_STOCK: i32 = 1_000_000_000;

#[derive(Queryable, Selectable)]
#[diesel(table_name = products)]
struct ProductRow {
    id: i32,
    sku: String,
    brand: String,
    name: String,
    color: String,
    price_cents: i32,
    main_image_url: String,
    released: bool,
    release_at: Option<NaiveDateTime>,
    max_per_customer: Option<i32>,
    queue_enabled: bool,
    admit_per_minute: i32,
    visibility: String,
}

type ItemRow = (i32, i32, String, String, i32, i64, i32);

pub async fn load(db: &Db) -> Result<Vec<Product>, StoreError> {
    load_where(db, None).await
}

/// One product as the database has it now (after an admin's edit, here or on another node).
pub async fn load_product(db: &Db, id: ProductId) -> Result<Option<Product>, StoreError> {
    Ok(load_where(db, Some(id)).await?.pop())
}

async fn load_where(db: &Db, only: Option<ProductId>) -> Result<Vec<Product>, StoreError> {
    let mut conn = db.get().await?;
    let (rows, item_rows, details) = with_conn!(conn, |c| {
        let mut query = products::table
            .order(products::id)
            .select(ProductRow::as_select())
            .into_boxed();
        let mut item_query = items::table
            .inner_join(item_availabilities::table)
            .into_boxed();
        if let Some(id) = only {
            query = query.filter(products::id.eq(id.0));
            item_query = item_query.filter(items::product_id.eq(id.0));
        }
        let rows: Vec<ProductRow> = query.load(c).await?;
        let mut details_query = product_details::table
            .select((
                product_details::product_id,
                product_details::description,
                product_details::revision,
            ))
            .into_boxed();
        if let Some(id) = only {
            details_query = details_query.filter(product_details::product_id.eq(id.0));
        }
        let details: Vec<(i32, String, i32)> = details_query.load(c).await?;
        let item_rows: Vec<ItemRow> = item_query
            .select((
                items::id,
                items::product_id,
                items::size,
                items::sku,
                item_availabilities::available_count,
                item_availabilities::version,
                items::position,
            ))
            .load(c)
            .await?;
        (rows, item_rows, details)
    });
    let mut details: HashMap<i32, (String, i32)> = details
        .into_iter()
        .map(|(id, description, revision)| (id, (description, revision)))
        .collect();
    drop(conn);
    let mut pictures = super::pictures::of_products(db, only).await?;
    let mut products: Vec<Product> = rows
        .into_iter()
        .map(|row| {
            let (description, revision) = details.remove(&row.id).unwrap_or_default();
            Product {
                id: ProductId(row.id),
                sku: row.sku,
                brand: row.brand,
                name: row.name,
                color: row.color,
                price_cents: row.price_cents,
                main_image_url: row.main_image_url,
                released: row.released,
                release_at: row.release_at.map(|at| at.and_utc()),
                // The column's CHECK keeps it positive.
                max_per_customer: row.max_per_customer.and_then(|max| u32::try_from(max).ok()),
                line_per_minute: row
                    .queue_enabled
                    .then(|| u32::try_from(row.admit_per_minute).ok())
                    .flatten(),
                listing: Listing {
                    visibility: Visibility::from_column(&row.visibility),
                    description,
                    revision,
                    pictures: pictures.remove(&ProductId(row.id)).unwrap_or_default(),
                },
                items: Vec::new(),
            }
        })
        .collect();
    for (id, product_id, size, sku, available_count, version, position) in item_rows {
        if let Ok(i) = products.binary_search_by_key(&product_id, |p| p.id.0) {
            products[i].items.push(Item {
                id: ItemId(id),
                product_id: ProductId(product_id),
                size,
                sku,
                available_count,
                version,
                position,
            });
        }
    }
    Ok(products)
}

/// Sets (or with `None` clears) a product's limit per customer; `false` if there is no such
/// product.
pub async fn set_limit(db: &Db, id: ProductId, max: Option<u32>) -> Result<bool, StoreError> {
    let max = max.map(|m| i32::try_from(m).unwrap_or(i32::MAX));
    let mut conn = db.get().await?;
    let updated = with_conn!(conn, |c| {
        diesel::update(products::table.filter(products::id.eq(id.0)))
            .set((
                products::max_per_customer.eq(max),
                products::updated_at.eq(Utc::now().naive_utc()),
            ))
            .execute(c)
            .await?
    });
    Ok(updated == 1)
}

/// `true` when this call released the product; `false` when it already was (or is unknown),
/// so that among racing callers exactly one announces the drop.
pub async fn release(db: &Db, id: ProductId) -> Result<bool, StoreError> {
    let mut conn = db.get().await?;
    let now = Utc::now().naive_utc();
    let changed = with_conn!(conn, |c| {
        diesel::update(
            products::table
                .filter(products::id.eq(id.0))
                .filter(products::released.eq(false))
                .filter(products::visibility.eq(Visibility::Listed.as_str())),
        )
        .set((
            products::released.eq(true),
            products::released_at.eq(now),
            products::updated_at.eq(now),
        ))
        .execute(c)
        .await?
    });
    Ok(changed == 1)
}

/// The guarded statement itself, as a macro so it compiles for both backends and can run inside
/// a caller's transaction (checkout).
macro_rules! adjust_stock_query {
    ($c:expr, $item_id:expr, $delta:expr) => {{
        use $crate::store::schema::item_availabilities::dsl as a;
        let (item_id, delta): ($crate::domain::ItemId, i32) = ($item_id, $delta);
        diesel::update(
            a::item_availabilities
                .filter(a::item_id.eq(item_id.0))
                .filter(a::available_count.ge(0 - delta.min(0)))
                .filter(a::available_count.le($crate::store::catalog::MAX_STOCK - delta.max(0))),
        )
        .set((
            a::available_count.eq(a::available_count + delta),
            a::version.eq(a::version + 1),
            a::updated_at.eq(chrono::Utc::now().naive_utc()),
        ))
        .returning((a::available_count, a::version))
        .get_result::<(i32, i64)>($c)
        .await
        .optional()
    }};
}
pub(crate) use adjust_stock_query;

/// Adds `delta` pairs (negative: sells them) unless that would take the count below zero or
/// above [`MAX_STOCK`]. Returns the new `(count, version)`, or `None` when the guard refused.
pub async fn adjust_stock(
    db: &Db,
    item_id: ItemId,
    delta: i32,
) -> Result<Option<(i32, i64)>, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| adjust_stock_query!(
        c, item_id, delta
    )?))
}

/// The current `(count, version)` of an item, straight from the database.
pub async fn stock(db: &Db, item_id: ItemId) -> Result<Option<(i32, i64)>, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        item_availabilities::table
            .filter(item_availabilities::item_id.eq(item_id.0))
            .select((
                item_availabilities::available_count,
                item_availabilities::version,
            ))
            .first::<(i32, i64)>(c)
            .await
            .optional()?
    }))
}

#[derive(QueryableByName)]
struct FingerprintRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    products: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    released: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    prices: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    settings: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    items: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    versions: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    counts: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    weighted: i64,
}

/// The catalog's [`Fingerprint`] as the database sees it: one query, one scan of each table,
/// one row back. The same SQL on both backends (PostgreSQL sums bigints as numeric: cast).
fn fingerprint_sql() -> String {
    format!(
        "SELECT p.products, p.released, p.prices, p.settings, \
     a.items, a.versions, a.counts, a.weighted FROM \
     (SELECT COUNT(*) AS products, \
             CAST(COALESCE(SUM(CASE WHEN released THEN id ELSE 0 END), 0) AS BIGINT) AS released, \
             CAST(COALESCE(SUM(price_cents), 0) AS BIGINT) AS prices, \
             CAST(COALESCE(SUM((CAST(COALESCE(max_per_customer, 0) AS BIGINT) + CASE WHEN queue_enabled THEN 1000 * CAST(admit_per_minute AS BIGINT) ELSE 0 END) * (id % {WEIGHT_MODULUS} + 1)), 0) AS BIGINT) AS settings \
      FROM products) AS p, \
     (SELECT COUNT(*) AS items, \
             CAST(COALESCE(SUM(a.version), 0) AS BIGINT) AS versions, \
             CAST(COALESCE(SUM(a.available_count), 0) AS BIGINT) AS counts, \
             CAST(COALESCE(SUM(CAST(a.available_count AS BIGINT) * (a.item_id % {WEIGHT_MODULUS})), 0) AS BIGINT) AS weighted \
      FROM item_availabilities AS a JOIN items AS i ON i.id = a.item_id \
      JOIN products AS ip ON ip.id = i.product_id) AS a"
    )
}

pub async fn fingerprint(db: &Db) -> Result<Fingerprint, StoreError> {
    let mut conn = db.get().await?;
    let row: FingerprintRow = with_conn!(conn, |c| {
        diesel::sql_query(fingerprint_sql()).get_result(c).await?
    });
    Ok(Fingerprint {
        products: row.products,
        released: row.released,
        prices: row.prices,
        settings: row.settings,
        items: row.items,
        versions: row.versions,
        counts: row.counts,
        weighted: row.weighted,
    })
}
