//! Holds in the database: a pair taken out of stock for one shopper until it is paid or
//! returned. Taking one is the same guarded decrement a sale is (so holding is as fast as
//! buying, and never oversells), with the limit per customer judged in the same transaction;
//! ending one puts the pair back in the same transaction that deletes it, so a pair is never
//! both held and available, and two nodes sweeping at once return it once.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::catalog::adjust_stock_query;
use super::lines::not_admitted;
use super::schema::{accounts, ended_holds, holds, order_items, orders, payments, products};
use super::{Db, StoreError};
use crate::domain::cart_line::EndedHold;
use crate::domain::checkout::{CheckoutError, OrderLine, Plan, check_limits};
use crate::domain::hold::Hold;
use crate::domain::order::OrderState;
use crate::domain::{AccountId, ItemId, ProductId};
use crate::with_conn;

/// An item's new `(item_id, count, version)` after a move.
pub type Count = (ItemId, i32, i64);

pub enum HoldOutcome {
    Held {
        hold: Hold,
        count: Count,
    },
    /// No pair left.
    SoldOut,
    /// This shopper already holds this pair.
    Duplicate,
    /// The limit per customer (or its need of an account) said no.
    Refused(CheckoutError),
}

enum TxError {
    SoldOut,
    Duplicate,
    Refused(CheckoutError),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> TxError {
        TxError::Db(e)
    }
}

/// The pairs of a limited product an account has: paid or shipped orders, and pairs held now,
/// also those of an order waiting for payment (its holds end when it is paid, so nothing counts
/// twice; left out, a shopper could hold more pairs behind an order being paid).
#[macro_export]
macro_rules! pairs_of_account {
    ($c:expr, $account:expr, $products:expr) => {{
        use $crate::store::schema::{holds, items, order_items, orders};
        let (account, limited): (i32, &[i32]) = ($account, $products);
        let sold: Vec<(i32, i64)> = order_items::table
            .inner_join(orders::table)
            .inner_join(items::table)
            .filter(orders::account_id.eq(account))
            .filter(orders::state.eq_any(["paid", "fulfilled"]))
            .filter(items::product_id.eq_any(limited))
            .group_by(items::product_id)
            .select((items::product_id, diesel::dsl::count_star()))
            .load($c)
            .await?;
        let held: Vec<(i32, i64)> = holds::table
            .inner_join(items::table)
            .filter(holds::account_id.eq(account))
            .filter(items::product_id.eq_any(limited))
            .group_by(items::product_id)
            .select((items::product_id, diesel::dsl::count_star()))
            .load($c)
            .await?;
        $crate::store::accounts::to_ordered(sold.into_iter().chain(held).fold(
            Vec::<(i32, i64)>::new(),
            |mut all, (product, n)| {
                match all.iter_mut().find(|(p, _)| *p == product) {
                    Some(entry) => entry.1 += n,
                    None => all.push((product, n)),
                }
                all
            },
        ))
    }};
}

