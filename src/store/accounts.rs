//! Accounts in the database: signup (a mailed link makes the account), the login lookup, the account's cart and its orders.

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::orders::load_lines;
use super::outbox::enqueue_mail;
use super::schema::{accounts, email_tokens, items, order_items, orders, products};
use super::{Db, StoreError};
use crate::domain::account::{Email, Ordered};
use crate::domain::mail::Mail;
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
    /// Whether the account proved it reads mail at its address (a mailed link).
    pub verified: bool,
}

/// What a signup did. The shopper is answered the same either way; only the mail differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupOutcome {
    /// A new address: its link is in the outbox.
    LinkMailed,
    /// The address (in its canonical form) has an account: its owner is told instead.
    AlreadyRegistered,
}

/// A signup to record: the token of its link and both mails, only one of which is sent.
pub struct NewSignup<'a> {
    pub email: &'a Email,
    pub password_hash: &'a str,
    pub token_hash: &'a str,
    pub now_ms: i64,
    pub expires_ms: i64,
    /// The link to make the account, for a new address.
    pub link_mail: &'a Mail,
    /// The notice to the owner, for an address that has an account.
    pub owner_mail: &'a Mail,
}

/// Records a signup in one transaction: a token and its mail for a new address, or the owner's
/// notice for a registered one. No account exists until the link is followed
/// ([`confirm`]), so whoever signed up first with someone else's address holds nothing.
pub async fn begin_signup(db: &Db, signup: NewSignup<'_>) -> Result<SignupOutcome, StoreError> {
    let mut conn = db.get().await?;
    let key = signup.email.key();
    Ok(with_conn!(conn, |c| {
        c.transaction::<_, DieselError, _>(async |c| {
            let owner: Option<i32> = accounts::table
                .filter(accounts::email_key.eq(&key))
                .select(accounts::id)
                .first(c)
                .await
                .optional()?;
            if owner.is_some() {
                enqueue_mail!(c, signup.owner_mail, signup.now_ms)?;
                return Ok(SignupOutcome::AlreadyRegistered);
            }
            diesel::insert_into(email_tokens::table)
                .values((
                    email_tokens::token_hash.eq(signup.token_hash),
                    email_tokens::email.eq(signup.email.as_str()),
                    email_tokens::email_key.eq(&key),
                    email_tokens::password_hash.eq(signup.password_hash),
                    email_tokens::created_ms.eq(signup.now_ms),
                    email_tokens::expires_ms.eq(signup.expires_ms),
                ))
                .execute(c)
                .await?;
            enqueue_mail!(c, signup.link_mail, signup.now_ms)?;
            Ok(SignupOutcome::LinkMailed)
        })
        .await?
    }))
}

/// A token for an existing account to verify its address, and its mail, in one transaction.
pub async fn request_verification(
    db: &Db,
    account: AccountId,
    email: &Email,
    token_hash: &str,
    now_ms: i64,
    expires_ms: i64,
    mail: &Mail,
) -> Result<(), StoreError> {
    let mut conn = db.get().await?;
    let key = email.key();
    with_conn!(conn, |c| {
        c.transaction::<_, DieselError, _>(async |c| {
            diesel::insert_into(email_tokens::table)
                .values((
                    email_tokens::token_hash.eq(token_hash),
                    email_tokens::email.eq(email.as_str()),
                    email_tokens::email_key.eq(&key),
                    email_tokens::account_id.eq(account.0),
                    email_tokens::created_ms.eq(now_ms),
                    email_tokens::expires_ms.eq(expires_ms),
                ))
                .execute(c)
                .await?;
            enqueue_mail!(c, mail, now_ms)?;
            Ok(())
        })
        .await?
    });
    Ok(())
}

/// What following a mailed link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// The account is verified (made now, for a signup's link).
    Verified(AccountRow),
    /// No such link, or it was used or has expired.
    Invalid,
    /// Another signup's link for the same address was followed first.
    Taken,
}

enum ConfirmError {
    Invalid,
    Taken,
    Db(DieselError),
}

impl From<DieselError> for ConfirmError {
    fn from(error: DieselError) -> ConfirmError {
        ConfirmError::Db(error)
    }
}

