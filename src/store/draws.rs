//! Draws in the database: a product's window, its entries, and the draw at close. Every step
//! that decides something is one guarded statement or one transaction, so two nodes (or a
//! node restarted mid-draw) never decide an entry twice.

use std::collections::HashMap;

use chrono::Utc;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::catalog::adjust_stock_query;
use super::schema::{
    draw_entries, draw_entry_details, draws, items, order_events, order_items, orders, payments,
    products,
};
use super::{Db, StoreError};
use crate::domain::address::Address;
use crate::domain::draw::{Outcome, VoidReason, Window, draw_order, voids};
use crate::domain::{AccountId, ItemId, ProductId};
use crate::with_conn;

/// Entry states as stored.
pub mod state {
    pub const AUTHORISING: &str = "authorising";
    pub const ENTERED: &str = "entered";
    pub const WITHDRAWN: &str = "withdrawn";
    pub const VOID: &str = "void";
}

/// Draw states as stored.
pub mod draw_state {
    pub const SCHEDULED: &str = "scheduled";
    pub const DRAWING: &str = "drawing";
    pub const DRAWN: &str = "drawn";
}

/// One draw, as every node reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDraw {
    pub product_id: ProductId,
    pub window: Window,
    pub state: String,
    /// Published once the draw is made.
    pub secret: Option<String>,
    /// Live entries (entered, not withdrawn) per size, while the window is open.
    pub entries: HashMap<ItemId, u32>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = draw_entries)]
pub struct EntryRow {
    pub id: i32,
    pub product_id: i32,
    pub item_id: i32,
    pub account_id: i32,
    pub holder: String,
    pub address_key: String,
    pub card_fingerprint: String,
    pub amount_cents: i32,
    pub payment_ref: Option<String>,
    pub hash: String,
    pub state: String,
    pub void_reason: Option<String>,
    pub place: Option<i32>,
    pub order_id: Option<i32>,
    pub created_ms: i64,
    pub released_ms: Option<i64>,
}

/// Where an entry ships and what paid for it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = draw_entry_details)]
pub struct EntryDetails {
    pub entry_id: i32,
    pub email: String,
    pub ship_name: String,
    pub ship_line1: String,
    pub ship_line2: String,
    pub ship_city: String,
    pub ship_postal_code: String,
    pub ship_country: String,
    pub card_last4: Option<String>,
    pub provider: String,
}

/// The provider's idempotency key of an entry's authorisation (its capture adds `-capture`):
/// one per entry, made from its hash.
pub fn idempotency_key(product_id: i32, hash: &str) -> String {
    format!("sneakers-draw-{product_id}-entry-{hash}")
}

impl EntryRow {
    pub fn idempotency_key(&self) -> String {
        idempotency_key(self.product_id, &self.hash)
    }

    pub fn outcome(&self) -> Option<Outcome> {
        Outcome::from_code(&self.state)
    }

    pub fn void_reason(&self) -> Option<VoidReason> {
        self.void_reason.as_deref().and_then(VoidReason::from_code)
    }
}

fn window_of(opens: i64, closes: i64) -> Option<Window> {
    let at = |ms| chrono::DateTime::<Utc>::from_timestamp_millis(ms);
    Window::new(at(opens)?, at(closes)?).ok()
}

