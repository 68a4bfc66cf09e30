//! Waiting lines in the database, so they survive restarts and every node sees one line.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::schema::{line_entries, line_starts, products};
use super::{Db, StoreError};
use crate::domain::ProductId;
use crate::domain::line::{admitted_by, paced_from};
use crate::with_conn;

/// A queued product and its entries, in line order: `(holder, admitted_at)`.
pub struct StoredLine {
    pub product_id: ProductId,
    pub per_minute: u32,
    pub released: bool,
    pub entries: Vec<(String, Option<DateTime<Utc>>)>,
}

/// The first of `products` with a waiting line that `holder` was not let in from at or after
/// `since` (the admission window's start), read inside the caller's transaction: adding a
/// lined pair and buying it are judged on the database, not on a node's view of the lines.
/// `(conn, holder, &[product ids], since) -> Option<ProductId>`.
#[macro_export]
macro_rules! not_admitted {
    ($c:expr, $holder:expr, $products:expr, $since:expr) => {{
        use $crate::store::schema::{line_entries, products};
        let (holder, wanted, since): (&str, &[i32], chrono::NaiveDateTime) =
            ($holder, $products, $since);
        let lined: Vec<i32> = products::table
            .filter(products::id.eq_any(wanted))
            .filter(products::queue_enabled.eq(true))
            .select(products::id)
            .load($c)
            .await?;
        if lined.is_empty() {
            None
        } else {
            let admitted: Vec<i32> = line_entries::table
                .filter(line_entries::holder.eq(holder))
                .filter(line_entries::product_id.eq_any(&lined))
                .filter(line_entries::admitted_at.ge(since))
                .select(line_entries::product_id)
                .load($c)
                .await?;
            lined
                .into_iter()
                .find(|p| !admitted.contains(p))
                .map($crate::domain::ProductId)
        }
    }};
}
pub use not_admitted;

/// Inside the caller's transaction, before a change that turns product `id`'s line on: if it
/// is off, its admission is paced from `now` (see [`admit`]). `(conn, id, now)`.
#[macro_export]
macro_rules! start_line_if_off {
    ($c:expr, $product_id:expr, $now:expr) => {{
        use $crate::store::schema::{line_starts, products};
        let (product_id, now): (i32, chrono::NaiveDateTime) = ($product_id, $now);
        let off: i64 = products::table
            .filter(products::id.eq(product_id))
            .filter(products::queue_enabled.eq(false))
            .count()
            .get_result($c)
            .await?;
        if off > 0 {
            diesel::insert_into(line_starts::table)
                .values((
                    line_starts::product_id.eq(product_id),
                    line_starts::started_at.eq(now),
                ))
                .on_conflict(line_starts::product_id)
                .do_update()
                .set(line_starts::started_at.eq(now))
                .execute($c)
                .await?;
        }
    }};
}
pub use start_line_if_off;

/// Joins the line (once per holder: joining again keeps the place). `false` when the product
/// has no line. Who joins before the drop gets `shuffle_key` for the draw; after it, arrival
/// order.
pub async fn join(
    db: &Db,
    product_id: ProductId,
    holder: &str,
    shuffle_key: &str,
) -> Result<bool, StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        let product: Option<(bool, bool)> = products::table
            .filter(products::id.eq(product_id.0))
            .select((products::queue_enabled, products::released))
            .first(c)
            .await
            .optional()?;
        let Some((true, released)) = product else {
            return Ok(false);
        };
        let early = !released;
        diesel::insert_into(line_entries::table)
            .values((
                line_entries::product_id.eq(product_id.0),
                line_entries::holder.eq(holder),
                line_entries::early.eq(early),
                line_entries::shuffle_key.eq(early.then_some(shuffle_key)),
                line_entries::joined_at.eq(Utc::now().naive_utc()),
                line_entries::last_seen_at.eq(Utc::now().naive_utc()),
            ))
            .on_conflict((line_entries::product_id, line_entries::holder))
            .do_update()
            .set(line_entries::last_seen_at.eq(Utc::now().naive_utc()))
            .execute(c)
            .await?;
        Ok(true)
    })
}

