//! Checkout and payment in the database: an order made from a shopper's holds, its payment
//! attempts, and settling what the provider said, exactly once. Every change of an order's
//! state is a guarded update (`WHERE state = <the state it leaves>`) with its row in
//! `order_events`, in one transaction, so whichever of the browser's return, a webhook or the
//! reconcile pass arrives second finds the order settled and does nothing.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::catalog::adjust_stock_query;
use super::holds::Count;
use super::lines::not_admitted;
use super::schema::{accounts, holds, items, order_items, orders, payments, products};
use super::{Db, StoreError};
use crate::domain::address::Address;
use crate::domain::hold::{RETRY_WINDOW_MS, checkout_expiry};
use crate::domain::order::{Change, OnSuccess, OrderState, on_payment_succeeded};
use crate::domain::{AccountId, ItemId, ProductId};
use crate::record_event;
use crate::with_conn;

/// Who starts a checkout, and where the order goes.
pub struct Begin<'a> {
    pub holder: &'a str,
    pub account: Option<AccountId>,
    pub email: &'a str,
    pub address: &'a Address,
    pub node: &'a str,
    pub now_ms: i64,
    pub hold_ms: i64,
    /// Whoever was let in from a drop's line at or after this may still buy it.
    pub admitted_since: chrono::NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// An order waiting for payment: new, or the one already started for these holds (a
    /// refresh, a double click).
    Order {
        order_id: i32,
        total_cents: i32,
        /// When its first hold ends.
        expires_at_ms: i64,
    },
    /// Nothing held.
    Empty,
    /// This shopper was not let in from this product's line, or the admission window is over:
    /// nothing was ordered.
    NotAdmitted { product_id: ProductId },
    /// The account's pairs of this product (bought and held) are past its limit per
    /// customer, which was lowered since they were held: nothing was ordered.
    LimitReached { product_id: ProductId },
    /// The total does not fit an order.
    TooLarge,
}

enum TxError {
    TooLarge,
    /// Another checkout of the same holds (a second browser, a double click on two nodes)
    /// took one of them first: this one rolls back and finds that order.
    Raced,
    Limit(i32),
    NotAdmitted(ProductId),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> TxError {
        TxError::Db(e)
    }
}

