//! The built-in test gateway: a provider in the store's own database, so `cargo run` sells
//! without any account anywhere. Its cards follow Stripe's test cards
//! ([`TestCard::outcome`]); it keeps its own ledger (`store::test_gateway`), apart from the
//! orders, so the store settles it exactly as it settles Stripe: a charge made by a node
//! killed before its commit is found by the reconcile pass.

use rand::Rng;
use rand::distr::Alphanumeric;

use super::{CURRENCY, Capture, NewPayment, PaymentError, Status};
use crate::domain::payment::{Decline, TestCard};
use crate::store::Db;
use crate::store::test_gateway::{self as ledger, ChargeRow};

pub struct TestGateway {
    db: Db,
}

fn status(row: &ChargeRow) -> Status {
    match row.status.as_str() {
        "succeeded" => Status::Succeeded {
            amount_cents: row.amount_cents,
        },
        "requires_capture" => Status::RequiresCapture {
            amount_cents: row.amount_cents,
        },
        "declined" => Status::Declined(Decline::from_code(
            row.decline_code.as_deref().unwrap_or("card_declined"),
        )),
        "canceled" => Status::Canceled,
        _ => Status::Pending,
    }
}

impl TestGateway {
    pub fn new(db: Db) -> TestGateway {
        TestGateway { db }
    }

    fn found(&self, reference: &str, row: Option<ChargeRow>) -> Result<Status, PaymentError> {
        row.as_ref()
            .map(status)
            .ok_or_else(|| PaymentError::NotFound(reference.to_string()))
    }

    pub async fn create(&self, payment: &NewPayment<'_>) -> Result<String, PaymentError> {
        let suffix: String = rand::rng()
            .sample_iter(Alphanumeric)
            .take(24)
            .map(char::from)
            .collect();
        let row = ledger::create(
            &self.db,
            &format!("tg_{suffix}"),
            payment.idempotency_key,
            payment.amount_cents,
            CURRENCY,
            payment.capture == Capture::Manual,
        )
        .await?;
        Ok(row.reference)
    }

    pub async fn confirm(&self, reference: &str, card: &TestCard) -> Result<Status, PaymentError> {
        let Some(row) = ledger::find(&self.db, reference).await? else {
            return Err(PaymentError::NotFound(reference.to_string()));
        };
        let (to, code) = match card.outcome() {
            Ok(()) if row.manual_capture => ("requires_capture", None),
            Ok(()) => ("succeeded", None),
            Err(decline) => ("declined", Some(decline.code().to_string())),
        };
        let row = ledger::advance(
            &self.db,
            reference,
            &["created"],
            to,
            code.as_deref(),
            Some(card.last4()),
        )
        .await?;
        self.found(reference, row)
    }

    pub async fn lookup(&self, reference: &str) -> Result<Status, PaymentError> {
        let row = ledger::find(&self.db, reference).await?;
        self.found(reference, row)
    }

    pub async fn cancel(&self, reference: &str) -> Result<Status, PaymentError> {
        let row = ledger::advance(
            &self.db,
            reference,
            &["created", "requires_capture"],
            "canceled",
            None,
            None,
        )
        .await?;
        self.found(reference, row)
    }

    pub async fn capture(&self, reference: &str) -> Result<Status, PaymentError> {
        let Some(row) = ledger::find(&self.db, reference).await? else {
            return Err(PaymentError::NotFound(reference.to_string()));
        };
        let row = ledger::advance(
            &self.db,
            reference,
            &["requires_capture"],
            "succeeded",
            row.decline_code.as_deref(),
            None,
        )
        .await?;
        self.found(reference, row)
    }

    pub async fn refund(&self, reference: &str, amount_cents: i32) -> Result<String, PaymentError> {
        if ledger::refund(&self.db, reference, amount_cents).await? {
            Ok(format!("tgr_{reference}_{amount_cents}"))
        } else {
            Err(PaymentError::Refused {
                status: 400,
                message: format!("{reference} has no {amount_cents} cents left to refund"),
            })
        }
    }
}
