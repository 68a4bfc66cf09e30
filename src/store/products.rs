//! Admins' writes to the catalog: a product created, edited, archived or deleted, each in one
//! transaction. An edit names the revision it was made on; one made on a stale copy changes
//! nothing and says who got there first. Stock set by an edit is one guarded statement per
//! size, as every other stock write.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::lines::start_line_if_off;
use super::schema::{item_availabilities, items, order_items, product_details, products};
use super::{Db, StoreError};
use crate::domain::product_fields::{Release, Visibility};
use crate::domain::product_form::{ProductSpec, SizeSpec};
use crate::domain::{ItemId, ProductId};
use crate::with_conn;

/// Why a write was refused (nothing was written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no such product")]
    NotFound,
    #[error("changed by another admin at {at} since you opened it")]
    Stale { at: DateTime<Utc> },
    #[error("another product has the SKU {0}")]
    SkuTaken(String),
    /// The size at this position of the form has a SKU another product's size has.
    #[error("another product has a size with the SKU {sku}")]
    ItemSkuTaken { index: usize, sku: String },
    /// A size that has been sold cannot be removed.
    #[error("pairs of this size have been sold")]
    SizeSold(ItemId),
    #[error("the product has orders: archive it instead")]
    HasOrders,
}

#[derive(Debug)]
enum TxError {
    Refused(Refusal),
    Db(DieselError),
}

impl From<DieselError> for TxError {
    fn from(error: DieselError) -> TxError {
        TxError::Db(error)
    }
}

fn finish<T>(result: Result<T, TxError>) -> Result<Result<T, Refusal>, StoreError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(TxError::Refused(why)) => Ok(Err(why)),
        Err(TxError::Db(error)) => Err(error.into()),
    }
}

