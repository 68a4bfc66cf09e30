//! Connections (sockets, LongPoll sessions) opened under a signed-in session, by session: when
//! the session ends (a logout here or on another node), each is closed, and its client comes
//! back as whoever its cookie now says (a guest). Nothing signed-in outlives its session.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::outbox::Outbox;
use crate::domain::SessionId;

#[derive(Default)]
pub struct SignedInConnections {
    next: AtomicU64,
    by_session: Mutex<HashMap<SessionId, Vec<(u64, Outbox)>>>,
}

impl SignedInConnections {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Vec<(u64, Outbox)>>> {
        self.by_session
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers a connection of `session`; the key unregisters it.
    pub fn register(&self, session: SessionId, outbox: &Outbox) -> u64 {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock()
            .entry(session)
            .or_default()
            .push((key, outbox.clone()));
        key
    }

    pub fn unregister(&self, session: SessionId, key: u64) {
        let mut map = self.lock();
        if let Some(connections) = map.get_mut(&session) {
            connections.retain(|(k, _)| *k != key);
            if connections.is_empty() {
                map.remove(&session);
            }
        }
    }

    /// These sessions ended: their connections close.
    pub fn end(&self, ids: &[SessionId]) {
        let ended: Vec<Outbox> = {
            let mut map = self.lock();
            ids.iter()
                .filter_map(|id| map.remove(id))
                .flatten()
                .map(|(_, outbox)| outbox)
                .collect()
        };
        if !ended.is_empty() {
            tracing::debug!(
                connections = ended.len(),
                "closing connections of ended sessions"
            );
        }
        for outbox in ended {
            outbox.sign_out();
        }
    }

    /// Connections open under signed-in sessions on this node.
    pub fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