/// Puts a product in draw mode with `window` (or, with `None`, out of it). A draw already
/// closed keeps its window: its entries are decided by it. `false`: no such product, or the
/// draw is past its window.
pub async fn configure(
    db: &Db,
    product_id: ProductId,
    window: Option<Window>,
) -> Result<bool, StoreError> {
    let mut conn = db.get().await?;
    let now = Utc::now().timestamp_millis();
    with_conn!(conn, |c| {
        c.transaction::<_, DieselError, _>(async |c| {
            let exists: i64 = products::table
                .filter(products::id.eq(product_id.0))
                .count()
                .get_result(c)
                .await?;
            if exists == 0 {
                return Ok(false);
            }
            let current: Option<i64> = draws::table
                .filter(draws::product_id.eq(product_id.0))
                .select(draws::closes_at_ms)
                .first(c)
                .await
                .optional()?;
            if current.is_some_and(|closes| closes <= now) {
                return Ok(false);
            }
            let Some(window) = window else {
                diesel::delete(
                    draw_entries::table.filter(draw_entries::product_id.eq(product_id.0)),
                )
                .execute(c)
                .await?;
                diesel::delete(draws::table.filter(draws::product_id.eq(product_id.0)))
                    .execute(c)
                    .await?;
                return Ok(true);
            };
            let (opens, closes) = (
                window.opens.timestamp_millis(),
                window.closes.timestamp_millis(),
            );
            diesel::insert_into(draws::table)
                .values((
                    draws::product_id.eq(product_id.0),
                    draws::opens_at_ms.eq(opens),
                    draws::closes_at_ms.eq(closes),
                    draws::state.eq(draw_state::SCHEDULED),
                ))
                .on_conflict(draws::product_id)
                .do_update()
                .set((draws::opens_at_ms.eq(opens), draws::closes_at_ms.eq(closes)))
                .execute(c)
                .await?;
            Ok(true)
        })
        .await
    })
    .map_err(StoreError::from)
}

/// Every draw, with its live entries counted per size.
pub async fn load(db: &Db) -> Result<Vec<StoredDraw>, StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        let rows: Vec<(i32, i64, i64, String, Option<String>)> = draws::table
            .select((
                draws::product_id,
                draws::opens_at_ms,
                draws::closes_at_ms,
                draws::state,
                draws::secret,
            ))
            .load(c)
            .await?;
        let counts: Vec<(i32, i32, i64)> = draw_entries::table
            .filter(draw_entries::state.ne(state::WITHDRAWN))
            .filter(draw_entries::state.ne(state::AUTHORISING))
            .group_by((draw_entries::product_id, draw_entries::item_id))
            .select((
                draw_entries::product_id,
                draw_entries::item_id,
                diesel::dsl::count_star(),
            ))
            .load(c)
            .await?;
        let mut draws = Vec::with_capacity(rows.len());
        for (product_id, opens, closes, state, secret) in rows {
            let Some(window) = window_of(opens, closes) else {
                continue;
            };
            let entries = counts
                .iter()
                .filter(|(p, _, _)| *p == product_id)
                .map(|(_, item, n)| (ItemId(*item), u32::try_from(*n).unwrap_or(u32::MAX)))
                .collect();
            // Before the draw is made its secret is nobody's business.
            let secret = secret.filter(|_| state == draw_state::DRAWN);
            draws.push(StoredDraw {
                product_id: ProductId(product_id),
                window,
                state,
                secret,
                entries,
            });
        }
        Ok(draws)
    })
}

/// An entry to record before its card is authorised.
pub struct NewEntry<'a> {
    pub product_id: ProductId,
    pub item_id: ItemId,
    pub account_id: AccountId,
    pub holder: &'a str,
    pub email: &'a str,
    pub address: &'a Address,
    pub address_key: &'a str,
    pub card_fingerprint: &'a str,
    pub card_last4: Option<&'a str>,
    pub provider: &'a str,
    pub hash: &'a str,
    pub now_ms: i64,
}

/// What recording an entry came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// Recorded (authorising): the entry's id, the amount and idempotency key to authorise.
    Entry {
        entry_id: i32,
        amount_cents: i32,
        idempotency_key: String,
    },
    /// This account has a live entry in this draw already.
    AlreadyEntered,
    /// The window is not open (now, in the database's view).
    NotOpen,
    /// The size is not this product's.
    NoSuchSize,
}

