//! Taking the money for an order, exactly once. Checkout turns a shopper's holds into an order
//! waiting for payment; a card submission creates a payment attempt at the provider (recorded
//! before it is confirmed, so a crash leaves a trace) and confirms it; the provider's word
//! that it succeeded (the confirm's own answer, the signed webhook, or the reconcile pass,
//! whichever comes first) settles the order once in the database (`store::payments`). A
//! payment that succeeds after its holds ended (their pairs went back on sale that moment) is
//! refunded: never an oversell.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;

use super::{Inventory, InventoryError};
use crate::domain::Shopper;
use crate::domain::address::Address;
use crate::domain::order::{Change, OrderState};
use crate::domain::payment::Decline;
use crate::error_chain::ErrorChain;
use crate::payments::{Capture, NewPayment, PaymentError, Status, signature};
use crate::store::payments::{self as ledger, Begin, Settled};

// What the checkout page hands this service and gets back.
pub use crate::payments::{Method, Payments};
pub use crate::store::payments::Begun;

/// How long a submission waits for another's creation of the same attempt.
const CLAIM_WAIT: Duration = Duration::from_secs(15);

/// The reconcile pass runs at start and this often.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum PayError {
    #[error("no order {0} waiting for payment")]
    NotPayable(i32),
    #[error(transparent)]
    Provider(#[from] PaymentError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
}

impl From<crate::store::StoreError> for PayError {
    fn from(e: crate::store::StoreError) -> PayError {
        PayError::Inventory(e.into())
    }
}

/// What a card submission came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paid {
    /// The order is paid.
    Paid { order_id: i32 },
    /// Refused by the bank: nothing charged, the holds keep the pairs a short while.
    Declined(Decline),
    /// The provider has not decided yet (the webhook or the reconcile pass will).
    Pending,
    /// It succeeded after the order's holds ended: refunded.
    Refunded { order_id: i32 },
}