/// The order's email and address, and the account's address for next time.
macro_rules! set_shipping {
    ($c:expr, $order_id:expr, $begin:expr) => {{
        let (order_id, begin): (i32, &Begin<'_>) = ($order_id, $begin);
        let a = begin.address;
        diesel::update(orders::table.filter(orders::id.eq(order_id)))
            .set((
                orders::email.eq(begin.email),
                orders::ship_name.eq(&a.name),
                orders::ship_line1.eq(&a.line1),
                orders::ship_line2.eq(&a.line2),
                orders::ship_city.eq(&a.city),
                orders::ship_postal_code.eq(&a.postal_code),
                orders::ship_country.eq(&a.country),
            ))
            .execute($c)
            .await?;
        if let Some(account) = begin.account {
            diesel::update(accounts::table.filter(accounts::id.eq(account.0)))
                .set((
                    accounts::ship_name.eq(&a.name),
                    accounts::ship_line1.eq(&a.line1),
                    accounts::ship_line2.eq(&a.line2),
                    accounts::ship_city.eq(&a.city),
                    accounts::ship_postal_code.eq(&a.postal_code),
                    accounts::ship_country.eq(&a.country),
                ))
                .execute($c)
                .await?;
        }
    }};
}

/// Starts (or finds) the order paying for `holder`'s holds: its lines at the prices of now
/// (what the checkout page shows), each hold extended once. Two checkouts of the same holds at
/// once make one order: the later one finds the first's.
pub async fn begin(db: &Db, begin: &Begin<'_>) -> Result<Begun, StoreError> {
    let mut tries = 0;
    loop {
        match begin_once(db, begin).await {
            Err(Raced) if tries < 3 => tries += 1,
            Err(Raced) => return Ok(Begun::Empty),
            Ok(outcome) => return outcome,
        }
    }
}

/// [`begin`] lost a race for a hold.
struct Raced;

async fn begin_once(db: &Db, begin: &Begin<'_>) -> Result<Result<Begun, StoreError>, Raced> {
    let mut conn = match db.get().await {
        Ok(conn) => conn,
        Err(error) => return Ok(Err(error)),
    };
    let result = with_conn!(conn, |c| {
        c.transaction::<_, TxError, _>(async |c| {
            let now = begin.now_ms;
            let pending: Option<i32> = orders::table
                .filter(orders::cart_id.eq(begin.holder))
                .filter(orders::state.eq(OrderState::PendingPayment.as_str()))
                .order(orders::id.desc())
                .select(orders::id)
                .first(c)
                .await
                .optional()?;
            let free: i64 = holds::table
                .filter(holds::holder.eq(begin.holder))
                .filter(holds::order_id.is_null())
                .filter(holds::expires_at_ms.gt(now))
                .count()
                .get_result(c)
                .await?;
            if let Some(order_id) = pending {
                let in_flight: i64 = payments::table
                    .filter(payments::order_id.eq(order_id))
                    .filter(payments::status.eq("created"))
                    .count()
                    .get_result(c)
                    .await?;
                if free == 0 || in_flight > 0 {
                    set_shipping!(c, order_id, begin);
                    let (total, expires): (i32, Option<i64>) = (
                        orders::table
                            .filter(orders::id.eq(order_id))
                            .select(orders::total_cents)
                            .first(c)
                            .await?,
                        holds::table
                            .filter(holds::order_id.eq(order_id))
                            .select(diesel::dsl::min(holds::expires_at_ms))
                            .first(c)
                            .await?,
                    );
                    return Ok(Begun::Order {
                        order_id,
                        total_cents: total,
                        expires_at_ms: expires.unwrap_or(now),
                    });
                }
                // The cart changed since: that order gives its holds to a new one (unless a
                // payment settled it meanwhile: then it keeps what it paid for).
                let cancelled = diesel::update(
                    orders::table
                        .filter(orders::id.eq(order_id))
                        .filter(orders::state.eq(OrderState::PendingPayment.as_str())),
                )
                .set(orders::state.eq(OrderState::Cancelled.as_str()))
                .execute(c)
                .await?;
                if cancelled == 1 {
                    diesel::update(holds::table.filter(holds::order_id.eq(order_id)))
                        .set(holds::order_id.eq(None::<i32>))
                        .execute(c)
                        .await?;
                    record_event!(
                        c,
                        order_id,
                        OrderState::Cancelled,
                        None,
                        Some("the cart changed before payment")
                    );
                }
            } else if free == 0 {
                return Ok(Begun::Empty);
            }
            let held: Vec<(i32, i32, i64, bool, i32)> = holds::table
                .inner_join(items::table.inner_join(products::table))
                .filter(holds::holder.eq(begin.holder))
                .filter(holds::order_id.is_null())
                .filter(holds::expires_at_ms.gt(now))
                .order(holds::item_id)
                .select((
                    holds::id,
                    holds::item_id,
                    holds::expires_at_ms,
                    holds::extended,
                    products::price_cents,
                ))
                .load(c)
                .await?;
            if held.is_empty() {
                // Counted free above, taken by a checkout that committed since (PostgreSQL
                // reads each statement afresh): an order of nothing would be no order. Again,
                // to find that checkout's order.
                return Err(TxError::Raced);
            }
            // The line again, in this transaction: the admission window may be over.
            let lined: Vec<i32> = holds::table
                .inner_join(items::table)
                .filter(holds::holder.eq(begin.holder))
                .filter(holds::order_id.is_null())
                .select(items::product_id)
                .distinct()
                .load(c)
                .await?;
            if let Some(product) = not_admitted!(c, begin.holder, &lined, begin.admitted_since) {
                return Err(TxError::NotAdmitted(product));
            }
            // The limit per customer again, in this transaction: it may have been lowered
            // since the pairs were held. What the account bought and holds must fit it.
            let limits: Vec<(i32, Option<i32>)> = holds::table
                .inner_join(items::table.inner_join(products::table))
                .filter(holds::holder.eq(begin.holder))
                .filter(holds::order_id.is_null())
                .filter(products::max_per_customer.is_not_null())
                .select((products::id, products::max_per_customer))
                .distinct()
                .load(c)
                .await?;
            if let ([(product, _), ..], None) = (limits.as_slice(), begin.account) {
                return Err(TxError::Limit(*product));
            }
            if let (Some(account), false) = (begin.account, limits.is_empty()) {
                let ids: Vec<i32> = limits.iter().map(|(p, _)| *p).collect();
                let has = crate::pairs_of_account!(c, account.0, &ids);
                for (product, max) in &limits {
                    let max = max.and_then(|m| u32::try_from(m).ok()).unwrap_or(0);
                    let pairs = has.get(&ProductId(*product)).copied().unwrap_or(0);
                    if pairs > max {
                        return Err(TxError::Limit(*product));
                    }
                }
            }
            let total: i64 = held.iter().map(|h| i64::from(h.4)).sum();
            let total = i32::try_from(total).map_err(|_| TxError::TooLarge)?;
            let order_id: i32 = diesel::insert_into(orders::table)
                .values((
                    orders::cart_id.eq(begin.holder),
                    orders::total_cents.eq(total),
                    orders::account_id.eq(begin.account.map(|a| a.0)),
                    orders::node.eq(begin.node),
                    orders::state.eq(OrderState::PendingPayment.as_str()),
                ))
                .returning(orders::id)
                .get_result(c)
                .await?;
            set_shipping!(c, order_id, begin);
            record_event!(c, order_id, OrderState::PendingPayment, None, None);
            let mut first_expiry = i64::MAX;
            for &(hold_id, item_id, expires_at_ms, extended, price) in &held {
                diesel::insert_into(order_items::table)
                    .values((
                        order_items::order_id.eq(order_id),
                        order_items::item_id.eq(item_id),
                        order_items::price_cents.eq(price),
                    ))
                    .execute(c)
                    .await?;
                let expires = checkout_expiry(expires_at_ms, extended, now, begin.hold_ms);
                first_expiry = first_expiry.min(expires);
                // Guarded: a concurrent checkout of the same holds waits for this row and,
                // once this one commits, finds it taken.
                let taken = diesel::update(
                    holds::table
                        .filter(holds::id.eq(hold_id))
                        .filter(holds::order_id.is_null()),
                )
                .set((
                    holds::order_id.eq(order_id),
                    holds::price_cents.eq(price),
                    holds::expires_at_ms.eq(expires),
                    holds::extended.eq(true),
                ))
                .execute(c)
                .await?;
                if taken == 0 {
                    return Err(TxError::Raced);
                }
            }
            Ok(Begun::Order {
                order_id,
                total_cents: total,
                expires_at_ms: first_expiry,
            })
        })
        .await
    });
    match result {
        Ok(begun) => Ok(Ok(begun)),
        Err(TxError::TooLarge) => Ok(Ok(Begun::TooLarge)),
        Err(TxError::Raced) => Err(Raced),
        Err(TxError::NotAdmitted(product_id)) => Ok(Ok(Begun::NotAdmitted { product_id })),
        Err(TxError::Limit(product)) => Ok(Ok(Begun::LimitReached {
            product_id: ProductId(product),
        })),
        Err(TxError::Db(e)) => Ok(Err(e.into())),
    }
}

/// Placeholder reference of an attempt claimed but not yet created at the provider.
pub const UNCREATED: &str = "uncreated:";

/// Claims attempt `idempotency_key` of an order before anything is asked of the provider, so
/// that two submissions at once (a double click, two nodes) make one payment whatever the
/// provider does with idempotency keys. `false`: someone else holds this attempt.
pub async fn claim_attempt(
    db: &Db,
    order_id: i32,
    provider: &str,
    idempotency_key: &str,
    amount_cents: i32,
) -> Result<bool, StoreError> {
    let mut conn = db.get().await?;
    let inserted = with_conn!(conn, |c| {
        diesel::insert_into(payments::table)
            .values((
                payments::order_id.eq(order_id),
                payments::provider.eq(provider),
                payments::reference.eq(format!("{UNCREATED}{idempotency_key}")),
                payments::idempotency_key.eq(idempotency_key),
                payments::amount_cents.eq(amount_cents),
                payments::status.eq("created"),
            ))
            .on_conflict_do_nothing()
            .execute(c)
            .await?
    });
    Ok(inserted == 1)
}

/// Records a payment attempt of an order before it is confirmed, so that whatever happens
/// next (a crash included) the reconcile pass finds it: the claimed attempt takes the
/// provider's reference (or a new row is written for it).
pub async fn record_attempt(
    db: &Db,
    order_id: i32,
    provider: &str,
    reference: &str,
    idempotency_key: &str,
    amount_cents: i32,
) -> Result<(), StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        c.transaction::<_, diesel::result::Error, _>(async |c| {
            let claimed = diesel::update(
                payments::table.filter(payments::idempotency_key.eq(idempotency_key)),
            )
            .set((
                payments::reference.eq(reference),
                payments::updated_at.eq(Utc::now().naive_utc()),
            ))
            .execute(c)
            .await?;
            if claimed == 0 {
                diesel::insert_into(payments::table)
                    .values((
                        payments::order_id.eq(order_id),
                        payments::provider.eq(provider),
                        payments::reference.eq(reference),
                        payments::idempotency_key.eq(idempotency_key),
                        payments::amount_cents.eq(amount_cents),
                        payments::status.eq("created"),
                    ))
                    .on_conflict_do_nothing()
                    .execute(c)
                    .await?;
            }
            diesel::update(orders::table.filter(orders::id.eq(order_id)))
                .set(orders::payment_ref.eq(reference))
                .execute(c)
                .await?;
            Ok(())
        })
        .await
    })?;
    Ok(())
}

