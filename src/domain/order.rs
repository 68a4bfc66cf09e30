//! Orders: what a shopper reads back, the states an order lives through and the one rule of
//! which change may follow which.
//!
//! ```text
//! pending_payment --pay--> paid --fulfil--> fulfilled
//!        |                  |                  |
//!      cancel            refund             refund
//!        v                  v                  v
//!    cancelled --refund--> refunded <----------+
//! ```
//!
//! A cancelled order is never paid: a payment that succeeds after its holds ended (their pairs
//! went back to the crowd that moment) is refunded.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: i32,
    pub total_cents: i32,
    pub placed_at: DateTime<Utc>,
    pub state: OrderState,
    pub lines: Vec<OrderedPair>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedPair {
    pub brand: String,
    pub name: String,
    pub size: String,
    pub price_cents: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrderState {
    PendingPayment,
    Paid,
    Fulfilled,
    Cancelled,
    Refunded,
}

/// What happens to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The provider took the money.
    Pay,
    /// Shipped (by an admin).
    Fulfil,
    /// The hold ended unpaid, or an admin cancelled an unpaid order.
    Cancel,
    /// The money went back (an admin's refund, or a payment that came too late).
    Refund,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {from} order cannot be {}", change.done())]
pub struct NotAllowed {
    pub from: OrderState,
    pub change: Change,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an order state")]
pub struct BadState;

impl OrderState {
    pub const ALL: [OrderState; 5] = [
        OrderState::PendingPayment,
        OrderState::Paid,
        OrderState::Fulfilled,
        OrderState::Cancelled,
        OrderState::Refunded,
    ];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::PendingPayment => "pending_payment",
            OrderState::Paid => "paid",
            OrderState::Fulfilled => "fulfilled",
            OrderState::Cancelled => "cancelled",
            OrderState::Refunded => "refunded",
        }
    }

    /// What a shopper reads.
    pub fn label(self) -> &'static str {
        match self {
            OrderState::PendingPayment => "Waiting for payment",
            OrderState::Paid => "Paid",
            OrderState::Fulfilled => "Shipped",
            OrderState::Cancelled => "Cancelled",
            OrderState::Refunded => "Refunded",
        }
    }

    /// The state after `change`, or why it may not happen.
    pub fn after(self, change: Change) -> Result<OrderState, NotAllowed> {
        use Change::*;
        use OrderState::*;
        match (self, change) {
            (PendingPayment, Pay) => Ok(Paid),
            (Paid, Fulfil) => Ok(Fulfilled),
            (PendingPayment, Cancel) => Ok(Cancelled),
            (Paid | Fulfilled | Cancelled, Refund) => Ok(Refunded),
            (from, change) => Err(NotAllowed { from, change }),
        }
    }

    /// The pairs of an order in this state are sold (counted against the stock for good and
    /// against a customer's limit).
    pub fn holds_pairs(self) -> bool {
        matches!(self, OrderState::Paid | OrderState::Fulfilled)
    }
}

impl Change {
    fn done(self) -> &'static str {
        match self {
            Change::Pay => "paid",
            Change::Fulfil => "fulfilled",
            Change::Cancel => "cancelled",
            Change::Refund => "refunded",
        }
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderState {
    type Err = BadState;

    fn from_str(text: &str) -> Result<OrderState, BadState> {
        OrderState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or(BadState)
    }
}

/// What to do when the provider says a payment of an order succeeded. Exactly once: whatever
/// order and however often the provider's word arrives (the browser's return, a webhook twice,
/// the reconcile pass), one of these is decided from the order's state in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSuccess {
    /// The usual case: its holds become sold pairs.
    MarkPaid,
    /// Its holds ended first, and their pairs went back on sale: refund it.
    Refund,
    /// Already settled: nothing to do.
    Settled,
}

pub fn on_payment_succeeded(state: OrderState) -> OnSuccess {
    match state {
        OrderState::PendingPayment => OnSuccess::MarkPaid,
        OrderState::Cancelled => OnSuccess::Refund,
        OrderState::Paid | OrderState::Fulfilled | OrderState::Refunded => OnSuccess::Settled,
    }
}

#[cfg(test)]
mod tests {
    use super::Change::*;
    use super::OrderState::*;
    use super::*;

    #[test]
    fn an_order_moves_only_along_its_arrows() {
        assert_eq!(PendingPayment.after(Pay), Ok(Paid));
        assert_eq!(Paid.after(Fulfil), Ok(Fulfilled));
        assert_eq!(PendingPayment.after(Cancel), Ok(Cancelled));
        assert_eq!(Paid.after(Refund), Ok(Refunded));
        assert_eq!(Fulfilled.after(Refund), Ok(Refunded));
        assert_eq!(Cancelled.after(Refund), Ok(Refunded));
        for (from, change) in [
            (PendingPayment, Fulfil),
            (PendingPayment, Refund),
            (Paid, Pay),
            (Paid, Cancel),
            (Fulfilled, Fulfil),
            (Fulfilled, Cancel),
            (Refunded, Refund),
            (Refunded, Pay),
            (Cancelled, Cancel),
            (Cancelled, Pay),
            (Cancelled, Fulfil),
        ] {
            assert_eq!(from.after(change), Err(NotAllowed { from, change }));
        }
        assert_eq!(
            Paid.after(Cancel).map_err(|e| e.to_string()),
            Err("a paid order cannot be cancelled".into())
        );
    }

    #[test]
    fn a_success_is_settled_once_whatever_came_first() {
        assert_eq!(on_payment_succeeded(PendingPayment), OnSuccess::MarkPaid);
        assert_eq!(on_payment_succeeded(Cancelled), OnSuccess::Refund);
        for settled in [Paid, Fulfilled, Refunded] {
            assert_eq!(on_payment_succeeded(settled), OnSuccess::Settled);
        }
    }

    #[test]
    fn states_read_back_from_their_names() {
        for state in OrderState::ALL {
            assert_eq!(state.as_str().parse(), Ok(state));
        }
        assert_eq!("shipped".parse::<OrderState>(), Err(BadState));
        assert!(Paid.holds_pairs() && Fulfilled.holds_pairs());
        assert!(!PendingPayment.holds_pairs() && !Refunded.holds_pairs());
    }
}
