//! Holds: a pair in a cart is the shopper's for a while. How long, when starting checkout
//! extends it, when a failed payment shortens it, and what a sweep returns. Times are Unix ms,
//! passed in (no clock here).

use super::ids::ItemId;

/// How long a declined payment keeps its pairs for a retry before they go back.
pub const RETRY_WINDOW_MS: i64 = 120_000;

/// A pair held for a shopper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub item_id: ItemId,
    pub price_cents: i32,
    pub expires_at_ms: i64,
    /// Starting checkout already extended it (it is extended once).
    pub extended: bool,
}

impl Hold {
    /// A new hold of `item_id` taken at `now_ms`, lasting `hold_ms`.
    pub fn new(item_id: ItemId, price_cents: i32, now_ms: i64, hold_ms: i64) -> Hold {
        Hold {
            item_id,
            price_cents,
            expires_at_ms: now_ms.saturating_add(hold_ms),
            extended: false,
        }
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms <= now_ms
    }

    /// Starting checkout: a full `hold_ms` from now, once. A second start (a refresh, a retry)
    /// changes nothing, so a shopper cannot keep pairs forever by reloading the checkout.
    pub fn extended_for_checkout(self, now_ms: i64, hold_ms: i64) -> Hold {
        if self.extended || self.is_expired(now_ms) {
            return self;
        }
        Hold {
            expires_at_ms: self.expires_at_ms.max(now_ms.saturating_add(hold_ms)),
            extended: true,
            ..self
        }
    }

    /// A payment failed: the shopper has [`RETRY_WINDOW_MS`] to try again, never more than the
    /// hold had left.
    pub fn after_failed_payment(self, now_ms: i64) -> Hold {
        Hold {
            expires_at_ms: self
                .expires_at_ms
                .min(now_ms.saturating_add(RETRY_WINDOW_MS)),
            ..self
        }
    }
}

/// The expiry a checkout start gives a hold (see [`Hold::extended_for_checkout`]), as the one
/// rule the database update follows.
pub fn checkout_expiry(expires_at_ms: i64, extended: bool, now_ms: i64, hold_ms: i64) -> i64 {
    Hold {
        item_id: ItemId(0),
        price_cents: 0,
        expires_at_ms,
        extended,
    }
    .extended_for_checkout(now_ms, hold_ms)
    .expires_at_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN_MINUTES: i64 = 600_000;

    #[test]
    fn a_hold_lasts_hold_ms_and_expires_at_its_end() {
        let hold = Hold::new(ItemId(3), 12_000, 1_000, TEN_MINUTES);
        assert_eq!(hold.expires_at_ms, 601_000);
        assert!(!hold.is_expired(600_999));
        assert!(hold.is_expired(601_000));
    }

    #[test]
    fn checkout_extends_once_and_never_revives_an_expired_hold() {
        let hold = Hold::new(ItemId(3), 12_000, 0, TEN_MINUTES);
        let started = hold.extended_for_checkout(500_000, TEN_MINUTES);
        assert_eq!(started.expires_at_ms, 1_100_000);
        assert!(started.extended);
        // A second start later extends nothing.
        assert_eq!(
            started.extended_for_checkout(1_000_000, TEN_MINUTES),
            started
        );
        // An expired hold stays expired.
        let late = hold.extended_for_checkout(TEN_MINUTES, TEN_MINUTES);
        assert_eq!(late, hold);
        assert_eq!(
            checkout_expiry(600_000, false, 500_000, TEN_MINUTES),
            1_100_000
        );
        assert_eq!(
            checkout_expiry(600_000, true, 500_000, TEN_MINUTES),
            600_000
        );
    }

    #[test]
    fn a_failed_payment_leaves_two_minutes_at_most() {
        let hold = Hold::new(ItemId(3), 12_000, 0, TEN_MINUTES);
        assert_eq!(hold.after_failed_payment(1_000).expires_at_ms, 121_000);
        // Never longer than the hold had left.
        assert_eq!(
            hold.after_failed_payment(590_000).expires_at_ms,
            TEN_MINUTES
        );
    }
}