/// Records an entry (state authorising), once per account and draw: the partial unique index
/// refuses a second live one, whichever node it comes to.
pub async fn begin(db: &Db, entry: &NewEntry<'_>) -> Result<Begun, StoreError> {
    let mut conn = db.get().await?;
    let outcome = with_conn!(conn, |c| {
        c.transaction::<_, DieselError, _>(async |c| {
            let window: Option<(i64, i64, String)> = draws::table
                .filter(draws::product_id.eq(entry.product_id.0))
                .select((draws::opens_at_ms, draws::closes_at_ms, draws::state))
                .first(c)
                .await
                .optional()?;
            let open = window.is_some_and(|(opens, closes, state)| {
                opens <= entry.now_ms && entry.now_ms < closes && state == draw_state::SCHEDULED
            });
            if !open {
                return Ok(Begun::NotOpen);
            }
            let price: Option<i32> = items::table
                .inner_join(products::table)
                .filter(items::id.eq(entry.item_id.0))
                .filter(items::product_id.eq(entry.product_id.0))
                .select(products::price_cents)
                .first(c)
                .await
                .optional()?;
            let Some(amount_cents) = price else {
                return Ok(Begun::NoSuchSize);
            };
            let key = idempotency_key(entry.product_id.0, entry.hash);
            let inserted = diesel::insert_into(draw_entries::table)
                .values((
                    draw_entries::product_id.eq(entry.product_id.0),
                    draw_entries::item_id.eq(entry.item_id.0),
                    draw_entries::account_id.eq(entry.account_id.0),
                    draw_entries::holder.eq(entry.holder),
                    draw_entries::address_key.eq(entry.address_key),
                    draw_entries::card_fingerprint.eq(entry.card_fingerprint),
                    draw_entries::amount_cents.eq(amount_cents),
                    draw_entries::hash.eq(entry.hash),
                    draw_entries::state.eq(state::AUTHORISING),
                    draw_entries::created_ms.eq(entry.now_ms),
                ))
                .returning(draw_entries::id)
                .get_result::<i32>(c)
                .await;
            if let Ok(entry_id) = inserted {
                let a = entry.address;
                diesel::insert_into(draw_entry_details::table)
                    .values((
                        draw_entry_details::entry_id.eq(entry_id),
                        draw_entry_details::email.eq(entry.email),
                        draw_entry_details::ship_name.eq(&a.name),
                        draw_entry_details::ship_line1.eq(&a.line1),
                        draw_entry_details::ship_line2.eq(&a.line2),
                        draw_entry_details::ship_city.eq(&a.city),
                        draw_entry_details::ship_postal_code.eq(&a.postal_code),
                        draw_entry_details::ship_country.eq(&a.country),
                        draw_entry_details::card_last4.eq(entry.card_last4),
                        draw_entry_details::provider.eq(entry.provider),
                    ))
                    .execute(c)
                    .await?;
            }
            match inserted {
                Ok(entry_id) => Ok(Begun::Entry {
                    entry_id,
                    amount_cents,
                    idempotency_key: key,
                }),
                Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                    Ok(Begun::AlreadyEntered)
                }
                Err(other) => Err(other),
            }
        })
        .await
    })?;
    Ok(outcome)
}

/// The card was authorised: the entry takes part. `false` when the draw closed meanwhile (the
/// entry was taken out at close): the caller lets the authorisation go.
pub async fn authorised(db: &Db, entry_id: i32, payment_ref: &str) -> Result<bool, StoreError> {
    let mut conn = db.get().await?;
    let n = with_conn!(conn, |c| {
        diesel::update(
            draw_entries::table
                .filter(draw_entries::id.eq(entry_id))
                .filter(draw_entries::state.eq(state::AUTHORISING)),
        )
        .set((
            draw_entries::state.eq(state::ENTERED),
            draw_entries::payment_ref.eq(payment_ref),
        ))
        .execute(c)
        .await?
    });
    Ok(n == 1)
}

/// The provider's reference for an entry being authorised, as soon as it is known (so a crash
/// before the answer still leaves the authorisation to release).
pub async fn record_reference(db: &Db, entry_id: i32, payment_ref: &str) -> Result<(), StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        diesel::update(draw_entries::table.filter(draw_entries::id.eq(entry_id)))
            .set(draw_entries::payment_ref.eq(payment_ref))
            .execute(c)
            .await?
    });
    Ok(())
}

/// The card was refused (or the provider failed): the entry was never made.
pub async fn abandon(db: &Db, entry_id: i32) -> Result<(), StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        diesel::delete(
            draw_entries::table
                .filter(draw_entries::id.eq(entry_id))
                .filter(draw_entries::state.eq(state::AUTHORISING)),
        )
        .execute(c)
        .await?
    });
    Ok(())
}

