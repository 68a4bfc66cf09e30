//! A waker that remembers it fired. A socket's task wakes mostly for pushes; polling its read
//! side costs real work each time (tungstenite zeroes its read buffer, the compat layer and the
//! reactor re-register wakers) although a push says nothing about the client. The task polls a
//! source through a [`WakeFlag`] only when that source's own waker has fired since.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

pub struct WakeFlag {
    inner: Arc<Inner>,
    /// Handed to the source; made once so the source sees the same waker on every poll.
    waker: Waker,
}

struct Inner {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Inner {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl Default for WakeFlag {
    fn default() -> Self {
        WakeFlag::new()
    }
}

impl WakeFlag {
    /// Starts raised: the source has not been polled yet.
    pub fn new() -> WakeFlag {
        let inner = Arc::new(Inner {
            woken: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        let waker = Waker::from(Arc::clone(&inner));
        WakeFlag { inner, waker }
    }

    /// Polls the source with this flag's waker if the flag is raised, else stays pending; either
    /// way the calling task is woken when the source's waker fires.
    pub fn poll<T>(
        &self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        // Registered before the flag is read: a wake-up between the two is seen on this poll.
        self.inner.task.register(cx.waker());
        if !self.inner.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let polled = poll(&mut Context::from_waker(&self.waker));
        if polled.is_ready() {
            // A source that gave one item may hold more without waking again (a buffer that
            // held two frames): it is polled again next time.
            self.inner.woken.store(true, Ordering::Release);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use tokio::sync::mpsc;

    use super::*;

    #[tokio::test]
    async fn polls_the_source_only_after_its_waker_fired() {
        let flag = WakeFlag::new();
        let (sender, mut receiver) = mpsc::unbounded_channel::<u32>();
        let polls = std::cell::Cell::new(0);
        let mut next = |cx: &mut Context<'_>| {
            flag.poll(cx, |cx| {
                polls.set(polls.get() + 1);
                receiver.poll_recv(cx)
            })
        };
        let noop = Waker::noop();
        let mut cx = Context::from_waker(noop);
        // Raised at first: polled, pending, lowered.
        assert!(next(&mut cx).is_pending());
        assert_eq!(polls.get(), 1);
        // Woken for something else: the source is not polled.
        assert!(next(&mut cx).is_pending());
        assert_eq!(polls.get(), 1);
        // The source's waker fires: polled, and again after an item (it may hold more).
        sender.send(1).expect("receiver is alive");
        sender.send(2).expect("receiver is alive");
        assert_eq!(next(&mut cx), Poll::Ready(Some(1)));
        assert_eq!(next(&mut cx), Poll::Ready(Some(2)));
        assert!(next(&mut cx).is_pending());
        assert_eq!(polls.get(), 4);
        assert!(next(&mut cx).is_pending());
        assert_eq!(polls.get(), 4);
    }

    #[tokio::test]
    async fn a_task_waiting_on_the_flag_wakes_when_the_source_does() {
        let (sender, mut receiver) = mpsc::unbounded_channel::<u32>();
        let waiter = tokio::spawn(async move {
            let flag = WakeFlag::new();
            poll_fn(|cx| flag.poll(cx, |cx| receiver.poll_recv(cx))).await
        });
        tokio::task::yield_now().await;
        sender.send(7).expect("receiver is alive");
        let woke = tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await;
        assert_eq!(
            woke.expect("the waiter was woken").expect("waiter ran"),
            Some(7)
        );
    }
}
