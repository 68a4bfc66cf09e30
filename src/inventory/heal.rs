//! Caches that heal by themselves. A node hears of changes it makes and of the ones other
//! nodes tell it about; a count changed behind its back (an operator's fix in SQL, a node
//! killed between its commit and its NOTIFY, a message lost while the feed was down) would
//! otherwise stay wrong on every open page until the next sale of that very item.
//!
//! So every `CACHE_CHECK_MS` each node compares the catalog's fingerprint (a few sums over
//! products and stock, see `domain::fingerprint`) as the database computes it with the one
//! it computes from its cache. Equal: done (one aggregate query, one row back, and a pass over
//! the cache). Different: a full load, and every difference goes through the normal event
//! path, so open pages get their `stock_change`/`released` pushes. A count changed without a
//! version bump is taken too (same version, another count). If the two still disagree on the
//! next check while the database has not changed at all (it was rewound, e.g. restored from a
//! backup, so its versions are older than the cache's), the database is taken whole.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::{Inventory, InventoryError};
use crate::domain::Fingerprint;
use crate::domain::catalog::Trust;
use crate::error_chain::ErrorChain;

/// What one check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Cache and database agree.
    Same,
    /// They differed; this many changes were announced (0: the difference was a write in
    /// flight, which its own writer is about to record).
    Healed(usize),
}

/// Remembers a disagreement the last full load did not settle.
#[derive(Default)]
pub struct Healer {
    unsettled: Option<Fingerprint>,
}

impl Healer {
    pub async fn check(&mut self, inventory: &Inventory) -> Result<Checked, InventoryError> {
        let (cached, stored) = inventory.fingerprints().await?;
        if cached == stored {
            self.unsettled = None;
            return Ok(Checked::Same);
        }
        // The database stood still since the last check and the cache still disagrees: the
        // cache holds versions the database no longer has.
        let trust = if self.unsettled == Some(stored) {
            Trust::Database
        } else {
            Trust::SameOrNewer
        };
        let announced = inventory.reload_trusting(trust).await?;
        let (cached, stored) = inventory.fingerprints().await?;
        self.unsettled = (cached != stored).then_some(stored);
        if announced > 0 {
            metrics::counter!("sneakers_cache_healed_total").increment(announced as u64);
            tracing::warn!(
                changes = announced,
                ?trust,
                "the cache differed from the database (a change this node was not told of): healed"
            );
        }
        Ok(Checked::Healed(announced))
    }
}

pub fn spawn(inventory: Arc<Inventory>, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut healer = Healer::default();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            metrics::counter!("sneakers_cache_checks_total").increment(1);
            match healer.check(&inventory).await {
                Ok(_) if failing => {
                    failing = false;
                    tracing::info!("cache check works again");
                }
                Ok(_) => {}
                // Said once per outage: the pages answer 503 meanwhile and say it themselves.
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(error = %ErrorChain(&error), "cache check failed");
                }
                Err(_) => {}
            }
        }
    })
}
