//! Checkout in the database: every pair of an order in one transaction, all or nothing.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::catalog::adjust_stock_query;
use super::schema::{items, order_items, orders, products};
use super::{Db, StoreError};
use crate::domain::ItemId;
use crate::domain::checkout::Plan;
use crate::domain::order::{Order, OrderedPair};
use crate::with_conn;

pub enum PurchaseOutcome {
    /// Committed: the order and each item's new `(item_id, count, version)`.
    Bought {
        order_id: i32,
        counts: Vec<(ItemId, i32, i64)>,
    },
    /// A pair was gone: nothing was sold.
    SoldOut,
}

enum TxError {
    SoldOut,
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> TxError {
        TxError::Db(e)
    }
}

/// Decrements every pair (guarded, in item order so concurrent checkouts never deadlock) and
/// records the order; any pair gone rolls the whole purchase back.
pub async fn purchase(db: &Db, cart_id: &str, plan: &Plan) -> Result<PurchaseOutcome, StoreError> {
    let mut lines = plan.lines.clone();
    lines.sort_by_key(|l| l.item_id);
    let total = plan.total_cents;
    let mut conn = db.get().await?;
    let result = with_conn!(conn, |c| {
        c.transaction::<_, TxError, _>(async |c| {
            let mut counts = Vec::with_capacity(lines.len());
            for line in &lines {
                match adjust_stock_query!(c, line.item_id, -1)? {
                    Some((count, version)) => counts.push((line.item_id, count, version)),
                    None => return Err(TxError::SoldOut),
                }
            }
            let order_id: i32 = diesel::insert_into(orders::table)
                .values((orders::cart_id.eq(cart_id), orders::total_cents.eq(total)))
                .returning(orders::id)
                .get_result(c)
                .await?;
            for line in &lines {
                diesel::insert_into(order_items::table)
                    .values((
                        order_items::order_id.eq(order_id),
                        order_items::item_id.eq(line.item_id.0),
                        order_items::price_cents.eq(line.price_cents),
                    ))
                    .execute(c)
                    .await?;
            }
            Ok((order_id, counts))
        })
        .await
    });
    match result {
        Ok((order_id, counts)) => Ok(PurchaseOutcome::Bought { order_id, counts }),
        Err(TxError::SoldOut) => Ok(PurchaseOutcome::SoldOut),
        Err(TxError::Db(e)) => Err(e.into()),
    }
}

#[derive(Queryable)]
struct PairRow {
    brand: String,
    name: String,
    size: String,
    price_cents: i32,
}

/// An order, if it exists and was placed by this cart.
pub async fn find(db: &Db, order_id: i32, cart_id: &str) -> Result<Option<Order>, StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        let order: Option<(i32, i32, NaiveDateTime)> = orders::table
            .filter(orders::id.eq(order_id))
            .filter(orders::cart_id.eq(cart_id))
            .select((orders::id, orders::total_cents, orders::inserted_at))
            .first(c)
            .await
            .optional()?;
        let Some((id, total_cents, placed_at)) = order else {
            return Ok(None);
        };
        let lines = order_items::table
            .inner_join(items::table.inner_join(products::table))
            .filter(order_items::order_id.eq(id))
            .order(order_items::id)
            .select((
                products::brand,
                products::name,
                items::size,
                order_items::price_cents,
            ))
            .load::<PairRow>(c)
            .await?;
        Ok(Some(Order {
            id,
            total_cents,
            placed_at: placed_at.and_utc(),
            lines: lines
                .into_iter()
                .map(|row| OrderedPair {
                    brand: row.brand,
                    name: row.name,
                    size: row.size,
                    price_cents: row.price_cents,
                })
                .collect(),
        }))
    })
}

/// How many orders hold this item (for tests and reports).
pub async fn pairs_sold(db: &Db, item_id: ItemId) -> Result<i64, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        order_items::table
            .filter(order_items::item_id.eq(item_id.0))
            .count()
            .get_result::<i64>(c)
            .await?
    }))
}