/// What a withdrawal came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Withdrawn {
    /// Withdrawn: the entry and the authorisation to release.
    Withdrawn {
        entry_id: i32,
        payment_ref: Option<String>,
    },
    /// The window is closed (or not open yet): entries stand as they are.
    NotOpen,
    /// No live entry of this account.
    NoEntry,
}

/// Withdraws the account's entry while the window is open.
pub async fn withdraw(
    db: &Db,
    product_id: ProductId,
    account_id: AccountId,
    now_ms: i64,
) -> Result<Withdrawn, StoreError> {
    let mut conn = db.get().await?;
    let outcome = with_conn!(conn, |c| {
        c.transaction::<_, DieselError, _>(async |c| {
            let open: Option<(i64, i64, String)> = draws::table
                .filter(draws::product_id.eq(product_id.0))
                .select((draws::opens_at_ms, draws::closes_at_ms, draws::state))
                .first(c)
                .await
                .optional()?;
            let open = open.is_some_and(|(opens, closes, state)| {
                opens <= now_ms && now_ms < closes && state == draw_state::SCHEDULED
            });
            if !open {
                return Ok(Withdrawn::NotOpen);
            }
            let withdrawn: Option<(i32, Option<String>)> = diesel::update(
                draw_entries::table
                    .filter(draw_entries::product_id.eq(product_id.0))
                    .filter(draw_entries::account_id.eq(account_id.0))
                    .filter(draw_entries::state.eq(state::ENTERED)),
            )
            .set(draw_entries::state.eq(state::WITHDRAWN))
            .returning((draw_entries::id, draw_entries::payment_ref))
            .get_result(c)
            .await
            .optional()?;
            Ok(match withdrawn {
                Some((entry_id, payment_ref)) => Withdrawn::Withdrawn {
                    entry_id,
                    payment_ref,
                },
                None => Withdrawn::NoEntry,
            })
        })
        .await
    })?;
    Ok(outcome)
}

/// The account's entry in a draw: the live one, else the latest withdrawn.
pub async fn entry_of(
    db: &Db,
    product_id: ProductId,
    account_id: AccountId,
) -> Result<Option<EntryRow>, StoreError> {
    let mut conn = db.get().await?;
    let rows: Vec<EntryRow> = with_conn!(conn, |c| {
        draw_entries::table
            .filter(draw_entries::product_id.eq(product_id.0))
            .filter(draw_entries::account_id.eq(account_id.0))
            .order(draw_entries::id.desc())
            .select(EntryRow::as_select())
            .load(c)
            .await?
    });
    let live = rows.iter().position(|e| e.state != state::WITHDRAWN);
    Ok(match live {
        Some(i) => rows.into_iter().nth(i),
        None => rows.into_iter().next(),
    })
}

/// Every entry of an account, newest first, with its product's name and its size.
pub async fn entries_of_account(
    db: &Db,
    account_id: AccountId,
) -> Result<Vec<(EntryRow, String, String)>, StoreError> {
    let mut conn = db.get().await?;
    let rows: Vec<(EntryRow, String, String, String)> = with_conn!(conn, |c| {
        draw_entries::table
            .inner_join(items::table.inner_join(products::table))
            .filter(draw_entries::account_id.eq(account_id.0))
            .filter(draw_entries::state.ne(state::AUTHORISING))
            .order(draw_entries::id.desc())
            .select((
                EntryRow::as_select(),
                products::brand,
                products::name,
                items::size,
            ))
            .load(c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(entry, brand, name, size)| (entry, format!("{brand} {name}"), size))
        .collect())
}

/// Every entry of a draw in the order they were made, with its details (admins' CSV).
pub async fn entries(
    db: &Db,
    product_id: ProductId,
) -> Result<Vec<(EntryRow, EntryDetails)>, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        draw_entries::table
            .inner_join(draw_entry_details::table)
            .filter(draw_entries::product_id.eq(product_id.0))
            .filter(draw_entries::state.ne(state::AUTHORISING))
            .order(draw_entries::id)
            .select((EntryRow::as_select(), EntryDetails::as_select()))
            .load(c)
            .await?
    }))
}

