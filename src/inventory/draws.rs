//! Draws: entering (the card authorised through the provider, not charged), withdrawing
//! (the authorisation released), each node's view of every draw, and the draw itself at close:
//! claimed in the database so one node makes it however many run, its steps written one by
//! one so a node that dies mid-draw leaves it for another to resume, captures idempotent.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use tokio::task::JoinHandle;

use super::{Event, Inventory, InventoryError};
use crate::domain::account::Email;
use crate::domain::address::Address;
use crate::domain::draw::{Outcome, Ranked, Standing, Step, Window, address_key, entry_hash, plan};
use crate::domain::payment::Decline;
use crate::domain::payment::TestCard;
use crate::domain::{ItemId, ProductId, Shopper};
use crate::error_chain::ErrorChain;
use crate::payments::{Capture, Method, NewPayment, PaymentError, Payments, Status};
use crate::store::draws::{
    self as ledger, Begun, EntryDetails, EntryRow, NewEntry, StoredDraw, Withdrawn,
};
use crate::store::{self, StoreError};

/// A node holds a draw this long per claim, and renews it while it works: a node that dies
/// mid-draw leaves it to another within this time.
pub const CLAIM_FOR: Duration = Duration::from_secs(15);

/// The draw ticker looks for closed draws this often.
const TICK: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum DrawError {
    #[error("that product has no draw")]
    NoDraw,
    #[error("entries are not open yet: the draw opens {} UTC", .0.format("%a %-d %b, %H:%M"))]
    NotOpenYet(chrono::DateTime<Utc>),
    #[error("entries are closed: the draw is made (or being made)")]
    Closed,
    #[error("you have entered this draw already: withdraw first to enter with another size")]
    AlreadyEntered,
    #[error("that size is not one of this product's")]
    NoSuchSize,
    #[error("sign in to enter the draw")]
    SignInRequired,
    #[error("verify your email to enter the draw")]
    VerificationRequired,
    #[error("you have no entry in this draw to withdraw")]
    NoEntry,
    #[error("{}", .0.message())]
    Declined(Decline),
    #[error("the payment provider did not authorise the card; nothing was charged, try again")]
    NotAuthorised,
    #[error(transparent)]
    Provider(#[from] PaymentError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
}

impl From<StoreError> for DrawError {
    fn from(e: StoreError) -> DrawError {
        DrawError::Inventory(e.into())
    }
}

/// An entry as the shopper's form gave it, checked.
pub struct EntryForm {
    pub item_id: ItemId,
    pub email: Email,
    pub address: Address,
    pub card: Card,
}

/// The card fields of an entry form, as typed.
#[derive(Debug, Clone, Copy, Default)]
pub struct CardFields<'a> {
    pub number: &'a str,
    pub exp: &'a str,
    pub cvc: &'a str,
    /// With Stripe: the payment method Stripe.js made in the browser.
    pub payment_method: &'a str,
}

/// A card that can be authorised with this node's provider.
pub struct Card {
    method: Method,
    /// One card, one fingerprint (see `TestCard::fingerprint`; with Stripe, Stripe's card
    /// fingerprint, the same for every payment method made from that card number).
    fingerprint: String,
    last4: Option<String>,
}

/// What a shopper's page shows of their entry.
#[derive(Debug, Clone)]
pub struct MyEntry {
    pub standing: Standing,
    pub item_id: ItemId,
    pub hash: String,
    pub card_last4: Option<String>,
    pub order_id: Option<i32>,
}

impl MyEntry {
    fn of(row: &EntryRow, card_last4: Option<String>) -> Option<MyEntry> {
        Some(MyEntry {
            standing: Standing::from_state(&row.state, row.void_reason.as_deref())?,
            item_id: ItemId(row.item_id),
            hash: row.hash.clone(),
            card_last4,
            order_id: row.order_id,
        })
    }
}

impl Inventory {
    /// Whether the entry form takes the card's number (the built-in test gateway) rather than
    /// a payment method tokenised by Stripe.js.
    pub fn takes_card_fields(&self) -> bool {
        matches!(self.payments, Payments::Test(_))
    }

