//! Waiting lines: joining, the admission tick (every node runs it each second; the database
//! makes the cluster admit at the line's rate however many nodes tick) and each node's view of
//! every line, which channels and forms read without waiting on the database.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::{Event, Inventory, InventoryError};
use crate::domain::line::{Line, Lines, Place};
use crate::domain::{CartError, ItemId, ProductId};
use crate::error_chain::ErrorChain;
use crate::store;

/// The two durations of a line (`LINE_ADMISSION_MS`, `LINE_GRACE_MS`).
#[derive(Debug, Clone, Copy)]
pub struct LineTimes {
    /// An admitted shopper may cart the drop's pairs this long.
    pub admission: Duration,
    /// A waiting shopper with no page open keeps the place this long once the line moves.
    pub grace: Duration,
}

/// Positions are pushed at most this often.
pub const TICK: Duration = Duration::from_secs(1);

impl Inventory {
    /// Reads the node's view of the lines.
    pub fn read_lines<R>(&self, f: impl FnOnce(&Lines) -> R) -> R {
        f(&self.lines.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn place(&self, product_id: ProductId, holder: &str) -> Option<Place> {
        self.read_lines(|lines| lines.place(product_id, holder))
    }

    /// Joins a product's line (keeping the place if already in it); `Ok(false)` if it has
    /// none. The view is refreshed at once, so the place shows right away.
    pub async fn join_line(
        &self,
        product_id: ProductId,
        holder: &str,
        shuffle_key: &str,
    ) -> Result<bool, InventoryError> {
        let joined = store::lines::join(&self.db, product_id, holder, shuffle_key).await?;
        if joined {
            self.refresh_lines().await?;
        }
        Ok(joined)
    }

    /// May this holder cart this pair now? A lined drop's pairs only while admitted.
    pub fn admission(&self, item_id: ItemId, holder: &str) -> Result<(), CartError> {
        // A draw's pairs go to its winners only, never into a cart.
        let product_id = self.read(|c| c.item(item_id).map(|(p, _)| p.id));
        if product_id.is_some_and(|id| self.draw(id).is_some()) {
            return Err(CartError::InvalidItem);
        }
        // An unreleased pair is the cart's refusal (`invalid_item`), not the line's.
        let lined = self.read(|c| {
            c.item(item_id)
                .filter(|(p, _)| p.released)
                .and_then(|(p, _)| p.line_per_minute.map(|_| p.id))
        });
        let Some(product_id) = lined else {
            return Ok(());
        };
        match self.place(product_id, holder) {
            Some(place) if place.may_cart(Utc::now(), self.admission_window()) => Ok(()),
            _ => Err(CartError::NotAdmitted),
        }
    }

    pub fn admission_window(&self) -> Duration {
        self.line_times.admission
    }

    /// Whoever was let in at or after this instant may still cart and buy a lined drop.
    pub fn admitted_since(&self) -> chrono::NaiveDateTime {
        let window =
            chrono::Duration::from_std(self.admission_window()).unwrap_or(chrono::Duration::MAX);
        Utc::now()
            .checked_sub_signed(window)
            .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC)
            .naive_utc()
    }

    /// How long a waiting shopper who left keeps the place once the line is moving.
    pub fn line_grace(&self) -> Duration {
        self.line_times.grace
    }

    /// These holders are still here (their pages are open): they keep their places.
    pub async fn touch_places(&self, holders: &[String]) -> Result<(), InventoryError> {
        let waiting: Vec<String> = self.read_lines(|lines| {
            holders
                .iter()
                .filter(|h| {
                    lines
                        .lines
                        .values()
                        .any(|l| l.places.get(*h).is_some_and(|p| p.admitted_at.is_none()))
                })
                .cloned()
                .collect()
        });
        if waiting.is_empty() {
            return Ok(());
        }
        Ok(store::lines::touch(&self.db, &waiting).await?)
    }

    /// Turns a product's line on or off, with its rate per minute.
    pub async fn configure_line(
        &self,
        product_id: ProductId,
        enabled: bool,
        per_minute: u32,
    ) -> Result<(), InventoryError> {
        if !store::lines::configure(&self.db, product_id, enabled, per_minute).await? {
            return Err(InventoryError::ProductNotFound(product_id.to_string()));
        }
        tracing::info!(%product_id, enabled, per_minute, "line configured");
        self.reload().await?;
        self.refresh_lines().await
    }

    /// A guest signing in brings their places to the account.
    pub async fn move_places(&self, from: &str, to: &str) -> Result<(), InventoryError> {
        store::lines::move_places(&self.db, from, to).await?;
        self.refresh_lines().await
    }

    /// Reads every line again and tells the channels that places may have moved.
    pub async fn refresh_lines(&self) -> Result<(), InventoryError> {
        let stored = store::lines::load(&self.db).await?;
        let fresh = Lines {
            lines: stored
                .into_iter()
                .map(|l| {
                    let line = Line::from_ordered(l.per_minute, l.released, l.entries);
                    (l.product_id, line)
                })
                .collect(),
        };
        let moved = {
            let mut current = self.lines.write().unwrap_or_else(PoisonError::into_inner);
            let moved = moved_places(&current, &fresh);
            *current = fresh;
            moved
        };
        for (product_id, holders) in moved {
            // Each node ticks by itself: nothing to replicate.
            self.publish(
                Event::LineMoved {
                    product_id,
                    holders,
                },
                false,
            );
        }
        Ok(())
    }
}

/// Per line, the holders whose place changed (joined, moved, let in, dropped): only their
/// tabs hear of it, not every open cart.
fn moved_places(before: &Lines, after: &Lines) -> Vec<(ProductId, Vec<String>)> {
    let mut moved = Vec::new();
    for (product_id, line) in &after.lines {
        let old = before.lines.get(product_id);
        let mut holders: Vec<String> = line
            .places
            .iter()
            .filter(|(holder, place)| old.and_then(|o| o.places.get(*holder)) != Some(*place))
            .map(|(holder, _)| holder.clone())
            .collect();
        if let Some(old) = old {
            holders.extend(
                old.places
                    .keys()
                    .filter(|holder| !line.places.contains_key(*holder))
                    .cloned(),
            );
        }
        if !holders.is_empty() || old.is_none_or(|o| o.figures() != line.figures()) {
            moved.push((*product_id, holders));
        }
    }
    moved
}

/// Every second: let in whom the rate allows, then read the lines again.
pub fn spawn(inventory: Arc<Inventory>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if inventory.read(|c| c.products().all(|p| p.line_per_minute.is_none())) {
                continue;
            }
            let grace = inventory.line_grace();
            if let Err(error) = store::lines::admit(&inventory.db, Utc::now(), grace).await {
                tracing::warn!(error = %ErrorChain(&error), "line admission failed; retrying");
            }
            if let Err(error) = inventory.refresh_lines().await {
                tracing::warn!(error = %ErrorChain(&error), "cannot read the lines; retrying");
            }
        }
    })
}