/// The card's last four digits of an entry, if the provider said them.
pub async fn card_last4(db: &Db, entry_id: i32) -> Result<Option<String>, StoreError> {
    let mut conn = db.get().await?;
    let last4: Option<Option<String>> = with_conn!(conn, |c| {
        draw_entry_details::table
            .filter(draw_entry_details::entry_id.eq(entry_id))
            .select(draw_entry_details::card_last4)
            .first(c)
            .await
            .optional()?
    });
    Ok(last4.flatten())
}

/// Draws whose window closed and whose draw is not made: (product, claimed by someone now).
pub async fn due(db: &Db, now_ms: i64) -> Result<Vec<ProductId>, StoreError> {
    let mut conn = db.get().await?;
    let ids: Vec<i32> = with_conn!(conn, |c| {
        draws::table
            .filter(draws::closes_at_ms.le(now_ms))
            .filter(draws::state.ne(draw_state::DRAWN))
            .filter(
                draws::claimed_until_ms
                    .is_null()
                    .or(draws::claimed_until_ms.lt(now_ms)),
            )
            .select(draws::product_id)
            .load(c)
            .await?
    });
    Ok(ids.into_iter().map(ProductId).collect())
}

/// Claims a closed draw for `node` until `until_ms`: the one node that makes it (or resumes
/// it after a dead node's claim lapsed). The first claim sets `secret`, fixed from then on.
/// Returns the draw's secret when this node holds the claim.
pub async fn claim(
    db: &Db,
    product_id: ProductId,
    node: &str,
    secret: &str,
    now_ms: i64,
    until_ms: i64,
) -> Result<Option<String>, StoreError> {
    let mut conn = db.get().await?;
    let claimed = with_conn!(conn, |c| {
        c.transaction::<_, DieselError, _>(async |c| {
            let n = diesel::update(
                draws::table
                    .filter(draws::product_id.eq(product_id.0))
                    .filter(draws::closes_at_ms.le(now_ms))
                    .filter(draws::state.ne(draw_state::DRAWN))
                    .filter(
                        draws::claimed_until_ms
                            .is_null()
                            .or(draws::claimed_until_ms.lt(now_ms))
                            .or(draws::claimed_by.eq(node)),
                    ),
            )
            .set((
                draws::state.eq(draw_state::DRAWING),
                draws::claimed_by.eq(node),
                draws::claimed_until_ms.eq(until_ms),
            ))
            .execute(c)
            .await?;
            if n == 0 {
                return Ok(None);
            }
            diesel::update(
                draws::table
                    .filter(draws::product_id.eq(product_id.0))
                    .filter(draws::secret.is_null()),
            )
            .set(draws::secret.eq(secret))
            .execute(c)
            .await?;
            draws::table
                .filter(draws::product_id.eq(product_id.0))
                .select(draws::secret)
                .first::<Option<String>>(c)
                .await
        })
        .await
    })?;
    Ok(claimed)
}