    /// Checks an entry form's card for this node's provider; what to fix, in the shopper's
    /// words, otherwise. With Stripe the card's fingerprint is Stripe's (asked of the payment
    /// method), so one card entered through two payment methods is still one card.
    pub async fn entry_card(&self, fields: CardFields<'_>) -> Result<Card, Vec<String>> {
        match &self.payments {
            Payments::Test(_) => TestCard::parse(
                fields.number,
                fields.exp,
                fields.cvc,
                Utc::now().date_naive(),
            )
            .map(|card| Card {
                fingerprint: card.fingerprint(),
                last4: Some(card.last4().to_string()),
                method: Method::Test(card),
            })
            .map_err(|errors| errors.iter().map(|e| e.message.to_string()).collect()),
            Payments::Stripe(stripe) => {
                let method = fields.payment_method.trim();
                let well_formed = !method.is_empty()
                    && method.len() <= 255
                    && method
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !well_formed {
                    return Err(vec!["Enter your card.".to_string()]);
                }
                match stripe.card(method).await {
                    Ok(facts) => Ok(Card {
                        fingerprint: format!("stripe:{}", facts.fingerprint),
                        last4: facts.last4,
                        method: Method::Stripe(method.to_string()),
                    }),
                    Err(PaymentError::NotFound(_)) => {
                        Err(vec!["That card was not found: enter it again.".to_string()])
                    }
                    Err(error) => {
                        tracing::warn!(error = %ErrorChain(&error), "cannot read an entry's card from Stripe");
                        Err(vec![
                            "The payment provider could not read your card: try again in a moment."
                                .to_string(),
                        ])
                    }
                }
            }
        }
    }

