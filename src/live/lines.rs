//! Shoppers with a page open keep their places in the drops' lines: every few seconds this node
//! tells the inventory which carts it has live (presence knows), so only those who left for
//! longer than the grace period lose their place.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::Live;
use crate::error_chain::ErrorChain;

pub fn spawn(live: &Arc<Live>) -> JoinHandle<()> {
    let live = Arc::clone(live);
    tokio::spawn(async move {
        // Well inside the grace period, so an open page never loses its place.
        let every = (live.inventory.line_grace() / 4).min(Duration::from_secs(10));
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if live.inventory.read_lines(|l| l.lines.is_empty()) {
                continue;
            }
            let holders: Vec<String> = live.presence.local_entries().into_keys().collect();
            if let Err(error) = live.inventory.touch_places(&holders).await {
                tracing::warn!(error = %ErrorChain(&error), "cannot keep the open pages' places");
            }
        }
    })
}
