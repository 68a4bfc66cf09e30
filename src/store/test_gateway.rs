//! The built-in test gateway's ledger: its charges, kept in their own table as a provider's
//! books are kept apart from the store's orders. Each step is one guarded statement, so two
//! nodes confirming the same charge make one outcome.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::test_gateway_charges as charges;
use super::{Db, StoreError};
use crate::with_conn;

/// A charge as the gateway keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct ChargeRow {
    pub reference: String,
    pub amount_cents: i32,
    pub manual_capture: bool,
    pub status: String,
    pub decline_code: Option<String>,
    pub refunded_cents: i32,
}

/// Writes a charge unless one with this idempotency key exists; returns the key's charge.
pub async fn create(
    db: &Db,
    reference: &str,
    idempotency_key: &str,
    amount_cents: i32,
    currency: &str,
    manual_capture: bool,
) -> Result<ChargeRow, StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        diesel::insert_into(charges::table)
            .values((
                charges::reference.eq(reference),
                charges::idempotency_key.eq(idempotency_key),
                charges::amount_cents.eq(amount_cents),
                charges::currency.eq(currency),
                charges::manual_capture.eq(manual_capture),
                charges::status.eq("created"),
            ))
            .on_conflict(charges::idempotency_key)
            .do_nothing()
            .execute(c)
            .await?;
        Ok(charges::table
            .filter(charges::idempotency_key.eq(idempotency_key))
            .select(columns())
            .first(c)
            .await?)
    })
}

type Columns = (
    charges::reference,
    charges::amount_cents,
    charges::manual_capture,
    charges::status,
    charges::decline_code,
    charges::refunded_cents,
);

fn columns() -> Columns {
    (
        charges::reference,
        charges::amount_cents,
        charges::manual_capture,
        charges::status,
        charges::decline_code,
        charges::refunded_cents,
    )
}

pub async fn find(db: &Db, reference: &str) -> Result<Option<ChargeRow>, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        charges::table
            .filter(charges::reference.eq(reference))
            .select(columns())
            .first(c)
            .await
            .optional()?
    }))
}

/// Moves a charge from one of `from` to `to` (with a decline code and the card's last four
/// digits when given); whoever is second finds it moved. Returns the charge as it is now.
pub async fn advance(
    db: &Db,
    reference: &str,
    from: &[&str],
    to: &str,
    decline_code: Option<&str>,
    last4: Option<&str>,
) -> Result<Option<ChargeRow>, StoreError> {
    let mut conn = db.get().await?;
    let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
    with_conn!(conn, |c| {
        diesel::update(
            charges::table
                .filter(charges::reference.eq(reference))
                .filter(charges::status.eq_any(&from)),
        )
        .set((
            charges::status.eq(to),
            charges::decline_code.eq(decline_code),
            charges::card_last4.eq(last4),
            charges::updated_at.eq(Utc::now().naive_utc()),
        ))
        .execute(c)
        .await?;
        Ok(charges::table
            .filter(charges::reference.eq(reference))
            .select(columns())
            .first(c)
            .await
            .optional()?)
    })
}

/// Gives `amount` of a succeeded charge back, never more than was charged; `false` when
/// nothing was refunded.
pub async fn refund(db: &Db, reference: &str, amount: i32) -> Result<bool, StoreError> {
    let mut conn = db.get().await?;
    let refunded = with_conn!(conn, |c| {
        diesel::update(
            charges::table
                .filter(charges::reference.eq(reference))
                .filter(charges::status.eq("succeeded"))
                .filter((charges::refunded_cents + amount).le(charges::amount_cents)),
        )
        .set((
            charges::refunded_cents.eq(charges::refunded_cents + amount),
            charges::updated_at.eq(Utc::now().naive_utc()),
        ))
        .execute(c)
        .await?
    });
    Ok(refunded == 1)
}
