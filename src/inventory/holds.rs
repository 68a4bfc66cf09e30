//! Holds: adding a pair to a cart takes it out of stock for that shopper (the same rules as a
//! purchase: stock, the limit per customer, line admission), and every page sees the level
//! change as for a sale. A hold ends by being paid or by returning its pair: when the shopper
//! removes it, or when the database says it expired. Every node sweeps expired holds (see
//! [`spawn_sweeper`]), so a killed node's holds still end on time and a restarted node ends
//! the ones that expired while it was down.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;

use super::{Inventory, InventoryError};
use crate::domain::cart_line::EndedHold;
use crate::domain::checkout::CheckoutError;
use crate::domain::hold::Hold;
use crate::domain::{CartError, ItemId, Shopper};
use crate::error_chain::ErrorChain;
use crate::store::holds::{self, HoldOutcome, Swept};

/// How often each node looks for expired holds: a returned pair is back on every page within
/// a second.
const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// Why a hold is refused, for the cart's reply.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    #[error(transparent)]
    Cart(#[from] CartError),
    /// A limited pair needs a signed-in shopper.
    #[error("a limited pair needs an account")]
    SignInRequired,
    /// A limited pair needs an account whose email is verified.
    #[error("a limited pair needs a verified email")]
    VerificationRequired,
    #[error(transparent)]
    Inventory(#[from] InventoryError),
}

impl HoldError {
    /// The cart's error code of a refusal (as `CartError::code`), naming the rule that said
    /// no; `None` when the store failed rather than a rule.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            HoldError::Cart(error) => Some(error.code()),
            HoldError::SignInRequired => Some("sign_in_required"),
            HoldError::VerificationRequired => Some("verification_required"),
            HoldError::Inventory(_) => None,
        }
    }
}

impl Inventory {
    /// How long a hold lasts.
    pub fn hold_ms(&self) -> i64 {
        i64::try_from(self.hold.as_millis()).unwrap_or(i64::MAX)
    }

    /// Holds one pair of `item_id` for `shopper`. The cache spares the database hopeless
    /// attempts (unknown, unreleased, sold out, not let in from the line); the database has
    /// the last word on stock and the limit.
    pub async fn hold(&self, shopper: &Shopper, item_id: ItemId) -> Result<Hold, HoldError> {
        let (product_id, price_cents) = self
            .read(|c| {
                let (product, item) = c.item(item_id)?;
                Some((
                    product.released,
                    product.id,
                    product.price_cents,
                    item.available_count,
                ))
            })
            .and_then(|(released, id, price, count)| released.then_some((id, price, count)))
            .map(|(id, price, count)| {
                if count > 0 {
                    Ok((id, price))
                } else {
                    Err(CartError::SoldOut)
                }
            })
            .ok_or(CartError::InvalidItem)??;
        self.admission(item_id, &shopper.cart_id)?;
        let now = Utc::now().timestamp_millis();
        let hold = Hold::new(item_id, price_cents, now, self.hold_ms());
        match holds::hold(
            &self.db,
            &shopper.cart_id,
            shopper.account,
            product_id,
            hold,
            self.admitted_since(),
        )
        .await
        .map_err(InventoryError::from)?
        {
            HoldOutcome::Held {
                hold,
                count: (item, count, version),
            } => {
                self.record(item, count, version);
                Ok(hold)
            }
            HoldOutcome::Duplicate => Err(CartError::DuplicateItem.into()),
            HoldOutcome::SoldOut => {
                self.refresh_count(item_id).await?;
                Err(CartError::SoldOut.into())
            }
            HoldOutcome::Refused(CheckoutError::SignInRequired) => Err(HoldError::SignInRequired),
            HoldOutcome::Refused(CheckoutError::VerificationRequired) => {
                Err(HoldError::VerificationRequired)
            }
            HoldOutcome::Refused(CheckoutError::NotAdmitted(_)) => {
                Err(CartError::NotAdmitted.into())
            }
            HoldOutcome::Refused(_) => Err(CartError::LimitReached.into()),
        }
    }

