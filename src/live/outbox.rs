//! A connection's bounded queue of what is to be written to it, filled by the hub from any
//! thread and drained by the connection's task. Full means the client is not reading: it is
//! told to go (it rejoins and converges) instead of being buffered without end.
//!
//! Lighter than a tokio mpsc channel on purpose: tens of thousands of idle shoppers each hold
//! one, and an mpsc allocates a 32-slot block and cache-padded counters up front (~1.4 KiB)
//! where this holds an empty `VecDeque` (no allocation) until something is queued.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;

use futures_util::task::AtomicWaker;

use super::hub::Outbound;

/// Room a queue keeps after a burst; the rest is given back.
const KEEP_CAPACITY: usize = 8;

#[derive(Clone, Debug)]
pub struct Outbox(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    queue: Mutex<VecDeque<Outbound>>,
    capacity: usize,
    /// Set when the client is to be dropped (too slow); the task closes the socket.
    killed: AtomicBool,
    /// The connection's task, waiting for something to write.
    waker: AtomicWaker,
}

/// What the connection's task finds in its outbox.
pub enum Next {
    /// Messages to write (at most the batch asked for, at least one).
    Messages,
    /// The client was too slow and is to be closed.
    Killed,
}

impl Outbox {
    pub fn new(capacity: usize) -> Outbox {
        Outbox(Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            capacity,
            killed: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Outbound>> {
        self.0.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues without waiting. A full queue means the client is too slow: it is killed, and
    /// `false` says the message was not queued.
    pub fn offer(&self, message: Outbound) -> bool {
        if self.is_killed() {
            return false;
        }
        let queued = {
            let mut queue = self.lock();
            if queue.len() < self.0.capacity {
                queue.push_back(message);
                true
            } else {
                false
            }
        };
        if !queued {
            metrics::counter!("sneakers_slow_clients_dropped_total").increment(1);
            self.kill();
            return false;
        }
        self.0.waker.wake();
        true
    }

    pub fn kill(&self) {
        self.0.killed.store(true, Ordering::Release);
        self.0.waker.wake();
    }

    pub fn is_killed(&self) -> bool {
        self.0.killed.load(Ordering::Acquire)
    }

    /// Waits until the client is killed (while a write to it is under way).
    pub async fn killed(&self) {
        poll_fn(|cx| {
            self.0.waker.register(cx.waker());
            if self.is_killed() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// Waits until there is something to write (moved into `into`, at most `batch`) or the
    /// client is killed.
    pub async fn next(&self, into: &mut Vec<Outbound>, batch: usize) -> Next {
        poll_fn(|cx| {
            // Register first, so a message offered between the check and the wait wakes us.
            self.0.waker.register(cx.waker());
            if self.is_killed() {
                return Poll::Ready(Next::Killed);
            }
            let mut queue = self.lock();
            if queue.is_empty() {
                return Poll::Pending;
            }
            let take = queue.len().min(batch);
            into.extend(queue.drain(..take));
            if queue.is_empty() && queue.capacity() > KEEP_CAPACITY {
                queue.shrink_to(KEEP_CAPACITY);
            }
            Poll::Ready(Next::Messages)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &'static str) -> Outbound {
        Outbound::Frame(text.into())
    }

    #[tokio::test]
    async fn delivers_in_order_in_batches_and_kills_when_full() {
        let outbox = Outbox::new(3);
        assert!(outbox.offer(frame("a")) && outbox.offer(frame("b")) && outbox.offer(frame("c")));
        let mut got = Vec::new();
        assert!(matches!(outbox.next(&mut got, 2).await, Next::Messages));
        assert_eq!(got.len(), 2);
        assert!(outbox.offer(frame("d")) && outbox.offer(frame("e")));
        assert!(!outbox.offer(frame("f")), "a full queue refuses");
        assert!(outbox.is_killed());
        assert!(matches!(outbox.next(&mut got, 8).await, Next::Killed));
        assert!(
            !outbox.offer(frame("g")),
            "a killed client gets nothing more"
        );
    }

    #[tokio::test]
    async fn a_waiting_task_wakes_for_a_message() {
        let outbox = Outbox::new(4);
        let sender = outbox.clone();
        let waiter = tokio::spawn(async move {
            let mut got = Vec::new();
            outbox.next(&mut got, 8).await;
            got.len()
        });
        tokio::task::yield_now().await;
        assert!(sender.offer(frame("x")));
        assert_eq!(waiter.await.ok(), Some(1));
    }
}
