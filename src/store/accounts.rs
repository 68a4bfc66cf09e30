//! Accounts in the database: signup, the login lookup, the account's cart and its orders.

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::RunQueryDsl;

use super::orders::load_lines;
use super::schema::{accounts, items, order_items, orders, products};
use super::{Db, StoreError};
use crate::domain::account::{Email, Ordered};
use crate::domain::order::Order;
use crate::domain::{AccountId, ProductId};
use crate::with_conn;

/// An account as a signed-in request needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub id: AccountId,
    pub email: String,
    pub cart_id: String,
    /// The account's signed cart, if it ever had one.
    pub cart_token: Option<String>,
}

/// The email is taken (the unique index said so, whoever raced us).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken;

pub async fn create(
    db: &Db,
    email: &Email,
    password_hash: &str,
    cart_id: &str,
) -> Result<Result<AccountId, Taken>, StoreError> {
    let mut conn = db.get().await?;
    let inserted: Result<i32, DieselError> = with_conn!(conn, |c| {
        diesel::insert_into(accounts::table)
            .values((
                accounts::email.eq(email.as_str()),
                accounts::password_hash.eq(password_hash),
                accounts::cart_id.eq(cart_id),
            ))
            .returning(accounts::id)
            .get_result(c)
            .await
    });
    match inserted {
        Ok(id) => Ok(Ok(AccountId(id))),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(Err(Taken)),
        Err(e) => Err(e.into()),
    }
}

/// The account's id and password hash, for a login.
pub async fn credentials(
    db: &Db,
    email: &Email,
) -> Result<Option<(AccountId, String)>, StoreError> {
    let mut conn = db.get().await?;
    let row: Option<(i32, String)> = with_conn!(conn, |c| {
        accounts::table
            .filter(accounts::email.eq(email.as_str()))
            .select((accounts::id, accounts::password_hash))
            .first(c)
            .await
            .optional()?
    });
    Ok(row.map(|(id, hash)| (AccountId(id), hash)))
}

pub async fn password_hash(db: &Db, id: AccountId) -> Result<Option<String>, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        accounts::table
            .filter(accounts::id.eq(id.0))
            .select(accounts::password_hash)
            .first(c)
            .await
            .optional()?
    }))
}

pub async fn set_password(db: &Db, id: AccountId, password_hash: &str) -> Result<(), StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        diesel::update(accounts::table.filter(accounts::id.eq(id.0)))
            .set((
                accounts::password_hash.eq(password_hash),
                accounts::updated_at.eq(now()),
            ))
            .execute(c)
            .await?
    });
    Ok(())
}

pub async fn find(db: &Db, id: AccountId) -> Result<Option<AccountRow>, StoreError> {
    let mut conn = db.get().await?;
    let row: Option<(i32, String, String, Option<String>)> = with_conn!(conn, |c| {
        accounts::table
            .filter(accounts::id.eq(id.0))
            .select((
                accounts::id,
                accounts::email,
                accounts::cart_id,
                accounts::cart_token,
            ))
            .first(c)
            .await
            .optional()?
    });
    Ok(row.map(|(id, email, cart_id, cart_token)| AccountRow {
        id: AccountId(id),
        email,
        cart_id,
        cart_token,
    }))
}

/// Stores the account's cart unless a newer one is already there (saves may race: two tabs,
/// two nodes). `saved_ms` is when the cart was signed.
pub async fn save_cart(
    db: &Db,
    id: AccountId,
    token: &str,
    saved_ms: i64,
) -> Result<(), StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        diesel::update(
            accounts::table
                .filter(accounts::id.eq(id.0))
                .filter(accounts::cart_saved_ms.le(saved_ms)),
        )
        .set((
            accounts::cart_token.eq(token),
            accounts::cart_saved_ms.eq(saved_ms),
        ))
        .execute(c)
        .await?
    });
    Ok(())
}

/// The account's orders, newest first.
pub async fn orders(db: &Db, id: AccountId) -> Result<Vec<Order>, StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        let heads: Vec<(i32, i32, NaiveDateTime, String)> = orders::table
            .filter(orders::account_id.eq(id.0))
            .order(orders::id.desc())
            .select((
                orders::id,
                orders::total_cents,
                orders::inserted_at,
                orders::state,
            ))
            .load(c)
            .await?;
        let mut placed = Vec::with_capacity(heads.len());
        for (order_id, total_cents, placed_at, state) in heads {
            placed.push(Order {
                id: order_id,
                total_cents,
                placed_at: placed_at.and_utc(),
                state: super::orders::parse_state(&state),
                lines: load_lines!(c, order_id),
            });
        }
        Ok(placed)
    })
}

/// Pairs of each limited product the account has ordered (for the cart's early refusal).
pub async fn ordered_limited(db: &Db, id: AccountId) -> Result<Ordered, StoreError> {
    let mut conn = db.get().await?;
    let rows: Vec<(i32, i64)> = with_conn!(conn, |c| {
        order_items::table
            .inner_join(orders::table)
            .inner_join(items::table.inner_join(products::table))
            .filter(orders::account_id.eq(id.0))
            .filter(products::max_per_customer.is_not_null())
            .group_by(items::product_id)
            .select((items::product_id, diesel::dsl::count_star()))
            .load(c)
            .await?
    });
    Ok(to_ordered(rows))
}

pub fn to_ordered(rows: Vec<(i32, i64)>) -> Ordered {
    rows.into_iter()
        .map(|(product, pairs)| (ProductId(product), u32::try_from(pairs).unwrap_or(u32::MAX)))
        .collect::<BTreeMap<_, _>>()
}

/// Now, as the timestamp columns hold it.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}