    /// This node's view of a product's draw (window, live entries per size, the secret once
    /// published).
    pub fn draw(&self, product_id: ProductId) -> Option<StoredDraw> {
        self.draws
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&product_id)
            .cloned()
    }

    /// Reads every draw again.
    pub async fn refresh_draws(&self) -> Result<(), InventoryError> {
        let fresh: HashMap<ProductId, StoredDraw> = ledger::load(&self.db)
            .await?
            .into_iter()
            .map(|d| (d.product_id, d))
            .collect();
        *self.draws.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// Puts a product in draw mode with `window`, or takes it out with `None` (only before
    /// its window closed).
    pub async fn configure_draw(
        &self,
        product_id: ProductId,
        window: Option<Window>,
    ) -> Result<(), InventoryError> {
        if !ledger::configure(&self.db, product_id, window).await? {
            return Err(InventoryError::ProductNotFound(product_id.to_string()));
        }
        tracing::info!(%product_id, ?window, "draw configured");
        self.refresh_draws().await
    }

    /// The shopper's entry in a product's draw, if any.
    pub async fn my_entry(
        &self,
        product_id: ProductId,
        shopper: &Shopper,
    ) -> Result<Option<MyEntry>, InventoryError> {
        let Some(account) = shopper.account else {
            return Ok(None);
        };
        let Some(row) = ledger::entry_of(&self.db, product_id, account).await? else {
            return Ok(None);
        };
        let last4 = ledger::card_last4(&self.db, row.id).await?;
        Ok(MyEntry::of(&row, last4))
    }

    /// Every entry of the shopper's account, newest first: (entry, product, size).
    pub async fn my_entries(
        &self,
        shopper: &Shopper,
    ) -> Result<Vec<(MyEntry, ProductId, String, String)>, InventoryError> {
        let Some(account) = shopper.account else {
            return Ok(Vec::new());
        };
        Ok(ledger::entries_of_account(&self.db, account)
            .await?
            .into_iter()
            .filter_map(|(row, product, size)| {
                Some((
                    MyEntry::of(&row, None)?,
                    ProductId(row.product_id),
                    product,
                    size,
                ))
            })
            .collect())
    }

    /// Every entry of a draw, in the order they were made.
    pub async fn draw_entries(
        &self,
        product_id: ProductId,
    ) -> Result<Vec<(EntryRow, EntryDetails)>, InventoryError> {
        Ok(ledger::entries(&self.db, product_id).await?)
    }

    /// The entries taking part, in draw order (published once the draw is made).
    pub async fn draw_order(&self, product_id: ProductId) -> Result<Vec<EntryRow>, InventoryError> {
        Ok(ledger::ranked(&self.db, product_id).await?)
    }

    /// Enters the shopper in the draw: recorded first (one live entry per account, whichever
    /// node), then the card authorised for the pair's price (manual capture: nothing is
    /// charged unless the entry wins). A refused card leaves no entry.
    pub async fn enter_draw(
        self: &Arc<Self>,
        shopper: &Shopper,
        product_id: ProductId,
        form: &EntryForm,
    ) -> Result<MyEntry, DrawError> {
        let draw = self.draw(product_id).ok_or(DrawError::NoDraw)?;
        let account = shopper.account.ok_or(DrawError::SignInRequired)?;
        let verified = self.account(account).await?.is_some_and(|a| a.verified);
        if !verified {
            return Err(DrawError::VerificationRequired);
        }
        let now = Utc::now();
        let nonce = random_hex();
        let hash = entry_hash(product_id, form.item_id, &nonce);
        let key = address_key(&form.address);
        let begun = ledger::begin(
            &self.db,
            &NewEntry {
                product_id,
                item_id: form.item_id,
                account_id: account,
                holder: &shopper.cart_id,
                email: form.email.as_str(),
                address: &form.address,
                address_key: &key,
                card_fingerprint: &form.card.fingerprint,
                card_last4: form.card.last4.as_deref(),
                provider: self.payments.provider(),
                hash: &hash,
                now_ms: now.timestamp_millis(),
            },
        )
        .await?;
        let (entry_id, amount_cents, idempotency_key) = match begun {
            Begun::Entry {
                entry_id,
                amount_cents,
                idempotency_key,
            } => (entry_id, amount_cents, idempotency_key),
            Begun::AlreadyEntered => return Err(DrawError::AlreadyEntered),
            Begun::NoSuchSize => return Err(DrawError::NoSuchSize),
            Begun::NotOpen if now < draw.window.opens => {
                return Err(DrawError::NotOpenYet(draw.window.opens));
            }
            Begun::NotOpen => return Err(DrawError::Closed),
        };
        match self
            .authorise(entry_id, amount_cents, &idempotency_key, &form.card.method)
            .await
        {
            Ok(reference) => {
                if !ledger::authorised(&self.db, entry_id, &reference).await? {
                    // The window closed while the card was being authorised.
                    self.release_soon(None, reference);
                    return Err(DrawError::Closed);
                }
            }
            Err(error) => {
                ledger::abandon(&self.db, entry_id).await?;
                return Err(error);
            }
        }
        tracing::info!(%product_id, entry_id, "draw entry made");
        self.draw_entry_changed(product_id, &shopper.cart_id, Standing::Entered);
        Ok(MyEntry {
            standing: Standing::Entered,
            item_id: form.item_id,
            hash,
            card_last4: form.card.last4.clone(),
            order_id: None,
        })
    }

    /// Authorises the entry's amount; the provider's reference, or why not (an authorisation
    /// half made is let go).
    async fn authorise(
        self: &Arc<Self>,
        entry_id: i32,
        amount_cents: i32,
        key: &str,
        method: &Method,
    ) -> Result<String, DrawError> {
        let payment = NewPayment {
            idempotency_key: key,
            amount_cents,
            order_id: entry_id,
            capture: Capture::Manual,
        };
        let reference = self.payments.create(&payment, method).await?;
        ledger::record_reference(&self.db, entry_id, &reference).await?;
        let status = match self
            .payments
            .confirm(&reference, method, &format!("{key}-confirm"))
            .await
        {
            Ok(status) => status,
            Err(PaymentError::Unreachable(_) | PaymentError::Refused { .. }) => {
                self.payments.lookup(&reference).await?
            }
            Err(other) => return Err(other.into()),
        };
        match status {
            Status::RequiresCapture { .. } => Ok(reference),
            Status::Declined(decline) => Err(DrawError::Declined(decline)),
            _ => {
                self.release_soon(None, reference);
                Err(DrawError::NotAuthorised)
            }
        }
    }

    /// Withdraws the shopper's entry before close; its authorisation is released.
    pub async fn withdraw_entry(
        self: &Arc<Self>,
        shopper: &Shopper,
        product_id: ProductId,
    ) -> Result<(), DrawError> {
        let draw = self.draw(product_id).ok_or(DrawError::NoDraw)?;
        let account = shopper.account.ok_or(DrawError::SignInRequired)?;
        let now = Utc::now();
        match ledger::withdraw(&self.db, product_id, account, now.timestamp_millis()).await? {
            Withdrawn::Withdrawn {
                entry_id,
                payment_ref,
            } => {
                if let Some(reference) = payment_ref {
                    self.release_soon(Some(entry_id), reference);
                }
                tracing::info!(%product_id, "draw entry withdrawn");
                self.draw_entry_changed(product_id, &shopper.cart_id, Standing::Withdrawn);
                Ok(())
            }
            Withdrawn::NoEntry => Err(DrawError::NoEntry),
            Withdrawn::NotOpen if now < draw.window.opens => Err(DrawError::NoEntry),
            Withdrawn::NotOpen => Err(DrawError::Closed),
        }
    }

    /// Lets an authorisation go in the background (noted on the entry, when there is one; the
    /// draw's release pass tries again for any not noted).
    fn release_soon(self: &Arc<Self>, entry_id: Option<i32>, reference: String) {
        let inventory = Arc::clone(self);
        tokio::spawn(async move {
            match entry_id {
                Some(entry_id) => inventory.release_authorisation(entry_id, &reference).await,
                None => {
                    if let Err(error) = inventory.payments.cancel(&reference).await {
                        tracing::warn!(reference, error = %ErrorChain(&error), "cannot release a draw authorisation");
                    }
                }
            }
        });
    }

    /// An entry's standing changed: its shopper's tabs on every node are told.
    fn draw_entry_changed(&self, product_id: ProductId, holder: &str, standing: Standing) {
        self.publish(
            Event::DrawEntry {
                product_id,
                holder: holder.to_string(),
                standing: standing.code(),
            },
            true,
        );
    }

    /// Another node's [`Event::DrawEntry`], for this node's tabs.
    pub fn apply_replicated_draw(&self, product_id: ProductId, holder: String, standing: String) {
        self.publish(
            Event::DrawEntry {
                product_id,
                holder,
                standing,
            },
            false,
        );
    }

    /// Another node made a draw: this node's view follows, then its pages.
    pub async fn apply_replicated_draw_made(&self, product_id: ProductId) {
        if let Err(error) = self.refresh_draws().await {
            tracing::warn!(error = %ErrorChain(&error), "cannot read the draws; the ticker retries");
        }
        self.publish(Event::DrawMade { product_id }, false);
    }

    /// The published draw as the database holds it (the node's view may trail by a tick).
    pub async fn published_draw(
        &self,
        product_id: ProductId,
    ) -> Result<Option<StoredDraw>, InventoryError> {
        Ok(ledger::load(&self.db)
            .await?
            .into_iter()
            .find(|d| d.product_id == product_id))
    }

    /// Makes a closed draw, if this node gets its claim: the secret (drawn now, or the one a
    /// dead node drew), who takes part, then the captures and releases down the order, each
    /// written as it is done. Returns whether this node made (or finished) it.
    pub async fn make_draw(&self, product_id: ProductId, node: &str) -> Result<bool, DrawError> {
        let now = || Utc::now().timestamp_millis();
        let lease = || now() + i64::try_from(CLAIM_FOR.as_millis()).unwrap_or(i64::MAX);
        let Some(secret) =
            ledger::claim(&self.db, product_id, node, &random_hex(), now(), lease()).await?
        else {
            return Ok(false);
        };
        tracing::info!(%product_id, node, "making the draw");
        for voided in ledger::prepare(&self.db, product_id, &secret).await? {
            if let Some(standing) = Standing::from_state("void", voided.void_reason.as_deref()) {
                self.draw_entry_changed(product_id, &voided.holder, standing);
            }
        }
        loop {
            // Still ours? (A node that stalled past its claim stops; the new holder goes on.)
            if ledger::claim(&self.db, product_id, node, &secret, now(), lease())
                .await?
                .is_none()
            {
                return Ok(false);
            }
            let ranked = ledger::ranked(&self.db, product_id).await?;
            let mut available = HashMap::new();
            for entry in &ranked {
                let item = ItemId(entry.item_id);
                if let std::collections::hash_map::Entry::Vacant(slot) = available.entry(item) {
                    let (count, _) = store::catalog::stock(&self.db, item)
                        .await?
                        .unwrap_or((0, 0));
                    slot.insert(u32::try_from(count).unwrap_or(0));
                }
            }
            let view: Vec<Ranked> = ranked
                .iter()
                .map(|e| Ranked {
                    item_id: ItemId(e.item_id),
                    outcome: e.outcome(),
                })
                .collect();
            let steps = plan(&view, &available);
            if steps.is_empty() {
                break;
            }
            for step in steps {
                match step {
                    Step::Capture(i) => self.capture(&ranked[i], node).await?,
                    Step::Release(i) => self.decide(&ranked[i], Outcome::Lost).await?,
                }
            }
        }
        self.release_the_rest(product_id).await?;
        ledger::finish(&self.db, product_id, now()).await?;
        tracing::info!(%product_id, "draw made");
        self.refresh_draws().await?;
        self.publish(Event::DrawMade { product_id }, true);
        Ok(true)
    }

    /// Charges a winner's authorisation (the same idempotency key every time, so a resumed
    /// draw never charges twice) and sells the pair; a capture the provider refuses passes the
    /// entry over.
    async fn capture(&self, entry: &EntryRow, node: &str) -> Result<(), DrawError> {
        let Some(reference) = entry.payment_ref.as_deref() else {
            return self.decide(entry, Outcome::PassedOver).await;
        };
        let key = format!("{}-capture", entry.idempotency_key());
        let status = match self.payments.capture(reference, &key).await {
            Ok(status) => status,
            // Captured before (a resumed draw), or refused: the provider says which.
            Err(PaymentError::Refused { .. } | PaymentError::NotFound(_)) => {
                match self.payments.lookup(reference).await? {
                    succeeded @ Status::Succeeded { .. } => succeeded,
                    _ => Status::Canceled,
                }
            }
            Err(other) => return Err(other.into()),
        };
        match status {
            Status::Succeeded { .. } => {
                match ledger::win(&self.db, entry, node).await? {
                    ledger::Won::Won {
                        order_id,
                        count,
                        version,
                    } => {
                        self.record(ItemId(entry.item_id), count, version);
                        self.order_changed(order_id, &entry.holder);
                        self.draw_entry_changed(
                            ProductId(entry.product_id),
                            &entry.holder,
                            Standing::Decided(Outcome::Won),
                        );
                    }
                    ledger::Won::Already => {}
                    ledger::Won::NoPair => {
                        // The pair went another way meanwhile: the money goes back.
                        self.payments
                            .refund(reference, entry.amount_cents, &format!("{key}-refund"))
                            .await?;
                        self.decide(entry, Outcome::PassedOver).await?;
                    }
                }
                Ok(())
            }
            // The provider is still deciding: the next round asks again.
            Status::Pending => Ok(()),
            Status::RequiresCapture { .. } | Status::Declined(_) | Status::Canceled => {
                self.decide(entry, Outcome::PassedOver).await
            }
        }
    }

    /// Writes a loss or a pass-over, tells the shopper once, and lets the authorisation go.
    async fn decide(&self, entry: &EntryRow, outcome: Outcome) -> Result<(), DrawError> {
        if ledger::decide(&self.db, entry.id, outcome).await? {
            self.draw_entry_changed(
                ProductId(entry.product_id),
                &entry.holder,
                Standing::Decided(outcome),
            );
            if let Some(reference) = &entry.payment_ref {
                self.release_authorisation(entry.id, reference).await;
            }
        }
        Ok(())
    }

    /// Releases one authorisation now and notes it; a failure is left for the release pass.
    async fn release_authorisation(&self, entry_id: i32, reference: &str) {
        let released = match self.payments.cancel(reference).await {
            Ok(status) => Ok(status),
            // Let go before (a second pass), or the answer was lost: ask.
            Err(_) => self.payments.lookup(reference).await,
        };
        match released {
            Ok(Status::Canceled | Status::Declined(_)) => {
                if let Err(error) = ledger::released(&self.db, entry_id).await {
                    tracing::warn!(entry_id, error = %ErrorChain(&error), "cannot note a released authorisation");
                }
            }
            Ok(status) => {
                tracing::warn!(
                    entry_id,
                    ?status,
                    "an authorisation was not let go (the release pass tries again)"
                );
            }
            Err(error) => {
                tracing::warn!(entry_id, error = %ErrorChain(&error), "cannot release an authorisation (the release pass tries again)");
            }
        }
    }

    /// Every entry of the draw that did not win and whose authorisation is not noted as
    /// released (a node died between the decision and the release, or the provider failed).
    async fn release_the_rest(&self, product_id: ProductId) -> Result<(), DrawError> {
        for (entry_id, reference) in ledger::unreleased(&self.db, product_id).await? {
            self.release_authorisation(entry_id, &reference).await;
        }
        Ok(())
    }
}

fn random_hex() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every node: once a second, makes any draw whose window closed and that no live node holds.
/// With no draw due it reads only its own view, not the database.
pub fn spawn(inventory: Arc<Inventory>, node: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let now = Utc::now();
            let due_here = inventory
                .draws
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .any(|d| d.window.closes <= now && d.secret.is_none());
            if !due_here {
                continue;
            }
            let due = match ledger::due(&inventory.db, now.timestamp_millis()).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(error = %ErrorChain(&error), "cannot look for due draws; retrying");
                    continue;
                }
            };
            for product_id in due {
                if let Err(error) = inventory.make_draw(product_id, &node).await {
                    tracing::warn!(%product_id, error = %ErrorChain(&error), "draw interrupted; retrying");
                }
            }
            if let Err(error) = inventory.refresh_draws().await {
                tracing::warn!(error = %ErrorChain(&error), "cannot read the draws; retrying");
            }
        }
    })
}