/// Attempts an order has had (the next one's number comes from it).
pub async fn attempts(db: &Db, order_id: i32) -> Result<i64, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        payments::table
            .filter(payments::order_id.eq(order_id))
            .count()
            .get_result(c)
            .await?
    }))
}

/// A payment attempt as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Attempt {
    pub order_id: i32,
    pub reference: String,
    pub idempotency_key: String,
    pub amount_cents: i32,
    pub status: String,
}

impl Attempt {
    /// Claimed, but the provider has not answered its creation (yet, or ever).
    pub fn uncreated(&self) -> bool {
        self.reference.starts_with(UNCREATED)
    }
}

pub async fn attempt(db: &Db, reference: &str) -> Result<Option<Attempt>, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        payments::table
            .filter(payments::reference.eq(reference))
            .select((
                payments::order_id,
                payments::reference,
                payments::idempotency_key,
                payments::amount_cents,
                payments::status,
            ))
            .first(c)
            .await
            .optional()?
    }))
}

/// The latest attempt of an order.
pub async fn latest_attempt(db: &Db, order_id: i32) -> Result<Option<Attempt>, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        payments::table
            .filter(payments::order_id.eq(order_id))
            .order(payments::id.desc())
            .select((
                payments::order_id,
                payments::reference,
                payments::idempotency_key,
                payments::amount_cents,
                payments::status,
            ))
            .first(c)
            .await
            .optional()?
    }))
}

