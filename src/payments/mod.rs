//! Taking the money: one adapter, two providers. [`Payments::Stripe`] speaks to Stripe's
//! PaymentIntents API (or anything at `STRIPE_API_BASE` that speaks it); [`Payments::Test`] is
//! the built-in test gateway, used when no Stripe key is set, whose test cards follow Stripe's.
//! Both go through the same steps, so the inventory service settles them the same way:
//!
//! ```text
//! create (idempotency key, amount, card)  ->  confirm  ->  succeeded | declined | requires_capture
//! lookup (the reconcile pass, the browser's return)     refund     cancel     capture
//! ```
//!
//! A payment made with [`Capture::Manual`] is only authorised by `confirm` (`requires_capture`)
//! and charged by `capture` or let go by `cancel` (draws authorise every entry, capture the
//! winners and cancel the rest).
//!
//! Only the inventory service calls this layer, never a handler.

pub mod signature;
pub mod stripe;
pub mod test_gateway;

use crate::domain::payment::{Decline, TestCard};
use crate::store::StoreError;

pub use stripe::Stripe;
pub use test_gateway::TestGateway;

/// The currency every price is in.
pub const CURRENCY: &str = "usd";

/// When the money moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// Charged when confirmed.
    Automatic,
    /// Authorised when confirmed; charged by [`Payments::capture`].
    Manual,
}

/// One payment to create.
#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    /// The same key for a retry of the same attempt: the provider makes one payment of it.
    pub idempotency_key: &'a str,
    pub amount_cents: i32,
    pub order_id: i32,
    pub capture: Capture,
}

/// What pays: the card Stripe.js tokenised in the browser (a `card_…`, `pm_…` id; the number
/// never reaches the store), or the test gateway's card form.
#[derive(Debug, Clone)]
pub enum Method {
    Stripe(String),
    Test(TestCard),
}

/// Where a payment is, as its provider says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Created, not confirmed (or being processed).
    Pending,
    /// Authorised, waiting for a capture.
    RequiresCapture {
        amount_cents: i32,
    },
    Succeeded {
        amount_cents: i32,
    },
    Declined(Decline),
    Canceled,
}

impl Status {
    /// The `payments.status` column.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Pending => "created",
            Status::RequiresCapture { .. } => "requires_capture",
            Status::Succeeded { .. } => "succeeded",
            Status::Declined(_) => "declined",
            Status::Canceled => "canceled",
        }
    }

    /// Nothing will change any more without the store asking.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Status::Succeeded { .. } | Status::Declined(_) | Status::Canceled
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("the payment provider cannot be reached")]
    Unreachable(#[source] reqwest::Error),
    #[error("the payment provider answered {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("the payment provider's answer cannot be read: {0}")]
    Unreadable(String),
    #[error("that way of paying is not this provider's")]
    WrongMethod,
    #[error("no payment {0} at the provider")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The provider this node takes money with.
pub enum Payments {
    Stripe(Stripe),
    Test(TestGateway),
}

impl Payments {
    /// The `payments.provider` column.
    pub fn provider(&self) -> &'static str {
        match self {
            Payments::Stripe(_) => "stripe",
            Payments::Test(_) => "test",
        }
    }

    /// The publishable key the browser's Stripe.js uses, with the script's address.
    pub fn browser_keys(&self) -> Option<(&str, String)> {
        match self {
            Payments::Stripe(stripe) => Some((stripe.publishable_key(), stripe.script_url())),
            Payments::Test(_) => None,
        }
    }

    /// Where the browser's part of the provider loads from and talks to (none for the test
    /// gateway): the payment page's Content-Security-Policy lets these in.
    pub fn browser_origins(&self) -> Vec<String> {
        match self {
            Payments::Stripe(stripe) => stripe.origins(),
            Payments::Test(_) => Vec::new(),
        }
    }

    /// Creates a payment (not yet confirmed); returns the provider's reference.
    pub async fn create(
        &self,
        payment: &NewPayment<'_>,
        method: &Method,
    ) -> Result<String, PaymentError> {
        match (self, method) {
            (Payments::Stripe(s), Method::Stripe(card)) => s.create(payment, card).await,
            (Payments::Test(t), Method::Test(_)) => t.create(payment).await,
            _ => Err(PaymentError::WrongMethod),
        }
    }

    /// Confirms a created payment: charges (or authorises) the card.
    pub async fn confirm(
        &self,
        reference: &str,
        method: &Method,
        idempotency_key: &str,
    ) -> Result<Status, PaymentError> {
        match (self, method) {
            (Payments::Stripe(s), Method::Stripe(_)) => s.confirm(reference, idempotency_key).await,
            (Payments::Test(t), Method::Test(card)) => t.confirm(reference, card).await,
            _ => Err(PaymentError::WrongMethod),
        }
    }

    /// Where a payment is now.
    pub async fn lookup(&self, reference: &str) -> Result<Status, PaymentError> {
        match self {
            Payments::Stripe(s) => s.lookup(reference).await,
            Payments::Test(t) => t.lookup(reference).await,
        }
    }

    /// Lets an unconfirmed or authorised payment go. A payment that already succeeded stays
    /// so (the answer says it): it is refunded instead.
    pub async fn cancel(&self, reference: &str) -> Result<Status, PaymentError> {
        match self {
            Payments::Stripe(s) => s.cancel(reference).await,
            Payments::Test(t) => t.cancel(reference).await,
        }
    }

    /// Charges an authorised payment.
    pub async fn capture(
        &self,
        reference: &str,
        idempotency_key: &str,
    ) -> Result<Status, PaymentError> {
        match self {
            Payments::Stripe(s) => s.capture(reference, idempotency_key).await,
            Payments::Test(t) => t.capture(reference).await,
        }
    }

    /// Gives `amount_cents` of a succeeded payment back; returns the refund's reference.
    pub async fn refund(
        &self,
        reference: &str,
        amount_cents: i32,
        idempotency_key: &str,
    ) -> Result<String, PaymentError> {
        match self {
            Payments::Stripe(s) => s.refund(reference, amount_cents, idempotency_key).await,
            Payments::Test(t) => t.refund(reference, amount_cents).await,
        }
    }
}