/// Fixes who takes part and in what order, once: entries still being authorised at close are
/// taken out, entries sharing a card or an address with an earlier one are void, the rest get
/// their place in the draw order. Returns the entries voided now (empty if it was done before).
pub async fn prepare(
    db: &Db,
    product_id: ProductId,
    secret: &str,
) -> Result<Vec<EntryRow>, StoreError> {
    let mut conn = db.get().await?;
    let voided = with_conn!(conn, |c| {
        c.transaction::<_, DieselError, _>(async |c| {
            let placed: i64 = draw_entries::table
                .filter(draw_entries::product_id.eq(product_id.0))
                .filter(
                    draw_entries::place
                        .is_not_null()
                        .or(draw_entries::state.eq(state::VOID)),
                )
                .count()
                .get_result(c)
                .await?;
            if placed > 0 {
                return Ok(Vec::new());
            }
            diesel::update(
                draw_entries::table
                    .filter(draw_entries::product_id.eq(product_id.0))
                    .filter(draw_entries::state.eq(state::AUTHORISING)),
            )
            .set(draw_entries::state.eq(state::WITHDRAWN))
            .execute(c)
            .await?;
            let entered: Vec<EntryRow> = draw_entries::table
                .filter(draw_entries::product_id.eq(product_id.0))
                .filter(draw_entries::state.eq(state::ENTERED))
                .order(draw_entries::id)
                .select(EntryRow::as_select())
                .load(c)
                .await?;
            let reasons = voids(
                entered
                    .iter()
                    .map(|e| (e.card_fingerprint.as_str(), e.address_key.as_str())),
            );
            let mut taking_part = Vec::new();
            let mut voided = Vec::new();
            for (entry, reason) in entered.into_iter().zip(reasons) {
                match reason {
                    Some(reason) => {
                        diesel::update(draw_entries::table.filter(draw_entries::id.eq(entry.id)))
                            .set((
                                draw_entries::state.eq(state::VOID),
                                draw_entries::void_reason.eq(reason.code()),
                            ))
                            .execute(c)
                            .await?;
                        voided.push(entry);
                    }
                    None => taking_part.push(entry),
                }
            }
            let ordered = draw_order(secret, product_id, taking_part, |e| e.hash.as_str());
            for (place, entry) in ordered.iter().enumerate() {
                diesel::update(draw_entries::table.filter(draw_entries::id.eq(entry.id)))
                    .set(draw_entries::place.eq(i32::try_from(place + 1).unwrap_or(i32::MAX)))
                    .execute(c)
                    .await?;
            }
            Ok(voided)
        })
        .await
    })?;
    Ok(voided)
}

/// The entries taking part, in draw order.
pub async fn ranked(db: &Db, product_id: ProductId) -> Result<Vec<EntryRow>, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        draw_entries::table
            .filter(draw_entries::product_id.eq(product_id.0))
            .filter(draw_entries::place.is_not_null())
            .order(draw_entries::place)
            .select(EntryRow::as_select())
            .load(c)
            .await?
    }))
}

/// What recording a winner came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Won {
    /// The pair is sold to the entry: its paid order, and the item's new count and version.
    Won {
        order_id: i32,
        count: i32,
        version: i64,
    },
    /// Decided before (a resumed draw): nothing changed.
    Already,
    /// The size has no pair left (sold another way meanwhile): the capture must be refunded.
    NoPair,
}

/// A winner's capture succeeded: in one transaction the pair is sold (the guarded decrement),
/// a paid order with the entry's address is written with its payment, and the entry is won.
pub async fn win(db: &Db, entry: &EntryRow, node: &str) -> Result<Won, StoreError> {
    let reference = entry.payment_ref.clone().unwrap_or_default();
    let mut conn = db.get().await?;
    let outcome = with_conn!(conn, |c| {
        c.transaction::<_, DieselError, _>(async |c| {
            // The entry's row first: whoever moves it decides, the other finds it moved.
            let moved = diesel::update(
                draw_entries::table
                    .filter(draw_entries::id.eq(entry.id))
                    .filter(draw_entries::state.eq(state::ENTERED)),
            )
            .set(draw_entries::state.eq(state::ENTERED))
            .execute(c)
            .await?;
            if moved == 0 {
                return Ok(Won::Already);
            }
            let details: EntryDetails = draw_entry_details::table
                .filter(draw_entry_details::entry_id.eq(entry.id))
                .select(EntryDetails::as_select())
                .first(c)
                .await?;
            let Some((count, version)) = adjust_stock_query!(c, ItemId(entry.item_id), -1)? else {
                return Ok(Won::NoPair);
            };
            let order_id: i32 = diesel::insert_into(orders::table)
                .values((
                    orders::cart_id.eq(&entry.holder),
                    orders::total_cents.eq(entry.amount_cents),
                    orders::account_id.eq(entry.account_id),
                    orders::node.eq(node),
                    orders::state.eq("paid"),
                    orders::email.eq(&details.email),
                    orders::ship_name.eq(&details.ship_name),
                    orders::ship_line1.eq(&details.ship_line1),
                    orders::ship_line2.eq(&details.ship_line2),
                    orders::ship_city.eq(&details.ship_city),
                    orders::ship_postal_code.eq(&details.ship_postal_code),
                    orders::ship_country.eq(&details.ship_country),
                    orders::payment_ref.eq(&reference),
                ))
                .returning(orders::id)
                .get_result(c)
                .await?;
            diesel::insert_into(order_items::table)
                .values((
                    order_items::order_id.eq(order_id),
                    order_items::item_id.eq(entry.item_id),
                    order_items::price_cents.eq(entry.amount_cents),
                ))
                .execute(c)
                .await?;
            diesel::insert_into(order_events::table)
                .values((
                    order_events::order_id.eq(order_id),
                    order_events::state.eq("paid"),
                    order_events::note.eq("won in the draw"),
                ))
                .execute(c)
                .await?;
            diesel::insert_into(payments::table)
                .values((
                    payments::order_id.eq(order_id),
                    payments::provider.eq(&details.provider),
                    payments::reference.eq(&reference),
                    payments::idempotency_key.eq(entry.idempotency_key()),
                    payments::amount_cents.eq(entry.amount_cents),
                    payments::status.eq("succeeded"),
                ))
                .execute(c)
                .await?;
            diesel::update(draw_entries::table.filter(draw_entries::id.eq(entry.id)))
                .set((
                    draw_entries::state.eq(Outcome::Won.code()),
                    draw_entries::order_id.eq(order_id),
                ))
                .execute(c)
                .await?;
            Ok(Won::Won {
                order_id,
                count,
                version,
            })
        })
        .await
    })?;
    Ok(outcome)
}

