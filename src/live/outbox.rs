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
use std::task::{Context, Poll, Waker};

use super::hub::Outbound;

/// Room a queue keeps after a burst; the rest is given back.
const KEEP_CAPACITY: usize = 8;

#[derive(Clone, Debug)]
pub struct Outbox(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    inner: Mutex<Inner>,
    capacity: usize,
    /// Set when the client is to be dropped (too slow); the task closes the socket.
    killed: AtomicBool,
    /// Set with `killed` when the session the connection was opened under ended.
    signed_out: AtomicBool,
}

/// The queue and the waker of the task draining it, under one lock. The waker stays put
/// across wake-ups (woken by reference, replaced only when another task waits): an
/// `AtomicWaker` hands its waker over on every wake, so each push to each socket paid for a
/// waker clone and drop besides the lock (3% of the server's CPU in a 19,000-socket fan-out).
#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<Outbound>,
    waker: Option<Waker>,
}

impl Inner {
    /// Remembers `cx`'s task as the one to wake.
    fn wait(&mut self, cx: &Context<'_>) {
        match &self.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => self.waker = Some(cx.waker().clone()),
        }
    }

    fn wake(&self) {
        if let Some(waker) = &self.waker {
            waker.wake_by_ref();
        }
    }
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
            inner: Mutex::default(),
            capacity,
            killed: AtomicBool::new(false),
            signed_out: AtomicBool::new(false),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues without waiting. A full queue means the client is too slow: it is killed, and
    /// `false` says the message was not queued.
    pub fn offer(&self, message: Outbound) -> bool {
        if self.is_killed() {
            return false;
        }
        {
            let mut inner = self.lock();
            if inner.queue.len() < self.0.capacity {
                inner.queue.push_back(message);
                // A queue that held something already has its task woken.
                if inner.queue.len() == 1 {
                    inner.wake();
                }
                return true;
            }
        }
        metrics::counter!("sneakers_slow_clients_dropped_total").increment(1);
        self.kill();
        false
    }

    pub fn kill(&self) {
        self.0.killed.store(true, Ordering::Release);
        self.lock().wake();
    }

    /// The session this connection was opened under ended: it is closed (its client
    /// reconnects, and is a guest again).
    pub fn sign_out(&self) {
        self.0.signed_out.store(true, Ordering::Release);
        self.kill();
    }

    /// Whether the connection was killed by [`Outbox::sign_out`].
    pub fn is_signed_out(&self) -> bool {
        self.0.signed_out.load(Ordering::Acquire)
    }

    pub fn is_killed(&self) -> bool {
        self.0.killed.load(Ordering::Acquire)
    }

    /// Waits until the client is killed (while a write to it is under way).
    pub async fn killed(&self) {
        poll_fn(|cx| {
            let mut inner = self.lock();
            // Checked under the lock `kill` wakes under: no kill slips between check and wait.
            if self.is_killed() {
                return Poll::Ready(());
            }
            inner.wait(cx);
            Poll::Pending
        })
        .await
    }

    /// Waits until there is something to write (moved into `into`, at most `batch`) or the
    /// client is killed.
    pub async fn next(&self, into: &mut Vec<Outbound>, batch: usize) -> Next {
        poll_fn(|cx| {
            let mut inner = self.lock();
            if self.is_killed() {
                return Poll::Ready(Next::Killed);
            }
            if inner.queue.is_empty() {
                inner.wait(cx);
                return Poll::Pending;
            }
            let take = inner.queue.len().min(batch);
            into.extend(inner.queue.drain(..take));
            if inner.queue.is_empty() && inner.queue.capacity() > KEEP_CAPACITY {
                inner.queue.shrink_to(KEEP_CAPACITY);
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

    /// A task waiting once for `outbox`'s next messages; it ends with how many it got.
    fn wait_once(outbox: &Outbox) -> tokio::task::JoinHandle<usize> {
        let outbox = outbox.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            outbox.next(&mut got, 8).await;
            got.len()
        })
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
        let waiter = wait_once(&outbox);
        tokio::task::yield_now().await;
        assert!(outbox.offer(frame("x")));
        assert_eq!(waiter.await.ok(), Some(1));
    }

    #[tokio::test]
    async fn the_same_task_is_woken_again_and_again() {
        let outbox = Outbox::new(4);
        let sender = outbox.clone();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let waiter = tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..3 {
                outbox.next(&mut got, 8).await;
                let _ = tx.send(got.len());
            }
        });
        for expected in 1..=3 {
            tokio::task::yield_now().await;
            assert!(sender.offer(frame("x")));
            assert_eq!(rx.recv().await, Some(expected));
        }
        assert!(waiter.await.is_ok());
    }

    #[tokio::test]
    async fn a_new_waiter_replaces_one_that_gave_up() {
        // A long-poll session is drained by one request after another.
        let outbox = Outbox::new(4);
        {
            let mut into = Vec::new();
            let mut first = std::pin::pin!(outbox.next(&mut into, 8));
            let mut cx = Context::from_waker(Waker::noop());
            assert!(first.as_mut().poll(&mut cx).is_pending(), "nothing queued");
        }
        let waiter = wait_once(&outbox);
        tokio::task::yield_now().await;
        assert!(outbox.offer(frame("x")));
        assert_eq!(waiter.await.ok(), Some(1));
    }

    #[tokio::test]
    async fn a_kill_wakes_a_writer_waiting_on_it() {
        let outbox = Outbox::new(4);
        let killer = outbox.clone();
        let waiter = tokio::spawn(async move { outbox.killed().await });
        tokio::task::yield_now().await;
        killer.kill();
        assert!(waiter.await.is_ok());
    }
}