    /// The shopper took the pair out of the cart: it goes back to stock at once (an order
    /// waiting for payment on it is cancelled). `false` when it was not held (or is being
    /// paid for).
    pub async fn release_hold(
        &self,
        holder: &str,
        item_id: ItemId,
    ) -> Result<bool, InventoryError> {
        match holds::release(&self.db, holder, item_id).await? {
            Some(holds::Released {
                count: (item, count, version),
                cancelled,
            }) => {
                self.record(item, count, version);
                if let Some(order_id) = cancelled {
                    self.order_changed(order_id, holder);
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// A guest signed in: the pairs it holds are the account's now (see `holds::transfer`).
    pub async fn move_holds(
        &self,
        from: &str,
        to: &str,
        account: crate::domain::AccountId,
    ) -> Result<(), InventoryError> {
        if from == to {
            return Ok(());
        }
        for (item, count, version) in holds::transfer(&self.db, from, to, account).await? {
            self.record(item, count, version);
        }
        self.holds_changed(from);
        self.holds_changed(to);
        Ok(())
    }

    /// What a shopper holds now, as the database says.
    pub async fn holds_of(&self, holder: &str) -> Result<Vec<Hold>, InventoryError> {
        Ok(holds::of_holder(&self.db, holder).await?)
    }

    /// What a shopper's cart shows now, as the database says: the holds that have not ended,
    /// and the pairs whose holds ended unpaid in it (a hold past its end that the sweep has not
    /// reached yet is one of those already).
    pub async fn cart_of(
        &self,
        holder: &str,
    ) -> Result<(Vec<Hold>, Vec<EndedHold>), InventoryError> {
        let now = Utc::now().timestamp_millis();
        let (current, past): (Vec<Hold>, Vec<Hold>) = holds::of_holder(&self.db, holder)
            .await?
            .into_iter()
            .partition(|h| !h.is_expired(now));
        let mut ended = holds::ended_of(&self.db, holder).await?;
        for hold in past {
            if !ended.iter().any(|e| e.item_id == hold.item_id) {
                ended.push(EndedHold {
                    item_id: hold.item_id,
                    price_cents: hold.price_cents,
                });
            }
        }
        Ok((current, ended))
    }

    /// The shopper took the warning of an ended hold out of the cart; `false` when there was
    /// none.
    pub async fn forget_ended(
        &self,
        holder: &str,
        item_id: ItemId,
    ) -> Result<bool, InventoryError> {
        Ok(holds::forget_ended(&self.db, holder, item_id).await?)
    }

    /// Pairs held per item, as the database says.
    pub async fn held_counts(&self) -> Result<Vec<(ItemId, i64)>, InventoryError> {
        Ok(holds::held_counts(&self.db).await?)
    }

    /// Pairs of an item sold for good (paid or shipped orders).
    pub async fn sold_count(&self, item_id: ItemId) -> Result<i64, InventoryError> {
        Ok(holds::sold_count(&self.db, item_id).await?)
    }

    /// The database's count of an item, into the cache.
    async fn refresh_count(&self, item_id: ItemId) -> Result<(), InventoryError> {
        if let Some((count, version)) = crate::store::catalog::stock(&self.db, item_id).await? {
            self.record(item_id, count, version);
        }
        Ok(())
    }

    /// Ends every expired hold: its pair returns (every page hears it as a stock change), an
    /// order waiting on it is cancelled and its payment let go. Returns the pairs returned.
    pub async fn sweep_holds(self: &Arc<Self>) -> Result<usize, InventoryError> {
        let now = Utc::now().timestamp_millis();
        if holds::next_expiry(&self.db)
            .await?
            .is_none_or(|at| at > now)
        {
            return Ok(0);
        }
        let Swept {
            counts,
            cancelled,
            holders,
        } = holds::sweep(&self.db, now).await?;
        let returned = counts.len();
        for (item, count, version) in counts {
            self.record(item, count, version);
        }
        for holder in holders {
            self.holds_changed(&holder);
        }
        for order in cancelled {
            tracing::info!(
                order_id = order.order_id,
                "hold ended unpaid: order cancelled"
            );
            self.order_changed(order.order_id, &order.holder);
            if let Some(reference) = order.payment_ref {
                self.let_payment_go_soon(reference);
            }
        }
        Ok(returned)
    }
}

/// Sweeps expired holds on this node, a few times a second (a cheap indexed look first).
pub fn spawn_sweeper(inventory: Arc<Inventory>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match inventory.sweep_holds().await {
                Ok(_) => failing = false,
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(error = %ErrorChain(&error), "cannot sweep expired holds");
                }
                Err(_) => {}
            }
        }
    })
}
