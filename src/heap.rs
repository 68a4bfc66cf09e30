//! Gives freed heap back to the system once a burst is over. glibc keeps what a storm's
//! requests freed inside its per-thread arenas (by itself it only trims the top of the main
//! heap): after a 2,000-buyer checkout storm an idle node kept ~168 MiB. Every few seconds,
//! when the arenas hold more than a few MiB unused, `malloc_trim` hands those pages back. A
//! node under steady load reuses what it frees and is left alone.
//!
//! Big blocks never enter the arenas ([`configure`], at start): glibc's default moves its
//! mmap threshold up to the largest block freed so far, so after the first password hash
//! (argon2id, 19 MiB) every later one was carved from whichever thread's arena ran it, and a
//! thread arena keeps up to twice that threshold free at its top, which `malloc_trim` does
//! not give back. A login flood held hundreds of MiB that way; with a fixed threshold a hash's
//! memory is mapped for it and unmapped when it is done.

use std::time::Duration;

use tokio::task::JoinHandle;

/// Blocks from this size up are mapped for themselves and unmapped when freed (glibc would
/// otherwise raise this to the largest block freed so far). Pages and buffers stay below it;
/// a password hash's 19 MiB does not.
const MAPPED_FROM: usize = 1024 * 1024;

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

/// Fixes the allocator's mmap threshold at [`MAPPED_FROM`]; call once, first thing in `main`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn configure() {
    // SAFETY: a plain glibc call taking two integers; setting this parameter also stops glibc
    // from moving the threshold (and the trim threshold) by itself.
    let set = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MAPPED_FROM as libc::c_int) };
    if set != 1 {
        tracing::warn!("the allocator refused a fixed mmap threshold");
    }
}

/// Other allocators have no such threshold to fix.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn configure() {}

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

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Bytes the allocator holds free (in every arena) right now.
    fn held_free() -> usize {
        // SAFETY: a plain glibc call without arguments.
        unsafe { libc::mallinfo2() }.fordblks
    }

    #[test]
    fn a_hash_sized_block_goes_back_to_the_system_when_freed() {
        configure();
        const HASH: usize = 19 * 1024 * 1024;
        // On a thread of its own, as a hash runs on the blocking pool: twice, since glibc's
        // own rule only keeps the second one (the first freed raises its threshold).
        let grown = std::thread::spawn(|| {
            let before = held_free();
            for _ in 0..2 {
                let block = std::hint::black_box(vec![1u8; HASH]);
                drop(block);
            }
            held_free().saturating_sub(before)
        })
        .join()
        .unwrap_or_else(|_| panic!("the allocating thread panicked"));
        assert!(
            grown < HASH / 2,
            "{} MiB of freed blocks kept by the allocator",
            grown / (1024 * 1024)
        );
    }
}