/// Attempts the reconcile pass asks the provider about: not settled yet, or succeeded for an
/// order that was cancelled meanwhile and not refunded.
pub async fn unsettled(db: &Db) -> Result<Vec<Attempt>, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        payments::table
            .inner_join(orders::table)
            .filter(payments::reference.not_like(format!("{UNCREATED}%")))
            .filter(
                payments::status.eq("created").or(payments::status
                    .eq("succeeded")
                    .and(payments::refund_ref.is_null())
                    .and(orders::state.eq(OrderState::Cancelled.as_str()))),
            )
            .order(payments::id)
            .select((
                payments::order_id,
                payments::reference,
                payments::idempotency_key,
                payments::amount_cents,
                payments::status,
            ))
            .load(c)
            .await?
    }))
}

/// A declined attempt: the order's holds keep the pairs for a retry a short while.
pub async fn declined(db: &Db, reference: &str, code: &str, now_ms: i64) -> Result<(), StoreError> {
    let mut conn = db.get().await?;
    let retry_until = now_ms.saturating_add(RETRY_WINDOW_MS);
    with_conn!(conn, |c| {
        c.transaction::<_, diesel::result::Error, _>(async |c| {
            let order: Option<i32> = diesel::update(
                payments::table
                    .filter(payments::reference.eq(reference))
                    .filter(payments::status.eq("created")),
            )
            .set((
                payments::status.eq("declined"),
                payments::decline_code.eq(code),
                payments::updated_at.eq(Utc::now().naive_utc()),
            ))
            .returning(payments::order_id)
            .get_result(c)
            .await
            .optional()?;
            if let Some(order_id) = order {
                diesel::update(
                    holds::table
                        .filter(holds::order_id.eq(order_id))
                        .filter(holds::expires_at_ms.gt(retry_until)),
                )
                .set(holds::expires_at_ms.eq(retry_until))
                .execute(c)
                .await?;
            }
            Ok(())
        })
        .await
    })?;
    Ok(())
}

