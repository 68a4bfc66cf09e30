//! What a node has yet to say, between `publish` (which never waits) and the adapter's
//! publisher task, which sends it a round at a time. A full queue drops the message, and the
//! next round then starts with [`Message::Reload`]: the other nodes resync instead of missing
//! it silently.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;

use super::wire::Message;

const QUEUE: usize = 100_000;
/// Messages taken per round.
pub const ROUND: usize = 1_000;

pub struct Outgoing {
    queue: mpsc::Sender<Message>,
    lost: AtomicBool,
}

impl Outgoing {
    pub fn new() -> (Outgoing, mpsc::Receiver<Message>) {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let outgoing = Outgoing {
            queue,
            lost: AtomicBool::new(false),
        };
        (outgoing, receiver)
    }

    pub fn push(&self, message: Message) {
        if self.queue.try_send(message).is_err() {
            metrics::counter!("sneakers_cluster_dropped_total").increment(1);
            if !self.lost.swap(true, Ordering::Relaxed) {
                tracing::warn!("cluster queue full: messages dropped; other nodes will reload");
            }
        }
    }

    /// The next round: waits for a message, then takes what else is queued, up to [`ROUND`].
    /// `None` once the node is gone.
    pub async fn round(&self, queue: &mut mpsc::Receiver<Message>) -> Option<Vec<Message>> {
        let first = queue.recv().await?;
        let mut round = Vec::with_capacity(16);
        if self.lost.swap(false, Ordering::Relaxed) {
            round.push(Message::Reload);
        }
        round.push(first);
        while round.len() < ROUND {
            match queue.try_recv() {
                Ok(message) => round.push(message),
                Err(_) => break,
            }
        }
        Some(round)
    }
}
