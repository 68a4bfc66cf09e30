//! Gives freed heap back to the system once a burst is over. glibc keeps what a storm's
//! requests freed inside its per-thread arenas (by itself it only trims the top of the main
//! heap): after a 2,000-buyer checkout storm an idle node kept ~168 MiB. Every few seconds,
//! when the arenas hold more than a few MiB unused, `malloc_trim` hands those pages back. A
//! node under steady load reuses what it frees and is left alone.

use std::time::Duration;

use tokio::task::JoinHandle;

/// How often the free heap is looked at.
const EVERY: Duration = Duration::from_secs(5);
/// Free heap worth giving back (less is the allocator's ordinary working room).
const WORTH_TRIMMING: usize = 16 * 1024 * 1024;

pub fn spawn() -> JoinHandle<()> {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // Trimming walks every arena: not on a worker that serves sockets.
            if let Err(error) = tokio::task::spawn_blocking(trim_if_worth_it).await {
                tracing::warn!(%error, "heap trim task failed");
            }
        }
    })
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_if_worth_it() {
    // SAFETY: both are plain glibc calls without arguments that point anywhere; they take the
    // allocator's own locks.
    let free = unsafe { libc::mallinfo2() }.fordblks;
    if free < WORTH_TRIMMING {
        return;
    }
    // SAFETY: as above; 0 keeps no extra padding at the top of the heap.
    unsafe { libc::malloc_trim(0) };
    tracing::debug!(free_mib = free / (1024 * 1024), "gave free heap back");
}

/// Other allocators give memory back by themselves (or the platform has no `malloc_trim`).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_if_worth_it() {}
