//! Purchases in flight, per item. A checkout storm is thousands of buyers for a few pairs: if
//! each took its turn at the database, the last would wait for thousands of transactions that
//! could only fail. Instead a checkout claims its pairs here first: while as many claims are in
//! flight as the cache shows pairs, the next buyer waits for one of them to end, and once the
//! cache shows a pair gone for good, everyone waiting for it is refused at once.
//!
//! Claims only spare the database hopeless attempts: the guarded decrement in the transaction
//! stays the rule (another node may sell the same pairs), so a claim never promises a pair.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use crate::domain::{Catalog, ItemId};

/// A waiter looks again at least this often, whatever it was told: a backstop, not the rule.
const RECHECK: Duration = Duration::from_millis(500);

#[derive(Default)]
struct Item {
    in_flight: i32,
    /// Buyers waiting for this item, woken one per freed claim (all when it sells out), so a
    /// storm does not wake thousands of requests for each pair sold.
    freed: Arc<Notify>,
}

#[derive(Default)]
pub struct Claims {
    items: Mutex<HashMap<ItemId, Item>>,
}

/// Pairs held while a purchase is in the database; released on drop, whatever happened.
pub struct Claim<'a> {
    claims: &'a Claims,
    items: Vec<ItemId>,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut items = self.claims.lock();
        for id in &self.items {
            if let Some(item) = items.get_mut(id) {
                item.in_flight -= 1;
                item.freed.notify_one();
            }
        }
    }
}

impl Claims {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ItemId, Item>> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An item's stock changed without a claim ending (another node's sale, a restock, the
    /// last pair gone): everyone waiting for it looks again.
    pub fn stock_changed(&self, item: ItemId) {
        if let Some(item) = self.lock().get(&item) {
            item.freed.notify_waiters();
        }
    }

    /// Claims one pair of each item, waiting while others' claims already cover what the cache
    /// shows. `Err` names the items the cache shows gone (nothing is claimed then).
    pub async fn claim(
        &self,
        wanted: &[ItemId],
        available: impl Fn(ItemId) -> i32,
    ) -> Result<Claim<'_>, Vec<ItemId>> {
        // The item a wake-up was meant for: if this buyer does not take its pair, the wake-up
        // goes on to the next buyer waiting for it.
        let mut woken_for: Option<Arc<Notify>> = None;
        loop {
            let freed: Arc<Notify>;
            let notified = {
                let mut items = self.lock();
                let gone: Vec<ItemId> = wanted
                    .iter()
                    .copied()
                    .filter(|item| available(*item) <= 0)
                    .collect();
                if !gone.is_empty() {
                    if let Some(notify) = woken_for.take() {
                        notify.notify_one();
                    }
                    return Err(gone);
                }
                let blocking = wanted
                    .iter()
                    .copied()
                    .find(|id| items.get(id).map_or(0, |item| item.in_flight) >= available(*id));
                let Some(blocking) = blocking else {
                    for id in wanted {
                        items.entry(*id).or_default().in_flight += 1;
                    }
                    return Ok(Claim {
                        claims: self,
                        items: wanted.to_vec(),
                    });
                };
                freed = Arc::clone(&items.entry(blocking).or_default().freed);
                // Registered while the lock is held, so no wake-up falls between look and wait.
                let mut notified = Box::pin(freed.notified());
                notified.as_mut().enable();
                notified
            };
            if let Some(notify) = woken_for.take()
                && !Arc::ptr_eq(&notify, &freed)
            {
                notify.notify_one();
            }
            let _ = tokio::time::timeout(RECHECK, notified).await;
            woken_for = Some(Arc::clone(&freed));
        }
    }
}

/// What the cache shows of an item (0 if it is unknown).
pub fn cached_count(catalog: &Catalog, item: ItemId) -> i32 {
    catalog.item(item).map_or(0, |(_, i)| i.available_count)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI32, Ordering};

    use super::*;

    #[tokio::test]
    async fn waits_while_claims_cover_the_stock_and_refuses_once_it_is_gone() {
        let claims = Arc::new(Claims::default());
        let stock = Arc::new(AtomicI32::new(1));
        let item = ItemId(7);
        let count = {
            let stock = Arc::clone(&stock);
            move |_| stock.load(Ordering::SeqCst)
        };
        let first = claims.claim(&[item], &count).await;
        assert!(first.is_ok());
        // A second buyer waits: the one pair is being bought.
        let waiter = {
            let (claims, count) = (Arc::clone(&claims), count.clone());
            tokio::spawn(async move { claims.claim(&[item], count).await.map(|_| ()) })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        // The first sale went through: the pair is gone, the waiter is refused.
        stock.store(0, Ordering::SeqCst);
        drop(first);
        assert_eq!(waiter.await.ok(), Some(Err(vec![item])));
        // Refused at once when the cache already shows none.
        assert!(claims.claim(&[item], &count).await.is_err());
    }
}