/// Holds one pair of `item_id` for `holder` until `hold.expires_at_ms`.
/// A lined product's pair is held only for a holder let in from the line at or after
/// `admitted_since`, judged here as checkout judges it.
pub async fn hold(
    db: &Db,
    holder: &str,
    account: Option<AccountId>,
    product_id: ProductId,
    hold: Hold,
    admitted_since: chrono::NaiveDateTime,
) -> Result<HoldOutcome, StoreError> {
    let mut conn = db.get().await?;
    let item_id = hold.item_id;
    let result = with_conn!(conn, |c| {
        c.transaction::<_, TxError, _>(async |c| {
            if let Some(lined) = not_admitted!(c, holder, &[product_id.0], admitted_since) {
                return Err(TxError::Refused(CheckoutError::NotAdmitted(lined)));
            }
            let max: Option<Option<i32>> = products::table
                .filter(products::id.eq(product_id.0))
                .select(products::max_per_customer)
                .first(c)
                .await
                .optional()?;
            if let Some(max) = max.flatten().and_then(|m| u32::try_from(m).ok()) {
                let Some(account) = account else {
                    return Err(TxError::Refused(CheckoutError::SignInRequired));
                };
                // Locks the account until commit: two tabs or nodes of one account count
                // each other's pairs.
                // An account that has not verified its email is no customer of a limited
                // drop yet.
                let verified = diesel::update(
                    accounts::table
                        .filter(accounts::id.eq(account.0))
                        .filter(accounts::verified_ms.is_not_null()),
                )
                .set(accounts::updated_at.eq(super::accounts::now()))
                .execute(c)
                .await?;
                if verified == 0 {
                    return Err(TxError::Refused(CheckoutError::VerificationRequired));
                }
                let has = pairs_of_account!(c, account.0, &[product_id.0]);
                let one = Plan {
                    lines: vec![OrderLine {
                        item_id,
                        product_id,
                        price_cents: hold.price_cents,
                    }],
                    total_cents: hold.price_cents,
                };
                check_limits(&one, &[(product_id, max)], Some(&has)).map_err(TxError::Refused)?;
            }
            let inserted = diesel::insert_into(holds::table)
                .values((
                    holds::item_id.eq(item_id.0),
                    holds::holder.eq(holder),
                    holds::account_id.eq(account.map(|a| a.0)),
                    holds::price_cents.eq(hold.price_cents),
                    holds::expires_at_ms.eq(hold.expires_at_ms),
                ))
                .on_conflict((holds::holder, holds::item_id))
                .do_nothing()
                .execute(c)
                .await?;
            if inserted == 0 {
                return Err(TxError::Duplicate);
            }
            // Held again: the warning of its earlier hold ending is over.
            diesel::delete(
                ended_holds::table
                    .filter(ended_holds::holder.eq(holder))
                    .filter(ended_holds::item_id.eq(item_id.0)),
            )
            .execute(c)
            .await?;
            // Last, as in a sale: the pair's row lock is held for one statement and the commit.
            match adjust_stock_query!(c, item_id, -1)? {
                Some((count, version)) => Ok((item_id, count, version)),
                None => Err(TxError::SoldOut),
            }
        })
        .await
    });
    match result {
        Ok(count) => Ok(HoldOutcome::Held { hold, count }),
        Err(TxError::SoldOut) => Ok(HoldOutcome::SoldOut),
        Err(TxError::Duplicate) => Ok(HoldOutcome::Duplicate),
        Err(TxError::Refused(why)) => Ok(HoldOutcome::Refused(why)),
        Err(TxError::Db(e)) => Err(e.into()),
    }
}

/// A hold the shopper gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    pub count: Count,
    /// The order waiting for payment it was in, cancelled (see [`release`]).
    pub cancelled: Option<i32>,
}

/// Ends `holder`'s hold of `item_id` and puts the pair back; `None` when there was no such
/// hold, or it is being paid for (a payment in flight). A hold in an order waiting for payment
/// with none in flight (a declined card) cancels that order: the cart changed, so the order
/// can no longer be paid as it was, and its other holds are free for the next checkout.
pub async fn release(
    db: &Db,
    holder: &str,
    item_id: ItemId,
) -> Result<Option<Released>, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        c.transaction::<_, diesel::result::Error, _>(async |c| {
            let row: Option<(i32, Option<i32>)> = holds::table
                .filter(holds::holder.eq(holder))
                .filter(holds::item_id.eq(item_id.0))
                .select((holds::id, holds::order_id))
                .first(c)
                .await
                .optional()?;
            let Some((hold_id, order)) = row else {
                return Ok(None);
            };
            let mut cancelled = None;
            if let Some(order_id) = order {
                let in_flight: i64 = payments::table
                    .filter(payments::order_id.eq(order_id))
                    .filter(payments::status.eq("created"))
                    .count()
                    .get_result(c)
                    .await?;
                if in_flight > 0 {
                    return Ok(None);
                }
                let moved = diesel::update(
                    orders::table
                        .filter(orders::id.eq(order_id))
                        .filter(orders::state.eq(OrderState::PendingPayment.as_str())),
                )
                .set(orders::state.eq(OrderState::Cancelled.as_str()))
                .execute(c)
                .await?;
                if moved == 1 {
                    diesel::update(holds::table.filter(holds::order_id.eq(order_id)))
                        .set(holds::order_id.eq(None::<i32>))
                        .execute(c)
                        .await?;
                    crate::record_event!(
                        c,
                        order_id,
                        OrderState::Cancelled,
                        None,
                        Some("the cart changed before payment")
                    );
                    cancelled = Some(order_id);
                }
            }
            let deleted = diesel::delete(holds::table.filter(holds::id.eq(hold_id)))
                .execute(c)
                .await?;
            if deleted == 0 {
                return Ok(None);
            }
            Ok(
                adjust_stock_query!(c, item_id, 1)?.map(|(count, version)| Released {
                    count: (item_id, count, version),
                    cancelled,
                }),
            )
        })
        .await?
    }))
}

