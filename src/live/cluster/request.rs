//! A request to one other node and its answer, over whatever bus the cluster runs on: the
//! asking node sends the request's text to `to` for one of its services (cut in pieces that
//! each fit a payload), the node that serves it runs the service's handler and sends the
//! answer back the same way. The asker waits for it up to its limit and hears `None` when none
//! came (the node is gone, the bus is down). At most once, like everything on the bus.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Adapter;
use super::chunk::split_escaped;
use super::wire::Message;

/// Pieces of a request or answer still incomplete after this are dropped (their sender died).
const PARTIAL_TTL: Duration = Duration::from_secs(60);
/// What a piece's message carries besides its text, so it fits the bus's payload.
const PIECE_OVERHEAD: usize = 1_800;

/// A service's handler: the request's text in, the answer's text out.
pub type Handler = Arc<dyn Fn(String) -> BoxFuture<'static, String> + Send + Sync>;

/// A relayed message's sender, id and direction (`true`: an answer).
type PieceKey = (String, u64, bool);

#[derive(Default)]
pub struct Requests {
    next_id: AtomicU64,
    /// Requests of this node waiting for their answer, by id.
    pending: Mutex<HashMap<u64, oneshot::Sender<String>>>,
    /// Pieces of requests and answers addressed to this node.
    partial: Mutex<HashMap<PieceKey, (Instant, String)>>,
    services: RwLock<HashMap<&'static str, Handler>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Requests {
    /// Serves requests for `service` on this node with `handler`.
    pub fn serve(&self, service: &'static str, handler: Handler) {
        self.services
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(service, handler);
    }

    /// Sends `body` to node `to` for its `service` and waits up to `limit` for the answer.
    pub async fn ask(
        &self,
        adapter: &dyn Adapter,
        to: &str,
        service: &str,
        body: &str,
        limit: Duration,
    ) -> Option<String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        lock(&self.pending).insert(id, reply);
        send(adapter, to, service, id, false, body);
        let answer = tokio::time::timeout(limit, answer).await;
        lock(&self.pending).remove(&id);
        match answer {
            Ok(Ok(answer)) => Some(answer),
            _ => {
                tracing::debug!(%to, service, id, "no answer from the node");
                None
            }
        }
    }

    /// A piece of a request or answer from `from`, addressed to this node.
    #[allow(clippy::too_many_arguments)]
    pub fn on_piece(
        &self,
        adapter: &Arc<dyn Adapter>,
        from: &str,
        service: &str,
        id: u64,
        reply: bool,
        last: bool,
        data: &str,
    ) {
        let whole = {
            let mut partial = lock(&self.partial);
            let now = Instant::now();
            partial.retain(|_, (at, _)| now.duration_since(*at) < PARTIAL_TTL);
            let key = (from.to_string(), id, reply);
            if last {
                let mut text = partial
                    .remove(&key)
                    .map(|(_, text)| text)
                    .unwrap_or_default();
                text.push_str(data);
                Some(text)
            } else {
                partial
                    .entry(key)
                    .or_insert_with(|| (now, String::new()))
                    .1
                    .push_str(data);
                None
            }
        };
        let Some(whole) = whole else { return };
        if reply {
            if let Some(waiting) = lock(&self.pending).remove(&id) {
                let _ = waiting.send(whole);
            }
            return;
        }
        let handler = self
            .services
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(service)
            .cloned();
        let Some(handler) = handler else {
            tracing::warn!(%from, service, "a request for a service this node does not serve");
            return;
        };
        let adapter = Arc::clone(adapter);
        let (from, service) = (from.to_string(), service.to_string());
        tokio::spawn(async move {
            let answer = handler(whole).await;
            send(&*adapter, &from, &service, id, true, &answer);
        });
    }
}

/// Sends a request or an answer to node `to`, in pieces that each fit the bus's payloads.
fn send(adapter: &dyn Adapter, to: &str, service: &str, id: u64, reply: bool, text: &str) {
    let budget = adapter
        .max_payload()
        .saturating_sub(PIECE_OVERHEAD)
        .max(1_000);
    let pieces = split_escaped(text, budget);
    let count = pieces.len();
    for (at, piece) in pieces.into_iter().enumerate() {
        adapter.publish(Message::Relay {
            to: to.to_string(),
            service: service.to_string(),
            id,
            reply,
            last: at + 1 == count,
            data: piece.to_string(),
        });
    }
}