/// Lets in whoever the rate allows by `now`, for every released line. Safe to run on every
/// node at once: each product's row is written first in the transaction (a lock on both
/// backends), and the count let in is a function of the time, so a second run lets in nobody.
///
/// A waiting shopper not seen for `grace` after the drop loses the place (everyone behind moves
/// up); before the drop nobody does, so a pre-queue can be joined in advance.
pub async fn admit(db: &Db, now: DateTime<Utc>, grace: Duration) -> Result<u64, StoreError> {
    let cutoff =
        (now - chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX)).naive_utc();
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        let queued: Vec<(i32, i32, Option<NaiveDateTime>)> = products::table
            .filter(products::queue_enabled.eq(true))
            .filter(products::released.eq(true))
            .select((
                products::id,
                products::admit_per_minute,
                products::released_at,
            ))
            .load(c)
            .await?;
        let ids: Vec<i32> = queued.iter().map(|q| q.0).collect();
        let starts: Vec<(i32, NaiveDateTime)> = line_starts::table
            .filter(line_starts::product_id.eq_any(&ids))
            .select((line_starts::product_id, line_starts::started_at))
            .load(c)
            .await?;
        let mut let_in = 0;
        for (product_id, per_minute, released_at) in queued {
            let started_at = starts.iter().find(|s| s.0 == product_id).map(|s| s.1);
            let from = paced_from(
                true,
                released_at.map(|at| at.and_utc()),
                started_at.map(|at| at.and_utc()),
            );
            let Some(from) = from else {
                continue;
            };
            let from_stamp = from.naive_utc();
            let per_minute = u32::try_from(per_minute).unwrap_or(1);
            let stamp = now.naive_utc();
            let admitted = c
                .transaction::<_, diesel::result::Error, _>(async |c| {
                    diesel::update(products::table.filter(products::id.eq(product_id)))
                        .set(products::admit_per_minute.eq(products::admit_per_minute))
                        .execute(c)
                        .await?;
                    if from_stamp < cutoff {
                        diesel::delete(
                            line_entries::table
                                .filter(line_entries::product_id.eq(product_id))
                                .filter(line_entries::admitted_at.is_null())
                                .filter(line_entries::last_seen_at.lt(cutoff)),
                        )
                        .execute(c)
                        .await?;
                    }
                    // Those let in since the pace started (a line turned off and on again
                    // starts over).
                    let already: i64 = line_entries::table
                        .filter(line_entries::product_id.eq(product_id))
                        .filter(line_entries::admitted_at.ge(from_stamp))
                        .count()
                        .get_result(c)
                        .await?;
                    let allowed = admitted_by(from, now, per_minute);
                    let room = i64::try_from(allowed).unwrap_or(i64::MAX) - already;
                    if room <= 0 {
                        return Ok(0);
                    }
                    let next: Vec<i32> = line_entries::table
                        .filter(line_entries::product_id.eq(product_id))
                        .filter(line_entries::admitted_at.is_null())
                        .order((
                            line_entries::early.desc(),
                            line_entries::shuffle_key.asc(),
                            line_entries::id.asc(),
                        ))
                        .limit(room)
                        .select(line_entries::id)
                        .load(c)
                        .await?;
                    if next.is_empty() {
                        return Ok(0);
                    }
                    let n =
                        diesel::update(line_entries::table.filter(line_entries::id.eq_any(&next)))
                            .set(line_entries::admitted_at.eq(stamp))
                            .execute(c)
                            .await?;
                    Ok(n as u64)
                })
                .await?;
            let_in += admitted;
        }
        Ok(let_in)
    })
}

/// These holders were seen waiting (an open page): they keep their places.
pub async fn touch(db: &Db, holders: &[String]) -> Result<(), StoreError> {
    let now = Utc::now().naive_utc();
    let mut conn = db.get().await?;
    for chunk in holders.chunks(500) {
        with_conn!(conn, |c| {
            diesel::update(
                line_entries::table
                    .filter(line_entries::holder.eq_any(chunk))
                    .filter(line_entries::admitted_at.is_null()),
            )
            .set(line_entries::last_seen_at.eq(now))
            .execute(c)
            .await?
        });
    }
    Ok(())
}

/// Every product with a line, with its entries in line order.
pub async fn load(db: &Db) -> Result<Vec<StoredLine>, StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        let queued: Vec<(i32, i32, bool)> = products::table
            .filter(products::queue_enabled.eq(true))
            .select((products::id, products::admit_per_minute, products::released))
            .load(c)
            .await?;
        let mut lines = Vec::with_capacity(queued.len());
        for (product_id, per_minute, released) in queued {
            let entries: Vec<(String, Option<NaiveDateTime>)> = line_entries::table
                .filter(line_entries::product_id.eq(product_id))
                .order((
                    line_entries::early.desc(),
                    line_entries::shuffle_key.asc(),
                    line_entries::id.asc(),
                ))
                .select((line_entries::holder, line_entries::admitted_at))
                .load(c)
                .await?;
            lines.push(StoredLine {
                product_id: ProductId(product_id),
                per_minute: u32::try_from(per_minute).unwrap_or(1),
                released,
                entries: entries
                    .into_iter()
                    .map(|(holder, at)| (holder, at.map(|at| at.and_utc())))
                    .collect(),
            });
        }
        Ok(lines)
    })
}

/// Turns a product's line on or off and sets its rate; `false` if there is no such product.
pub async fn configure(
    db: &Db,
    product_id: ProductId,
    enabled: bool,
    per_minute: u32,
) -> Result<bool, StoreError> {
    let per_minute = i32::try_from(per_minute).unwrap_or(i32::MAX);
    let now = Utc::now().naive_utc();
    let mut conn = db.get().await?;
    let updated = with_conn!(conn, |c| {
        c.transaction::<_, diesel::result::Error, _>(async |c| {
            if enabled {
                start_line_if_off!(c, product_id.0, now);
            }
            diesel::update(products::table.filter(products::id.eq(product_id.0)))
                .set((
                    products::queue_enabled.eq(enabled),
                    products::admit_per_minute.eq(per_minute),
                    products::updated_at.eq(now),
                ))
                .execute(c)
                .await
        })
        .await?
    });
    Ok(updated == 1)
}

/// A guest who signs in brings their places along (unless the account already has one there).
pub async fn move_places(db: &Db, from: &str, to: &str) -> Result<(), StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        let taken: Vec<i32> = line_entries::table
            .filter(line_entries::holder.eq(to))
            .select(line_entries::product_id)
            .load(c)
            .await?;
        diesel::update(
            line_entries::table
                .filter(line_entries::holder.eq(from))
                .filter(line_entries::product_id.ne_all(&taken)),
        )
        .set(line_entries::holder.eq(to))
        .execute(c)
        .await?
    });
    Ok(())
}