/// Sets an attempt's status when nothing else follows from it (canceled, still pending).
pub async fn set_status(db: &Db, reference: &str, status: &str) -> Result<(), StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        diesel::update(payments::table.filter(payments::reference.eq(reference)))
            .set((
                payments::status.eq(status),
                payments::updated_at.eq(Utc::now().naive_utc()),
            ))
            .execute(c)
            .await?
    });
    Ok(())
}

/// What a succeeded payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The order is paid now: its holds became sold pairs. `holder` is the order's cart.
    Paid { order_id: i32, holder: String },
    /// It was already settled (a second word of the same success).
    Already { order_id: i32 },
    /// Its holds ended first (its pairs went back on sale): the money must go back.
    MustRefund { order_id: i32, amount_cents: i32 },
    /// No order has this payment, or the amount is not the order's.
    Unknown,
}

/// The provider says `reference` succeeded for `amount_cents`: settle its order exactly once.
pub async fn settle_success(
    db: &Db,
    reference: &str,
    amount_cents: i32,
) -> Result<Settled, StoreError> {
    let Some(attempt) = attempt(db, reference).await? else {
        return Ok(Settled::Unknown);
    };
    if attempt.amount_cents != amount_cents {
        tracing::error!(
            reference,
            expected = attempt.amount_cents,
            got = amount_cents,
            "a payment of another amount than its order's: not settled"
        );
        return Ok(Settled::Unknown);
    }
    let order_id = attempt.order_id;
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        c.transaction::<_, diesel::result::Error, _>(async |c| {
            diesel::update(payments::table.filter(payments::reference.eq(reference)))
                .set((
                    payments::status.eq("succeeded"),
                    payments::updated_at.eq(Utc::now().naive_utc()),
                ))
                .execute(c)
                .await?;
            // The held pairs are sold for good: their holds end without going back to stock.
            // Holds first, as a sweep takes its locks, so the two never wait on each other;
            // only a pending order has holds, so this ends nothing of a settled one.
            diesel::delete(holds::table.filter(holds::order_id.eq(order_id)))
                .execute(c)
                .await?;
            let paid = OrderState::PendingPayment
                .after(Change::Pay)
                .expect("a pending order may be paid");
            // Whoever moves the row decides: a second word of the same success (or a sweep
            // that cancelled it first) finds it moved and reads what it became.
            let holder: Option<String> = diesel::update(
                orders::table
                    .filter(orders::id.eq(order_id))
                    .filter(orders::state.eq(OrderState::PendingPayment.as_str())),
            )
            .set((
                orders::state.eq(paid.as_str()),
                orders::payment_ref.eq(reference),
            ))
            .returning(orders::cart_id)
            .get_result(c)
            .await
            .optional()?;
            let Some(holder) = holder else {
                let state: String = orders::table
                    .filter(orders::id.eq(order_id))
                    .select(orders::state)
                    .first(c)
                    .await?;
                return Ok(
                    match on_payment_succeeded(super::orders::parse_state(&state)) {
                        OnSuccess::Refund => Settled::MustRefund {
                            order_id,
                            amount_cents,
                        },
                        OnSuccess::Settled | OnSuccess::MarkPaid => Settled::Already { order_id },
                    },
                );
            };
            record_event!(c, order_id, paid, None, None);
            Ok(Settled::Paid { order_id, holder })
        })
        .await?
    }))
}

