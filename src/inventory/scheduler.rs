//! Scheduled drops: a product with `release_at` is released at that time without anyone
//! clicking, through the same path as a manual release.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::Inventory;

/// Upper bound on how long the scheduler sleeps, so a schedule set while it sleeps is still
/// honoured within this delay.
const MAX_NAP: Duration = Duration::from_secs(1);

pub fn spawn(inventory: Arc<Inventory>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let due = inventory.read(|c| c.due_releases(Utc::now()));
            let mut failed = false;
            for product_id in due {
                if let Err(error) = inventory.release(product_id).await {
                    tracing::warn!(%product_id, error = %crate::error_chain::ErrorChain(&error), "scheduled release failed; retrying");
                    failed = true;
                }
            }
            let nap = match inventory.read(|c| c.next_scheduled_release()) {
                _ if failed => MAX_NAP,
                Some(at) => (at - Utc::now()).to_std().unwrap_or_default().min(MAX_NAP),
                None => MAX_NAP,
            };
            tokio::time::sleep(nap.max(Duration::from_millis(5))).await;
        }
    })
}
