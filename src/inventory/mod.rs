//! The inventory service: an in-memory catalog that every page read uses. Every write goes to
//! the database first, then updates the cache with what the database returned, then publishes
//! an [`Event`] on the node's bus. "What happens when a pair sells" is [`Inventory::sell`].

pub mod accounts;
pub mod catalog_edits;
pub mod claims;
pub mod draws;
pub mod events;
pub mod heal;
pub mod holds;
pub mod import;
pub mod line;
pub mod payments;
pub mod pictures;
pub mod scheduler;
pub mod sessions;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::broadcast;

pub use crate::store::orders::{OrderFilter, PlacedOrder};
pub use events::{Event, Published};

use crate::domain::catalog::Trust;
use crate::domain::checkout::{self, CheckoutError};
use crate::domain::order::Order;
use crate::domain::{Cart, Catalog, Fingerprint, ItemId, ProductId, Shopper};
use crate::store::orders::PurchaseOutcome;
use crate::store::{self, Db, StoreError};

/// Enough for bursts of sales; a subscriber that falls further behind is told it lagged and
/// re-reads the cache.
const EVENT_BUFFER: usize = 4096;
pub const MAX_PAIRS_PER_MOVE: i32 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("no product {0}")]
    ProductNotFound(String),
    #[error("no item {0}")]
    ItemNotFound(ItemId),
    #[error("{name} size {size} has {available} pairs left, {wanted} wanted")]
    SoldOut {
        item_id: ItemId,
        name: String,
        size: String,
        available: i32,
        wanted: i32,
    },
    #[error("{name} is not released yet")]
    NotReleased { product_id: ProductId, name: String },
    #[error("{name} is a draft or archived: list it before releasing it")]
    NotListed { product_id: ProductId, name: String },
    #[error("count must be a whole number from 1 to {MAX_PAIRS_PER_MOVE}, got {0}")]
    InvalidCount(String),
    #[error(transparent)]
    Checkout(#[from] CheckoutError),
    #[error(transparent)]
    Account(accounts::AccountError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A completed checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub order_id: i32,
    pub total_cents: i32,
}

/// What a sale or restock did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockMove {
    pub product_id: ProductId,
    pub item_id: ItemId,
    pub available_count: i32,
}

pub struct Inventory {
    db: Db,
    catalog: RwLock<Catalog>,
    events: broadcast::Sender<Published>,
    /// Checkouts in the database right now, per item.
    claims: claims::Claims,
    /// Grows whenever something a shopper's page shows changes (a release, a level, the
    /// catalog itself), so pages rendered for one version can be shared until the next.
    page_version: AtomicU64,
    /// Every waiting line, as last read (see `line`).
    lines: RwLock<crate::domain::line::Lines>,
    /// Every draw, as last read (see `draws`).
    draws: RwLock<std::collections::HashMap<ProductId, store::draws::StoredDraw>>,
    /// How long an admitted shopper may cart a lined drop's pairs, and how long a waiting
    /// shopper who left keeps the place.
    line_times: line::LineTimes,
    /// One reload at a time, and no product's refresh inside one: a reload that read the
    /// database before a change must not apply its older details after the change's own read.
    reloading: tokio::sync::Mutex<()>,
    /// The sessions this node has seen lately (see `sessions`).
    sessions: sessions::SessionCache,
    /// The payment provider (only this service calls it).
    payments: crate::payments::Payments,
    /// How long a carted pair is held.
    hold: std::time::Duration,
    /// Links in mail, and the delivery loop to wake (see `accounts`).
    mailing: accounts::Mailing,
    /// Picture decode turns and the bytes this node serves from memory.
    pictures: pictures::Pictures,
}

impl Inventory {
    pub async fn load(
        db: Db,
        line_times: line::LineTimes,
        session_policy: crate::domain::session::SessionPolicy,
        payments: crate::payments::Payments,
        hold: std::time::Duration,
        mailing: accounts::Mailing,
    ) -> Result<Arc<Inventory>, InventoryError> {
        let catalog = Catalog::new(store::catalog::load(&db).await?);
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Ok(Arc::new(Inventory {
            db,
            catalog: RwLock::new(catalog),
            events,
            page_version: AtomicU64::new(0),
            claims: claims::Claims::default(),
            lines: RwLock::default(),
            draws: RwLock::default(),
            line_times,
            reloading: tokio::sync::Mutex::new(()),
            sessions: sessions::SessionCache::new(session_policy),
            payments,
            hold,
            mailing,
            pictures: pictures::Pictures::default(),
        }))
    }