/// Records a refund made at the provider: the order is refunded (from `from`), with who did it;
/// with `restock` its pairs go back to stock. `None` when the order was not in `from` (someone
/// else settled it first).
pub async fn refunded(
    db: &Db,
    order_id: i32,
    reference: &str,
    refund_ref: &str,
    actor: Option<&str>,
    note: &str,
    restock: bool,
) -> Result<Option<Vec<Count>>, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        c.transaction::<_, diesel::result::Error, _>(async |c| {
            diesel::update(payments::table.filter(payments::reference.eq(reference)))
                .set(payments::refund_ref.eq(refund_ref))
                .execute(c)
                .await?;
            let from: Vec<&str> = [
                OrderState::Paid,
                OrderState::Fulfilled,
                OrderState::Cancelled,
            ]
            .iter()
            .map(|s| s.as_str())
            .collect();
            let was: Option<String> = orders::table
                .filter(orders::id.eq(order_id))
                .select(orders::state)
                .first(c)
                .await
                .optional()?;
            let Some(was) = was.filter(|w| from.contains(&w.as_str())) else {
                return Ok(None);
            };
            let moved = diesel::update(
                orders::table
                    .filter(orders::id.eq(order_id))
                    .filter(orders::state.eq(&was)),
            )
            .set(orders::state.eq(OrderState::Refunded.as_str()))
            .execute(c)
            .await?;
            if moved == 0 {
                // Another refund (or change) moved it between the read and the update.
                return Ok(None);
            }
            record_event!(c, order_id, OrderState::Refunded, actor, Some(note));
            let mut counts = Vec::new();
            // A cancelled order's pairs went back when its hold ended.
            if restock && was != OrderState::Cancelled.as_str() {
                let mut lines: Vec<i32> = order_items::table
                    .filter(order_items::order_id.eq(order_id))
                    .select(order_items::item_id)
                    .load(c)
                    .await?;
                lines.sort_unstable();
                for item in lines {
                    if let Some((count, version)) = adjust_stock_query!(c, ItemId(item), 1)? {
                        counts.push((ItemId(item), count, version));
                    }
                }
            }
            Ok(Some(counts))
        })
        .await?
    }))
}

/// An admin's change of an order that moves no money: fulfil (with a tracking number) or
/// cancel an unpaid order (its holds end and their pairs go back). `Err` is the state it was
/// in when the change is not allowed from there.
pub async fn change(
    db: &Db,
    order_id: i32,
    change: Change,
    actor: &str,
    note: Option<&str>,
) -> Result<Option<Result<Vec<Count>, OrderState>>, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        c.transaction::<_, diesel::result::Error, _>(async |c| {
            let was: Option<String> = orders::table
                .filter(orders::id.eq(order_id))
                .select(orders::state)
                .first(c)
                .await
                .optional()?;
            let Some(was) = was.and_then(|w| w.parse::<OrderState>().ok()) else {
                return Ok(None);
            };
            let Ok(next) = was.after(change) else {
                return Ok(Some(Err(was)));
            };
            let moved = diesel::update(
                orders::table
                    .filter(orders::id.eq(order_id))
                    .filter(orders::state.eq(was.as_str())),
            )
            .set(orders::state.eq(next.as_str()))
            .execute(c)
            .await?;
            if moved == 0 {
                // Someone else moved it first (a payment, a sweep, another admin): say where
                // it is now.
                let now: String = orders::table
                    .filter(orders::id.eq(order_id))
                    .select(orders::state)
                    .first(c)
                    .await?;
                return Ok(Some(Err(super::orders::parse_state(&now))));
            }
            if change == Change::Fulfil {
                diesel::update(orders::table.filter(orders::id.eq(order_id)))
                    .set(orders::tracking.eq(note))
                    .execute(c)
                    .await?;
            }
            record_event!(c, order_id, next, Some(actor), note);
            let mut counts = Vec::new();
            if change == Change::Cancel {
                let ended: Vec<i32> =
                    diesel::delete(holds::table.filter(holds::order_id.eq(order_id)))
                        .returning(holds::item_id)
                        .get_results(c)
                        .await?;
                let mut ended = ended;
                ended.sort_unstable();
                for item in ended {
                    if let Some((count, version)) = adjust_stock_query!(c, ItemId(item), 1)? {
                        counts.push((ItemId(item), count, version));
                    }
                }
            }
            Ok(Some(Ok(counts)))
        })
        .await?
    }))
}

/// The cart an order was placed from, and its state.
pub async fn order_head(
    db: &Db,
    order_id: i32,
) -> Result<Option<(String, OrderState, i32)>, StoreError> {
    let mut conn = db.get().await?;
    let row: Option<(String, String, i32)> = with_conn!(conn, |c| {
        orders::table
            .filter(orders::id.eq(order_id))
            .select((orders::cart_id, orders::state, orders::total_cents))
            .first(c)
            .await
            .optional()?
    });
    Ok(row.map(|(holder, state, total)| (holder, super::orders::parse_state(&state), total)))
}