/// The columns a release choice sets: `(visibility, release_at)`; `released` is cleared for a
/// product taken off sale and left alone otherwise (a release goes through its own guarded
/// statement, so exactly one caller announces it).
pub(super) fn release_columns(release: Release) -> (Visibility, Option<NaiveDateTime>) {
    match release {
        Release::Draft => (Visibility::Draft, None),
        Release::Soon | Release::Now => (Visibility::Listed, None),
        Release::At(at) => (Visibility::Listed, Some(at.naive_utc())),
    }
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Refuses SKUs of the form's sizes that another product's sizes have.
macro_rules! check_item_skus {
    ($c:expr, $spec:expr, $product_id:expr) => {{
        let skus: Vec<&str> = $spec.sizes.iter().map(|s| s.sku.as_str()).collect();
        let taken: Vec<String> = items::table
            .filter(items::sku.eq_any(&skus))
            .filter(items::product_id.ne($product_id))
            .select(items::sku)
            .load($c)
            .await?;
        match $spec
            .sizes
            .iter()
            .position(|s: &SizeSpec| taken.iter().any(|t| t.eq_ignore_ascii_case(&s.sku)))
        {
            Some(index) => Err(TxError::Refused(Refusal::ItemSkuTaken {
                index,
                sku: $spec.sizes[index].sku.clone(),
            })),
            None => Ok::<(), TxError>(()),
        }
    }};
}

/// A new size and its stock row.
macro_rules! insert_size {
    ($c:expr, $product_id:expr, $position:expr, $size:expr, $now:expr) => {{
        let item_id: i32 = diesel::insert_into(items::table)
            .values((
                items::product_id.eq($product_id),
                items::size.eq(&$size.label),
                items::sku.eq(&$size.sku),
                items::position.eq(i32::try_from($position).unwrap_or(i32::MAX)),
                items::inserted_at.eq($now),
                items::updated_at.eq($now),
            ))
            .returning(items::id)
            .get_result($c)
            .await?;
        diesel::insert_into(item_availabilities::table)
            .values((
                item_availabilities::item_id.eq(item_id),
                item_availabilities::available_count.eq($size.stock.unwrap_or(0)),
                item_availabilities::version.eq(1_i64),
                item_availabilities::inserted_at.eq($now),
                item_availabilities::updated_at.eq($now),
            ))
            .execute($c)
            .await?;
        Ok::<(), TxError>(())
    }};
}
pub(super) use insert_size;

/// A new product's row and its details (revision 0, not released); evaluates to its id.
macro_rules! insert_product {
    ($c:expr, $spec:expr, $visibility:expr, $release_at:expr, $now:expr) => {{
        let id: i32 = diesel::insert_into(products::table)
            .values((
                products::sku.eq(&$spec.sku),
                products::brand.eq(&$spec.brand),
                products::name.eq(&$spec.name),
                products::color.eq(&$spec.color),
                products::price_cents.eq($spec.price_cents),
                products::main_image_url.eq(""),
                products::released.eq(false),
                products::release_at.eq($release_at),
                products::visibility.eq($visibility.as_str()),
                products::max_per_customer.eq($spec
                    .max_per_customer
                    .map(|n| i32::try_from(n).unwrap_or(i32::MAX))),
                products::queue_enabled.eq($spec.line_per_minute.is_some()),
                products::admit_per_minute
                    .eq(i32::try_from($spec.line_per_minute.unwrap_or(60)).unwrap_or(i32::MAX)),
                products::inserted_at.eq($now),
                products::updated_at.eq($now),
            ))
            .returning(products::id)
            .get_result($c)
            .await?;
        diesel::insert_into(product_details::table)
            .values((
                product_details::product_id.eq(id),
                product_details::description.eq(&$spec.description),
                product_details::revision.eq(0),
            ))
            .execute($c)
            .await?;
        id
    }};
}
pub(super) use insert_product;

/// Creates a product with its sizes and starting stock. Returns its id.
pub async fn create(db: &Db, spec: &ProductSpec) -> Result<Result<ProductId, Refusal>, StoreError> {
    let mut conn = db.get().await?;
    let now = Utc::now().naive_utc();
    let (visibility, release_at) = release_columns(spec.release);
    let result = with_conn!(conn, |c| {
        c.transaction::<_, TxError, _>(async |c| {
            let taken: i64 = products::table
                .filter(products::sku.eq(&spec.sku))
                .count()
                .get_result(c)
                .await?;
            if taken > 0 {
                return Err(TxError::Refused(Refusal::SkuTaken(spec.sku.clone())));
            }
            check_item_skus!(c, spec, 0)?;
            let id = insert_product!(c, spec, visibility, release_at, now);
            for (position, size) in spec.sizes.iter().enumerate() {
                insert_size!(c, id, position, size, now)?;
            }
            Ok(ProductId(id))
        })
        .await
    });
    finish(result)
}

/// Writes an edit made on `revision`: the product's fields, its sizes (renamed, moved, added,
/// removed) and the stock the admin set.
pub async fn update(
    db: &Db,
    id: ProductId,
    revision: i32,
    spec: &ProductSpec,
) -> Result<Result<(), Refusal>, StoreError> {
    let mut conn = db.get().await?;
    let now = Utc::now().naive_utc();
    let (visibility, release_at) = release_columns(spec.release);
    let off_sale = matches!(spec.release, Release::Draft);
    let result = with_conn!(conn, |c| {
        c.transaction::<_, TxError, _>(async |c| {
            // First, the product row: writing it locks it until commit, so of two admins
            // saving the same revision one wins and the other is told.
            let at: Option<NaiveDateTime> = products::table
                .filter(products::id.eq(id.0))
                .select(products::updated_at)
                .first(c)
                .await
                .optional()?;
            let Some(at) = at else {
                return Err(TxError::Refused(Refusal::NotFound));
            };
            diesel::update(products::table.filter(products::id.eq(id.0)))
                .set(products::updated_at.eq(now))
                .execute(c)
                .await?;
            let current: i32 = product_details::table
                .filter(product_details::product_id.eq(id.0))
                .select(product_details::revision)
                .first(c)
                .await
                .optional()?
                .unwrap_or(0);
            if current != revision {
                return Err(TxError::Refused(Refusal::Stale { at: at.and_utc() }));
            }
            diesel::insert_into(product_details::table)
                .values((
                    product_details::product_id.eq(id.0),
                    product_details::description.eq(&spec.description),
                    product_details::revision.eq(revision + 1),
                ))
                .on_conflict(product_details::product_id)
                .do_update()
                .set((
                    product_details::description.eq(&spec.description),
                    product_details::revision.eq(revision + 1),
                ))
                .execute(c)
                .await?;
            if spec.line_per_minute.is_some() {
                // A line this edit turns on is paced from now.
                start_line_if_off!(c, id.0, chrono::Utc::now().naive_utc());
            }
            diesel::update(products::table.filter(products::id.eq(id.0)))
                .set((
                    products::sku.eq(&spec.sku),
                    products::brand.eq(&spec.brand),
                    products::name.eq(&spec.name),
                    products::color.eq(&spec.color),
                    products::price_cents.eq(spec.price_cents),
                    products::release_at.eq(release_at),
                    products::visibility.eq(visibility.as_str()),
                    products::max_per_customer.eq(spec.max_per_customer.map(to_i32)),
                    products::queue_enabled.eq(spec.line_per_minute.is_some()),
                    products::admit_per_minute.eq(to_i32(spec.line_per_minute.unwrap_or(60))),
                ))
                .execute(c)
                .await?;
            if off_sale {
                diesel::update(products::table.filter(products::id.eq(id.0)))
                    .set(products::released.eq(false))
                    .execute(c)
                    .await?;
            }
            let taken: i64 = products::table
                .filter(products::sku.eq(&spec.sku))
                .filter(products::id.ne(id.0))
                .count()
                .get_result(c)
                .await?;
            if taken > 0 {
                return Err(TxError::Refused(Refusal::SkuTaken(spec.sku.clone())));
            }
            check_item_skus!(c, spec, id.0)?;
            let existing: Vec<i32> = items::table
                .filter(items::product_id.eq(id.0))
                .select(items::id)
                .load(c)
                .await?;
            let kept: HashSet<i32> = spec
                .sizes
                .iter()
                .filter_map(|s| s.id.map(|i| i.0))
                .collect();
            let gone: Vec<i32> = existing
                .iter()
                .copied()
                .filter(|i| !kept.contains(i))
                .collect();
            if !gone.is_empty() {
                let sold: Option<i32> = order_items::table
                    .filter(order_items::item_id.eq_any(&gone))
                    .select(order_items::item_id)
                    .first(c)
                    .await
                    .optional()?;
                if let Some(sold) = sold {
                    return Err(TxError::Refused(Refusal::SizeSold(ItemId(sold))));
                }
                diesel::delete(items::table.filter(items::id.eq_any(&gone)))
                    .execute(c)
                    .await?;
            }
            // Labels and SKUs are unique: park the kept sizes' first, so two sizes can swap.
            for item in existing.iter().filter(|i| kept.contains(i)) {
                diesel::update(items::table.filter(items::id.eq(item)))
                    .set((
                        items::size.eq(format!("~{item}")),
                        items::sku.eq(format!("~{item}")),
                    ))
                    .execute(c)
                    .await?;
            }
            for (position, size) in spec.sizes.iter().enumerate() {
                let Some(item) = size.id.filter(|i| existing.contains(&i.0)) else {
                    insert_size!(c, id.0, position, size, now)?;
                    continue;
                };
                diesel::update(items::table.filter(items::id.eq(item.0)))
                    .set((
                        items::size.eq(&size.label),
                        items::sku.eq(&size.sku),
                        items::position.eq(i32::try_from(position).unwrap_or(i32::MAX)),
                        items::updated_at.eq(now),
                    ))
                    .execute(c)
                    .await?;
                if let Some(count) = size.stock {
                    diesel::update(
                        item_availabilities::table.filter(item_availabilities::item_id.eq(item.0)),
                    )
                    .set((
                        item_availabilities::available_count.eq(count),
                        item_availabilities::version.eq(item_availabilities::version + 1),
                        item_availabilities::updated_at.eq(now),
                    ))
                    .execute(c)
                    .await?;
                }
            }
            Ok(())
        })
        .await
    });
    finish(result)
}

/// Takes a product off the store for good (its orders keep it): hidden, not on sale.
pub async fn archive(db: &Db, id: ProductId) -> Result<Result<(), Refusal>, StoreError> {
    let mut conn = db.get().await?;
    let now = Utc::now().naive_utc();
    let changed = with_conn!(conn, |c| {
        c.transaction::<_, DieselError, _>(async |c| {
            let changed = diesel::update(products::table.filter(products::id.eq(id.0)))
                .set((
                    products::visibility.eq(Visibility::Archived.as_str()),
                    products::released.eq(false),
                    products::updated_at.eq(now),
                ))
                .execute(c)
                .await?;
            // A form opened before the archive is stale now.
            diesel::update(product_details::table.filter(product_details::product_id.eq(id.0)))
                .set(product_details::revision.eq(product_details::revision + 1))
                .execute(c)
                .await?;
            Ok(changed)
        })
        .await?
    });
    Ok(if changed == 1 {
        Ok(())
    } else {
        Err(Refusal::NotFound)
    })
}

/// Deletes a product nobody bought (its sizes, stock and holds go with it).
pub async fn delete(db: &Db, id: ProductId) -> Result<Result<(), Refusal>, StoreError> {
    let mut conn = db.get().await?;
    let result = with_conn!(conn, |c| {
        c.transaction::<_, TxError, _>(async |c| {
            let ordered: i64 = order_items::table
                .inner_join(items::table)
                .filter(items::product_id.eq(id.0))
                .count()
                .get_result(c)
                .await?;
            if ordered > 0 {
                return Err(TxError::Refused(Refusal::HasOrders));
            }
            let deleted = diesel::delete(products::table.filter(products::id.eq(id.0)))
                .execute(c)
                .await?;
            if deleted == 0 {
                return Err(TxError::Refused(Refusal::NotFound));
            }
            Ok(())
        })
        .await
    });
    finish(result)
}

/// The sizes of a product that have been sold (in any order, whatever its state).
pub async fn sold_items(db: &Db, id: ProductId) -> Result<HashSet<ItemId>, StoreError> {
    let mut conn = db.get().await?;
    let sold: Vec<i32> = with_conn!(conn, |c| {
        order_items::table
            .inner_join(items::table)
            .filter(items::product_id.eq(id.0))
            .select(order_items::item_id)
            .distinct()
            .load(c)
            .await?
    });
    Ok(sold.into_iter().map(ItemId).collect())
}