/// Writes a loss or a pass-over for an entry still undecided; `false` if it was decided
/// before (so it is told once).
pub async fn decide(db: &Db, entry_id: i32, outcome: Outcome) -> Result<bool, StoreError> {
    let mut conn = db.get().await?;
    let n = with_conn!(conn, |c| {
        diesel::update(
            draw_entries::table
                .filter(draw_entries::id.eq(entry_id))
                .filter(draw_entries::state.eq(state::ENTERED)),
        )
        .set(draw_entries::state.eq(outcome.code()))
        .execute(c)
        .await?
    });
    Ok(n == 1)
}

/// The draw is made: its secret is published from now on.
pub async fn finish(db: &Db, product_id: ProductId, now_ms: i64) -> Result<bool, StoreError> {
    let mut conn = db.get().await?;
    let n = with_conn!(conn, |c| {
        diesel::update(
            draws::table
                .filter(draws::product_id.eq(product_id.0))
                .filter(draws::state.eq(draw_state::DRAWING)),
        )
        .set((
            draws::state.eq(draw_state::DRAWN),
            draws::drawn_at_ms.eq(now_ms),
            draws::claimed_until_ms.eq(None::<i64>),
        ))
        .execute(c)
        .await?
    });
    Ok(n == 1)
}

/// The authorisation of an entry that was not charged is let go.
pub async fn released(db: &Db, entry_id: i32) -> Result<(), StoreError> {
    let now = Utc::now().timestamp_millis();
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        diesel::update(draw_entries::table.filter(draw_entries::id.eq(entry_id)))
            .set(draw_entries::released_ms.eq(now))
            .execute(c)
            .await?
    });
    Ok(())
}

/// Entries of a draw that will never be charged (withdrawn, void, lost, passed over) whose
/// authorisation is not noted as released: `(entry id, payment reference)`.
pub async fn unreleased(db: &Db, product_id: ProductId) -> Result<Vec<(i32, String)>, StoreError> {
    let mut conn = db.get().await?;
    let rows: Vec<(i32, Option<String>)> = with_conn!(conn, |c| {
        draw_entries::table
            .filter(draw_entries::product_id.eq(product_id.0))
            .filter(draw_entries::state.eq_any([
                state::WITHDRAWN,
                state::VOID,
                Outcome::Lost.code(),
                Outcome::PassedOver.code(),
            ]))
            .filter(draw_entries::released_ms.is_null())
            .filter(draw_entries::payment_ref.is_not_null())
            .select((draw_entries::id, draw_entries::payment_ref))
            .load(c)
            .await?
    });
    Ok(rows
        .into_iter()
        .filter_map(|(id, reference)| Some((id, reference?)))
        .collect())
}