    /// Reads the cache. Keep `f` short: writers wait for it.
    pub fn read<R>(&self, f: impl FnOnce(&Catalog) -> R) -> R {
        f(&self.catalog.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn write<R>(&self, f: impl FnOnce(&mut Catalog) -> R) -> R {
        f(&mut self.catalog.write().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.events.subscribe()
    }

    /// See [`Inventory::page_version`]'s field.
    pub fn page_version(&self) -> u64 {
        self.page_version.load(Ordering::Acquire)
    }

    fn publish(&self, event: Event, local: bool) {
        let shown = match &event {
            Event::Released { .. } | Event::ProductChanged { .. } => true,
            Event::StockChanged(change) => change.announce(),
            Event::CartChanged { .. }
            | Event::LineMoved { .. }
            | Event::SessionsEnded { .. }
            | Event::HoldsChanged { .. }
            | Event::OrderChanged { .. }
            | Event::DrawEntry { .. }
            | Event::DrawMade { .. } => false,
        };
        if shown {
            self.page_version.fetch_add(1, Ordering::AcqRel);
        }
        if let Event::StockChanged(change) = &event
            && (change.new_count == 0 || change.new_count > change.old_count)
        {
            // Checkouts waiting for the pair look again: it is gone, or there are more. (A
            // sale that leaves some wakes one waiter, when its claim ends.)
            self.claims.stock_changed(change.item_id);
        }
        // No subscribers is fine: nobody is watching.
        let _ = self.events.send(Published { event, local });
    }

    /// A shopper's cart changed on this node: its tabs here and on other nodes follow.
    pub fn cart_changed(&self, cart_id: &str, serialized: String, origin: u64) {
        let event = Event::CartChanged {
            cart_id: cart_id.to_string(),
            serialized,
            origin,
        };
        self.publish(event, true);
    }

    /// Another node's cart change, for this node's tabs of that cart.
    pub fn apply_replicated_cart(&self, cart_id: String, serialized: String, origin: u64) {
        let event = Event::CartChanged {
            cart_id,
            serialized,
            origin,
        };
        self.publish(event, false);
    }

    /// A shopper's holds changed (taken, returned, extended, paid): their tabs re-read them.
    pub fn holds_changed(&self, holder: &str) {
        let event = Event::HoldsChanged {
            holder: holder.to_string(),
        };
        self.publish(event, true);
    }

    /// An order's state changed: its shopper's pages and the admins' follow.
    pub fn order_changed(&self, order_id: i32, holder: &str) {
        let event = Event::OrderChanged {
            order_id,
            holder: holder.to_string(),
        };
        self.publish(event, true);
    }

    /// Another node's [`Event::HoldsChanged`] or [`Event::OrderChanged`], for this node's
    /// pages.
    pub fn apply_replicated(&self, event: Event) {
        self.publish(event, false);
    }

    /// Another node released a product: this node's pages learn of it once.
    pub fn apply_replicated_release(&self, product_id: ProductId) {
        if self.write(|c| c.mark_released(product_id)) {
            self.publish(Event::Released { product_id }, false);
        }
    }

    /// Another node sold or restocked: take its count unless ours is newer. Returns `false`
    /// when this node must reload: the item is unknown here (the catalog changed), or the
    /// version skipped one (a message was missed, so others may have been too).
    pub fn apply_replicated_stock(&self, item_id: ItemId, count: i32, version: i64) -> bool {
        let (cached_version, change) = self.write(|c| {
            (
                c.item(item_id).map(|(_, i)| i.version),
                c.apply_count(item_id, count, version),
            )
        });
        if let Some(change) = change {
            self.publish(Event::StockChanged(change), false);
        }
        cached_version.is_some_and(|cached| version <= cached + 1)
    }

    /// Brings the cache to the database's view (after any gap in a feed) and announces
    /// exactly what changed meanwhile, so open pages converge without a full re-push.
    pub async fn reload(&self) -> Result<(), InventoryError> {
        self.reload_trusting(Trust::SameOrNewer).await.map(|_| ())
    }

    /// The cache's fingerprint and the database's (see `heal`).
    pub async fn fingerprints(&self) -> Result<(Fingerprint, Fingerprint), InventoryError> {
        let stored = store::catalog::fingerprint(&self.db).await?;
        Ok((self.read(Fingerprint::of), stored))
    }

    /// [`Inventory::reload`], taking counts as `trust` says; returns how many changes it
    /// announced.
    pub async fn reload_trusting(&self, trust: Trust) -> Result<usize, InventoryError> {
        let _one_at_a_time = self.reloading.lock().await;
        let fresh = Catalog::new(store::catalog::load(&self.db).await?);
        let events = self.write(|cached| {
            let same_shape = cached.products().count() == fresh.products().count()
                && fresh.products().all(|p| {
                    cached.product(p.id).is_some_and(|c| {
                        c.items.len() == p.items.len()
                            && p.items.iter().all(|i| c.item(i.id).is_some())
                    })
                });
            if !same_shape {
                // Products or sizes came or went: take the new catalog whole.
                *cached = fresh.clone();
                return fresh
                    .products()
                    .filter(|p| p.released)
                    .map(|p| Event::Released { product_id: p.id })
                    .collect();
            }
            let mut events = Vec::new();
            for product in fresh.products() {
                cached.update_details(product);
                if product.released && cached.mark_released(product.id) {
                    events.push(Event::Released {
                        product_id: product.id,
                    });
                }
                for item in &product.items {
                    if let Some(change) =
                        cached.heal_count(item.id, item.available_count, item.version, trust)
                    {
                        events.push(Event::StockChanged(change));
                    }
                }
            }
            events
        });
        // Names, prices and schedules may have changed without an event.
        self.page_version.fetch_add(1, Ordering::AcqRel);
        let announced = events.len();
        for event in events {
            self.publish(event, false);
        }
        Ok(announced)
    }

    /// Finds a product by id or SKU.
    pub fn find_product(&self, key: &str) -> Result<ProductId, InventoryError> {
        self.read(|c| match key.parse::<ProductId>() {
            Ok(id) => c.product(id).map(|p| p.id),
            Err(_) => c.product_by_sku(key).map(|p| p.id),
        })
        .ok_or_else(|| InventoryError::ProductNotFound(key.to_string()))
    }

    /// Releases a product now. Returns `false` when it was already released.
    pub async fn release(&self, product_id: ProductId) -> Result<bool, InventoryError> {
        match self.read(|c| c.product(product_id).map(|p| (p.listed(), p.name.clone()))) {
            None => return Err(InventoryError::ProductNotFound(product_id.to_string())),
            Some((false, name)) => return Err(InventoryError::NotListed { product_id, name }),
            Some((true, _)) => {}
        }
        store::catalog::release(&self.db, product_id).await?;
        // Whoever flipped the row, this node's pages learn of it exactly once: when its cache
        // flips.
        let newly = self.write(|c| c.mark_released(product_id));
        if newly {
            tracing::info!(%product_id, "product released");
            self.publish(Event::Released { product_id }, true);
        }
        Ok(newly)
    }

    /// Sets (or with `None` clears) a product's limit per customer. Every node's pages show it
    /// within a cache check; checkouts read it from the database, so it holds at once.
    pub async fn set_limit(
        &self,
        product_id: ProductId,
        max: Option<u32>,
    ) -> Result<(), InventoryError> {
        if !store::catalog::set_limit(&self.db, product_id, max).await? {
            return Err(InventoryError::ProductNotFound(product_id.to_string()));
        }
        tracing::info!(%product_id, ?max, "limit per customer set");
        self.reload().await
    }

    /// Sells `count` pairs of an item, all or none: the guarded decrement never takes stock
    /// below zero, however many buyers race for the last pair.
    pub async fn sell(&self, item_id: ItemId, count: i32) -> Result<StockMove, InventoryError> {
        check_count(count)?;
        let (product_id, name, size, released) = self
            .read(|c| {
                c.item(item_id)
                    .map(|(p, i)| (p.id, p.name.clone(), i.size.clone(), p.released))
            })
            .ok_or(InventoryError::ItemNotFound(item_id))?;
        if !released {
            return Err(InventoryError::NotReleased { product_id, name });
        }
        match store::catalog::adjust_stock(&self.db, item_id, -count).await? {
            Some((available, version)) => {
                self.record(item_id, available, version);
                Ok(StockMove {
                    product_id,
                    item_id,
                    available_count: available,
                })
            }
            None => {
                // Refused: learn the real count (the cache may trail another writer) and say it.
                let (available, version) = store::catalog::stock(&self.db, item_id)
                    .await?
                    .ok_or(InventoryError::ItemNotFound(item_id))?;
                self.record(item_id, available, version);
                Err(InventoryError::SoldOut {
                    item_id,
                    name,
                    size,
                    available,
                    wanted: count,
                })
            }
        }
    }

    /// Buys every pair of a cart in one transaction, all or nothing. On success every open
    /// page hears of the sales exactly as for any other sale.
    pub async fn purchase(
        &self,
        shopper: &Shopper,
        cart: &Cart,
        node: &str,
    ) -> Result<Purchase, InventoryError> {
        let plan = self.read(|c| checkout::plan(c, cart))?;
        let items: Vec<ItemId> = plan.lines.iter().map(|l| l.item_id).collect();
        let _claim = self
            .claims
            .claim(&items, |item| self.read(|c| claims::cached_count(c, item)))
            .await
            .map_err(CheckoutError::SoldOut)?;
        let since = self.admitted_since();
        match store::orders::purchase(
            &self.db,
            &shopper.cart_id,
            shopper.account,
            node,
            &plan,
            since,
        )
        .await?
        {
            PurchaseOutcome::Bought { order_id, counts } => {
                for (item_id, count, version) in counts {
                    self.record(item_id, count, version);
                }
                tracing::info!(order_id, pairs = plan.lines.len(), "order placed");
                Ok(Purchase {
                    order_id,
                    total_cents: plan.total_cents,
                })
            }
            PurchaseOutcome::SoldOut => {
                // Nothing was sold; find out which pairs are gone, and let the cache know.
                let mut gone = Vec::new();
                for line in &plan.lines {
                    if let Some((count, version)) =
                        store::catalog::stock(&self.db, line.item_id).await?
                    {
                        self.record(line.item_id, count, version);
                        if count == 0 {
                            gone.push(line.item_id);
                        }
                    }
                }
                Err(CheckoutError::SoldOut(gone).into())
            }
            PurchaseOutcome::Refused(why) => Err(why.into()),
        }
    }

    /// An order, if it exists and this cart placed it (nobody else may see it).
    pub async fn order(
        &self,
        order_id: i32,
        cart_id: &str,
    ) -> Result<Option<Order>, InventoryError> {
        Ok(store::orders::find(&self.db, order_id, cart_id).await?)
    }

    /// Orders as admins list them (see `OrderFilter`).
    pub async fn orders(
        &self,
        filter: OrderFilter<'_>,
        limit: i64,
    ) -> Result<Vec<PlacedOrder>, InventoryError> {
        Ok(store::orders::list(&self.db, filter, limit).await?)
    }

    /// Adds `count` pairs to an item.
    pub async fn restock(&self, item_id: ItemId, count: i32) -> Result<StockMove, InventoryError> {
        check_count(count)?;
        let product_id = self
            .read(|c| c.item(item_id).map(|(p, _)| p.id))
            .ok_or(InventoryError::ItemNotFound(item_id))?;
        match store::catalog::adjust_stock(&self.db, item_id, count).await? {
            Some((available, version)) => {
                self.record(item_id, available, version);
                Ok(StockMove {
                    product_id,
                    item_id,
                    available_count: available,
                })
            }
            None => Err(InventoryError::InvalidCount(format!(
                "{count} (stock would exceed {})",
                store::catalog::MAX_STOCK
            ))),
        }
    }

    /// Takes a count the database returned into the cache and announces the change.
    fn record(&self, item_id: ItemId, count: i32, version: i64) {
        if let Some(change) = self.write(|c| c.apply_count(item_id, count, version)) {
            tracing::debug!(%item_id, count, "stock changed");
            self.publish(Event::StockChanged(change), true);
        }
    }
}

fn check_count(count: i32) -> Result<(), InventoryError> {
    if (1..=MAX_PAIRS_PER_MOVE).contains(&count) {
        Ok(())
    } else {
        Err(InventoryError::InvalidCount(count.to_string()))
    }
}