/// Follows a link once: a signup's makes its account (verified, with the password that
/// signup chose, `cart_id` as its cart topic); an account's verifies that account, if its
/// address is still the one the link was mailed to.
pub async fn confirm(
    db: &Db,
    token_hash: &str,
    now_ms: i64,
    cart_id: &str,
) -> Result<Confirmation, StoreError> {
    let mut conn = db.get().await?;
    let outcome: Result<i32, ConfirmError> = with_conn!(conn, |c| {
        c.transaction::<_, ConfirmError, _>(async |c| {
            type Token = (i32, String, String, Option<String>, Option<i32>);
            let token: Option<Token> = email_tokens::table
                .filter(email_tokens::token_hash.eq(token_hash))
                .filter(email_tokens::used_ms.is_null())
                .filter(email_tokens::expires_ms.gt(now_ms))
                .select((
                    email_tokens::id,
                    email_tokens::email,
                    email_tokens::email_key,
                    email_tokens::password_hash,
                    email_tokens::account_id,
                ))
                .first(c)
                .await
                .optional()?;
            let Some((token_id, email, key, password_hash, account)) = token else {
                return Err(ConfirmError::Invalid);
            };
            // Guarded: of two clicks at once, one uses the link.
            let used = diesel::update(
                email_tokens::table
                    .filter(email_tokens::id.eq(token_id))
                    .filter(email_tokens::used_ms.is_null()),
            )
            .set(email_tokens::used_ms.eq(now_ms))
            .execute(c)
            .await?;
            if used == 0 {
                return Err(ConfirmError::Invalid);
            }
            match (account, password_hash) {
                (Some(account), _) => {
                    let verified = diesel::update(
                        accounts::table
                            .filter(accounts::id.eq(account))
                            .filter(accounts::email_key.eq(&key)),
                    )
                    .set(accounts::verified_ms.eq(now_ms))
                    .execute(c)
                    .await?;
                    if verified == 0 {
                        return Err(ConfirmError::Invalid);
                    }
                    Ok(account)
                }
                (None, Some(password_hash)) => {
                    let inserted = diesel::insert_into(accounts::table)
                        .values((
                            accounts::email.eq(&email),
                            accounts::email_key.eq(&key),
                            accounts::password_hash.eq(&password_hash),
                            accounts::cart_id.eq(cart_id),
                            accounts::verified_ms.eq(now_ms),
                        ))
                        .returning(accounts::id)
                        .get_result(c)
                        .await;
                    match inserted {
                        Ok(id) => Ok(id),
                        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                            Err(ConfirmError::Taken)
                        }
                        Err(e) => Err(e.into()),
                    }
                }
                (None, None) => Err(ConfirmError::Invalid),
            }
        })
        .await
    });
    // The pool may hold one connection (SQLite): give it back before reading the account.
    drop(conn);
    match outcome {
        Ok(id) => Ok(find(db, AccountId(id))
            .await?
            .map_or(Confirmation::Invalid, Confirmation::Verified)),
        Err(ConfirmError::Invalid) => Ok(Confirmation::Invalid),
        Err(ConfirmError::Taken) => Ok(Confirmation::Taken),
        Err(ConfirmError::Db(e)) => Err(e.into()),
    }
}

/// The account's id and password hash, for a login: the account with exactly this address,
/// else the one its canonical form belongs to (`ada+x@` signs in to `ada@`).
pub async fn credentials(
    db: &Db,
    email: &Email,
) -> Result<Option<(AccountId, String)>, StoreError> {
    let mut conn = db.get().await?;
    let rows: Vec<(i32, String, String)> = with_conn!(conn, |c| {
        accounts::table
            .filter(
                accounts::email
                    .eq(email.as_str())
                    .or(accounts::email_key.eq(email.key())),
            )
            .select((accounts::id, accounts::email, accounts::password_hash))
            .limit(2)
            .load(c)
            .await?
    });
    let exact = rows.iter().position(|(_, e, _)| e == email.as_str());
    let row = match exact {
        Some(i) => rows.into_iter().nth(i),
        None => rows.into_iter().next(),
    };
    Ok(row.map(|(id, _, hash)| (AccountId(id), hash)))
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
    type Row = (i32, String, String, Option<String>, Option<i64>);
    let row: Option<Row> = with_conn!(conn, |c| {
        accounts::table
            .filter(accounts::id.eq(id.0))
            .select((
                accounts::id,
                accounts::email,
                accounts::cart_id,
                accounts::cart_token,
                accounts::verified_ms,
            ))
            .first(c)
            .await
            .optional()?
    });
    Ok(
        row.map(|(id, email, cart_id, cart_token, verified_ms)| AccountRow {
            id: AccountId(id),
            email,
            cart_id,
            cart_token,
            verified: verified_ms.is_some(),
        }),
    )
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
            .filter(orders::state.eq_any(["paid", "fulfilled"]))
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