/// What a webhook delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Settled,
    /// An event the store does not act on, or about a payment it does not know.
    Ignored,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("this store takes no Stripe webhooks (no Stripe keys are set)")]
    NotStripe,
    #[error(transparent)]
    Signature(#[from] signature::SignatureError),
    #[error("the event cannot be read")]
    Unreadable,
    #[error(transparent)]
    Pay(#[from] PayError),
}

impl Inventory {
    pub fn payments(&self) -> &Payments {
        &self.payments
    }

    /// Starts checkout for `shopper`'s holds: an order waiting for payment (the same one again
    /// for a refresh or a double click), its holds extended once.
    pub async fn begin_checkout(
        &self,
        shopper: &Shopper,
        email: &str,
        address: &Address,
        node: &str,
    ) -> Result<Begun, InventoryError> {
        let begun = ledger::begin(
            &self.db,
            &Begin {
                holder: &shopper.cart_id,
                account: shopper.account,
                email,
                address,
                node,
                now_ms: Utc::now().timestamp_millis(),
                hold_ms: self.hold_ms(),
                admitted_since: self.admitted_since(),
            },
        )
        .await?;
        if let Begun::Order { order_id, .. } = begun {
            self.holds_changed(&shopper.cart_id);
            self.order_changed(order_id, &shopper.cart_id);
        }
        Ok(begun)
    }

    /// Pays an order waiting for payment with `method`. A second submission of the same
    /// attempt (a double click, a retry after a timeout) reaches the same payment at the
    /// provider: one charge.
    pub async fn pay(&self, order_id: i32, method: &Method) -> Result<Paid, PayError> {
        let Some((_, state, total)) = ledger::order_head(&self.db, order_id).await? else {
            return Err(PayError::NotPayable(order_id));
        };
        if state != OrderState::PendingPayment {
            return match state {
                OrderState::Paid | OrderState::Fulfilled => Ok(Paid::Paid { order_id }),
                _ => Err(PayError::NotPayable(order_id)),
            };
        }
        let (reference, key) = self.attempt(order_id, total, method).await?;
        let status = match self
            .payments
            .confirm(&reference, method, &format!("{key}-confirm"))
            .await
        {
            Ok(status) => status,
            // The confirm's answer was lost, or it was confirmed already: ask.
            Err(PaymentError::Unreachable(_) | PaymentError::Refused { .. }) => {
                self.payments.lookup(&reference).await?
            }
            Err(other) => return Err(other.into()),
        };
        self.settle(&reference, status).await
    }

    /// The attempt to confirm: the one in flight (another submission's, or one whose answer
    /// was lost), or a new one after a decline. Claimed in the database before the provider
    /// is asked, so concurrent submissions share one.
    async fn attempt(
        &self,
        order_id: i32,
        total: i32,
        method: &Method,
    ) -> Result<(String, String), PayError> {
        let deadline = tokio::time::Instant::now() + CLAIM_WAIT;
        loop {
            let latest = ledger::latest_attempt(&self.db, order_id).await?;
            let key = match &latest {
                Some(attempt) if attempt.status == "created" && !attempt.uncreated() => {
                    return Ok((attempt.reference.clone(), attempt.idempotency_key.clone()));
                }
                // Someone is creating it: wait for them, unless they never finished.
                Some(attempt)
                    if attempt.status == "created" && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                Some(attempt) if attempt.status == "created" => attempt.idempotency_key.clone(),
                _ => {
                    let number = ledger::attempts(&self.db, order_id).await? + 1;
                    let key = format!("sneakers-order-{order_id}-attempt-{number}");
                    let provider = self.payments.provider();
                    if !ledger::claim_attempt(&self.db, order_id, provider, &key, total).await? {
                        continue;
                    }
                    key
                }
            };
            let payment = NewPayment {
                idempotency_key: &key,
                amount_cents: total,
                order_id,
                capture: Capture::Automatic,
            };
            let reference = self.payments.create(&payment, method).await?;
            ledger::record_attempt(
                &self.db,
                order_id,
                self.payments.provider(),
                &reference,
                &key,
                total,
            )
            .await?;
            return Ok((reference, key));
        }
    }

    /// Acts on what the provider says of one payment; safe to call any number of times.
    pub async fn settle(&self, reference: &str, status: Status) -> Result<Paid, PayError> {
        match status {
            Status::Succeeded { amount_cents } => {
                match ledger::settle_success(&self.db, reference, amount_cents).await? {
                    Settled::Paid { order_id, holder } => {
                        tracing::info!(order_id, "order paid");
                        self.holds_changed(&holder);
                        self.order_changed(order_id, &holder);
                        Ok(Paid::Paid { order_id })
                    }
                    Settled::Already { order_id } => {
                        match ledger::order_head(&self.db, order_id).await? {
                            Some((_, OrderState::Refunded, _)) => Ok(Paid::Refunded { order_id }),
                            _ => Ok(Paid::Paid { order_id }),
                        }
                    }
                    Settled::MustRefund {
                        order_id,
                        amount_cents,
                    } => {
                        self.refund_late(order_id, reference, amount_cents).await?;
                        Ok(Paid::Refunded { order_id })
                    }
                    Settled::Unknown => Ok(Paid::Pending),
                }
            }
            Status::Declined(decline) => {
                let now = Utc::now().timestamp_millis();
                ledger::declined(&self.db, reference, decline.code(), now).await?;
                if let Some(attempt) = ledger::attempt(&self.db, reference).await?
                    && let Some((holder, _, _)) =
                        ledger::order_head(&self.db, attempt.order_id).await?
                {
                    self.holds_changed(&holder);
                }
                Ok(Paid::Declined(decline))
            }
            Status::Canceled => {
                ledger::set_status(&self.db, reference, "canceled").await?;
                Ok(Paid::Pending)
            }
            Status::Pending | Status::RequiresCapture { .. } => Ok(Paid::Pending),
        }
    }

    /// A payment that came after its order's holds ended: the money goes back, the order says
    /// so.
    async fn refund_late(
        &self,
        order_id: i32,
        reference: &str,
        amount_cents: i32,
    ) -> Result<(), PayError> {
        let refund = self
            .payments
            .refund(
                reference,
                amount_cents,
                &format!("sneakers-refund-{reference}"),
            )
            .await?;
        let note = "paid after its hold ended (the pairs went back on sale): refunded in full";
        ledger::refunded(&self.db, order_id, reference, &refund, None, note, false).await?;
        tracing::warn!(order_id, reference, "late payment refunded");
        if let Some((holder, _, _)) = ledger::order_head(&self.db, order_id).await? {
            self.order_changed(order_id, &holder);
        }
        Ok(())
    }

    /// An order's holds ended unpaid: its payment at the provider is let go, unless it
    /// succeeded meanwhile (then it is settled as a late payment).
    pub(super) fn let_payment_go_soon(self: &Arc<Self>, reference: String) {
        let inventory = Arc::clone(self);
        tokio::spawn(async move {
            let outcome = match inventory.payments.cancel(&reference).await {
                Ok(status) => inventory.settle(&reference, status).await.map(|_| ()),
                Err(error) => Err(error.into()),
            };
            if let Err(error) = outcome {
                tracing::warn!(reference, error = %ErrorChain(&error), "cannot let an unpaid payment go (the reconcile pass tries again)");
            }
        });
    }

    /// A Stripe webhook delivery: believed only when its signature holds.
    pub async fn stripe_webhook(
        &self,
        payload: &[u8],
        signature_header: &str,
    ) -> Result<Delivery, WebhookError> {
        let Payments::Stripe(stripe) = &self.payments else {
            return Err(WebhookError::NotStripe);
        };
        signature::verify(
            payload,
            signature_header,
            stripe.webhook_secret(),
            Utc::now().timestamp(),
        )?;
        let event = signature::parse_event(payload).ok_or(WebhookError::Unreadable)?;
        if !event.kind.starts_with("payment_intent.") {
            return Ok(Delivery::Ignored);
        }
        let reference = event.object["id"]
            .as_str()
            .ok_or(WebhookError::Unreadable)?
            .to_string();
        let status = crate::payments::stripe::intent_status(&event.object)
            .map_err(|_| WebhookError::Unreadable)?;
        let status = match (event.kind.as_str(), status) {
            ("payment_intent.succeeded", status @ Status::Succeeded { .. }) => status,
            ("payment_intent.payment_failed", status @ Status::Declined(_)) => status,
            ("payment_intent.canceled", Status::Canceled) => Status::Canceled,
            _ => return Ok(Delivery::Ignored),
        };
        match self.settle(&reference, status).await? {
            Paid::Pending => Ok(Delivery::Ignored),
            _ => Ok(Delivery::Settled),
        }
    }

    /// Asks the provider about every payment not settled yet and settles it; returns how many
    /// it asked about.
    pub async fn reconcile(self: &Arc<Self>) -> Result<usize, PayError> {
        let unsettled = ledger::unsettled(&self.db).await?;
        for attempt in &unsettled {
            let status = match self.payments.lookup(&attempt.reference).await {
                Ok(status) => status,
                Err(error) => {
                    tracing::warn!(reference = attempt.reference, error = %ErrorChain(&error), "reconcile: cannot ask the provider");
                    continue;
                }
            };
            let cancelled = matches!(
                ledger::order_head(&self.db, attempt.order_id).await?,
                Some((_, OrderState::Cancelled, _))
            );
            if cancelled && status == Status::Pending {
                self.let_payment_go_soon(attempt.reference.clone());
                continue;
            }
            if let Err(error) = self.settle(&attempt.reference, status).await {
                tracing::warn!(reference = attempt.reference, error = %ErrorChain(&error), "reconcile: cannot settle");
            }
        }
        Ok(unsettled.len())
    }

    /// An admin refunds a paid (or shipped) order through the provider; with `restock` its
    /// pairs go back on sale.
    pub async fn refund_order(
        &self,
        order_id: i32,
        actor: &str,
        restock: bool,
    ) -> Result<(), PayError> {
        let Some((holder, state, _)) = ledger::order_head(&self.db, order_id).await? else {
            return Err(PayError::NotPayable(order_id));
        };
        if state.after(Change::Refund).is_err() {
            return Err(PayError::NotPayable(order_id));
        }
        let attempt = ledger::latest_attempt(&self.db, order_id).await?;
        let refund_ref = match &attempt {
            Some(attempt) if attempt.status == "succeeded" => {
                self.payments
                    .refund(
                        &attempt.reference,
                        attempt.amount_cents,
                        &format!("sneakers-refund-{}", attempt.reference),
                    )
                    .await?
            }
            // Orders from before payments took no money: nothing to give back.
            _ => "none".to_string(),
        };
        let reference = attempt.map(|a| a.reference).unwrap_or_default();
        let note = if restock {
            "refunded; pairs back in stock"
        } else {
            "refunded"
        };
        let counts = ledger::refunded(
            &self.db,
            order_id,
            &reference,
            &refund_ref,
            Some(actor),
            note,
            restock,
        )
        .await?;
        for (item, count, version) in counts.unwrap_or_default() {
            self.record(item, count, version);
        }
        self.order_changed(order_id, &holder);
        Ok(())
    }

    /// An admin marks an order shipped (with a tracking number) or cancels an unpaid one.
    /// `Ok(Err(state))`: not allowed from the state it is in.
    pub async fn change_order(
        self: &Arc<Self>,
        order_id: i32,
        change: Change,
        actor: &str,
        note: Option<&str>,
    ) -> Result<Result<(), OrderState>, PayError> {
        let Some((holder, _, _)) = ledger::order_head(&self.db, order_id).await? else {
            return Err(PayError::NotPayable(order_id));
        };
        match ledger::change(&self.db, order_id, change, actor, note).await? {
            None => Err(PayError::NotPayable(order_id)),
            Some(Err(state)) => Ok(Err(state)),
            Some(Ok(counts)) => {
                for (item, count, version) in counts {
                    self.record(item, count, version);
                }
                if change == Change::Cancel {
                    self.holds_changed(&holder);
                    if let Some(attempt) = ledger::latest_attempt(&self.db, order_id).await? {
                        self.let_payment_go_soon(attempt.reference);
                    }
                }
                self.order_changed(order_id, &holder);
                Ok(Ok(()))
            }
        }
    }
}

/// The reconcile pass: at start, then every [`RECONCILE_EVERY`].
pub fn spawn_reconciler(inventory: Arc<Inventory>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RECONCILE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match inventory.reconcile().await {
                Ok(0) => {}
                Ok(asked) => tracing::info!(asked, "reconcile pass: asked the provider"),
                Err(error) => {
                    tracing::warn!(error = %ErrorChain(&error), "reconcile pass failed");
                }
            }
        }
    })
}