/// Gives `from`'s holds to `to` (a guest signing in: the pairs it holds join the account's
/// cart); a pair `to` holds already goes back to stock. A guest never holds a limited pair
/// (those need an account), so no limit is crossed. Returns the counts that moved.
pub async fn transfer(
    db: &Db,
    from: &str,
    to: &str,
    account: AccountId,
) -> Result<Vec<Count>, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        c.transaction::<_, diesel::result::Error, _>(async |c| {
            let theirs: Vec<i32> = holds::table
                .filter(holds::holder.eq(to))
                .select(holds::item_id)
                .load(c)
                .await?;
            let mut doubles: Vec<i32> = diesel::delete(
                holds::table
                    .filter(holds::holder.eq(from))
                    .filter(holds::order_id.is_null())
                    .filter(holds::item_id.eq_any(&theirs)),
            )
            .returning(holds::item_id)
            .get_results(c)
            .await?;
            diesel::update(
                holds::table
                    .filter(holds::holder.eq(from))
                    .filter(holds::order_id.is_null()),
            )
            .set((holds::holder.eq(to), holds::account_id.eq(account.0)))
            .execute(c)
            .await?;
            // The guest's ended lines come along, but for pairs the account holds or already
            // shows as ended.
            let mut shown: Vec<i32> = holds::table
                .filter(holds::holder.eq(to))
                .select(holds::item_id)
                .load(c)
                .await?;
            shown.extend(
                ended_holds::table
                    .filter(ended_holds::holder.eq(to))
                    .select(ended_holds::item_id)
                    .load::<i32>(c)
                    .await?,
            );
            diesel::delete(
                ended_holds::table
                    .filter(ended_holds::holder.eq(from))
                    .filter(ended_holds::item_id.eq_any(&shown)),
            )
            .execute(c)
            .await?;
            diesel::update(ended_holds::table.filter(ended_holds::holder.eq(from)))
                .set(ended_holds::holder.eq(to))
                .execute(c)
                .await?;
            doubles.sort_unstable();
            let mut counts = Vec::new();
            for item in doubles {
                if let Some((count, version)) = adjust_stock_query!(c, ItemId(item), 1)? {
                    counts.push((ItemId(item), count, version));
                }
            }
            Ok(counts)
        })
        .await?
    }))
}

/// An order cancelled because its holds ended: its cart, and its payment to let go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    pub order_id: i32,
    pub holder: String,
    pub payment_ref: Option<String>,
}

/// What a sweep ended.
#[derive(Debug, Default)]
pub struct Swept {
    pub counts: Vec<Count>,
    /// Orders waiting for payment whose holds ended: cancelled, with their payment references.
    pub cancelled: Vec<Cancelled>,
    /// The holders whose carts changed.
    pub holders: Vec<String>,
}

/// The earliest expiry of any hold, to know when the next sweep is due.
pub async fn next_expiry(db: &Db) -> Result<Option<i64>, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        holds::table
            .select(diesel::dsl::min(holds::expires_at_ms))
            .first::<Option<i64>>(c)
            .await?
    }))
}

/// Ends every hold due at `now_ms`: each pair goes back, and an order waiting for payment on a
/// hold that ended is cancelled (with all its holds: it can no longer be paid whole). Any node
/// may sweep; the delete decides who returns a pair.
pub async fn sweep(db: &Db, now_ms: i64) -> Result<Swept, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        c.transaction::<_, diesel::result::Error, _>(async |c| {
            let due: Vec<(i32, Option<i32>)> = holds::table
                .filter(holds::expires_at_ms.le(now_ms))
                .select((holds::id, holds::order_id))
                .load(c)
                .await?;
            if due.is_empty() {
                return Ok(Swept::default());
            }
            let mut order_ids: Vec<i32> = due.iter().filter_map(|(_, o)| *o).collect();
            order_ids.sort_unstable();
            order_ids.dedup();
            let due_ids: Vec<i32> = due.iter().map(|(id, _)| *id).collect();
            let ended: Vec<(i32, String, i32)> = diesel::delete(
                holds::table.filter(
                    holds::id
                        .eq_any(&due_ids)
                        .or(holds::order_id.eq_any(&order_ids)),
                ),
            )
            .returning((holds::item_id, holds::holder, holds::price_cents))
            .get_results(c)
            .await?;
            // Each cart keeps its ended lines as warnings for a day at most.
            diesel::delete(
                ended_holds::table.filter(ended_holds::ended_at_ms.lt(now_ms - ENDED_KEPT_MS)),
            )
            .execute(c)
            .await?;
            for (item, holder, price_cents) in &ended {
                diesel::insert_into(ended_holds::table)
                    .values((
                        ended_holds::holder.eq(holder),
                        ended_holds::item_id.eq(item),
                        ended_holds::price_cents.eq(price_cents),
                        ended_holds::ended_at_ms.eq(now_ms),
                    ))
                    .on_conflict((ended_holds::holder, ended_holds::item_id))
                    .do_nothing()
                    .execute(c)
                    .await?;
            }
            let mut swept = Swept::default();
            let mut per_item: Vec<(i32, i32)> = Vec::new();
            for (item, holder, _) in ended {
                match per_item.iter_mut().find(|(i, _)| *i == item) {
                    Some(entry) => entry.1 += 1,
                    None => per_item.push((item, 1)),
                }
                if !swept.holders.contains(&holder) {
                    swept.holders.push(holder);
                }
            }
            per_item.sort_unstable();
            for (item, n) in per_item {
                if let Some((count, version)) = adjust_stock_query!(c, ItemId(item), n)? {
                    swept.counts.push((ItemId(item), count, version));
                }
            }
            let cancelled: Vec<(i32, String, Option<String>)> = diesel::update(
                orders::table
                    .filter(orders::id.eq_any(&order_ids))
                    .filter(orders::state.eq(OrderState::PendingPayment.as_str())),
            )
            .set(orders::state.eq(OrderState::Cancelled.as_str()))
            .returning((orders::id, orders::cart_id, orders::payment_ref))
            .get_results(c)
            .await?;
            for (order_id, _, _) in &cancelled {
                let order_id = *order_id;
                crate::record_event!(
                    c,
                    order_id,
                    OrderState::Cancelled,
                    None,
                    Some("the hold ended unpaid")
                );
            }
            swept.cancelled = cancelled
                .into_iter()
                .map(|(order_id, holder, payment_ref)| Cancelled {
                    order_id,
                    holder,
                    payment_ref,
                })
                .collect();
            Ok(swept)
        })
        .await?
    }))
}

/// How long a cart shows a hold that ended unpaid.
const ENDED_KEPT_MS: i64 = 24 * 3600 * 1000;

/// The pairs whose holds ended unpaid while in `holder`'s cart, in the order they ended.
pub async fn ended_of(db: &Db, holder: &str) -> Result<Vec<EndedHold>, StoreError> {
    let mut conn = db.get().await?;
    let rows: Vec<(i32, i32)> = with_conn!(conn, |c| {
        ended_holds::table
            .filter(ended_holds::holder.eq(holder))
            .order((ended_holds::ended_at_ms, ended_holds::item_id))
            .select((ended_holds::item_id, ended_holds::price_cents))
            .load(c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(item, price_cents)| EndedHold {
            item_id: ItemId(item),
            price_cents,
        })
        .collect())
}

/// The shopper took an ended line out of the cart; `false` when there was none.
pub async fn forget_ended(db: &Db, holder: &str, item_id: ItemId) -> Result<bool, StoreError> {
    let mut conn = db.get().await?;
    let deleted = with_conn!(conn, |c| {
        diesel::delete(
            ended_holds::table
                .filter(ended_holds::holder.eq(holder))
                .filter(ended_holds::item_id.eq(item_id.0)),
        )
        .execute(c)
        .await?
    });
    Ok(deleted > 0)
}

/// A holder's holds, oldest first.
pub async fn of_holder(db: &Db, holder: &str) -> Result<Vec<Hold>, StoreError> {
    let mut conn = db.get().await?;
    let rows: Vec<(i32, i32, i64, bool)> = with_conn!(conn, |c| {
        holds::table
            .filter(holds::holder.eq(holder))
            .order(holds::id)
            .select((
                holds::item_id,
                holds::price_cents,
                holds::expires_at_ms,
                holds::extended,
            ))
            .load(c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(item, price_cents, expires_at_ms, extended)| Hold {
            item_id: ItemId(item),
            price_cents,
            expires_at_ms,
            extended,
        })
        .collect())
}

/// Pairs held now, per item.
pub async fn held_counts(db: &Db) -> Result<Vec<(ItemId, i64)>, StoreError> {
    let mut conn = db.get().await?;
    let rows: Vec<(i32, i64)> = with_conn!(conn, |c| {
        holds::table
            .group_by(holds::item_id)
            .select((holds::item_id, diesel::dsl::count_star()))
            .load(c)
            .await?
    });
    Ok(rows.into_iter().map(|(i, n)| (ItemId(i), n)).collect())
}

/// Pairs sold for good (in paid or shipped orders) of one item.
pub async fn sold_count(db: &Db, item_id: ItemId) -> Result<i64, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        order_items::table
            .inner_join(orders::table)
            .filter(order_items::item_id.eq(item_id.0))
            .filter(orders::state.eq_any(["paid", "fulfilled"]))
            .count()
            .get_result::<i64>(c)
            .await?
    }))
}
