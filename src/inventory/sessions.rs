//! Server-side sessions: a random secret made anew at each sign-in (the cookie carries it, the
//! database only its hash), ended by a logout, over after `SESSION_IDLE_MS` unused or
//! `SESSION_MAX_AGE_MS` after sign-in. Generic over who signs in ([`Subject`]: a kind and an
//! id), so any kind of login uses the same sessions and cookie.
//!
//! The API, on [`Inventory`]:
//! - [`Inventory::start_session`]`(subject, data)` at a sign-in: the secret for the cookie and
//!   the session (`data` is the kind's own, e.g. a shopper's cart id);
//! - [`Inventory::session`]`(secret)` per request: the live session or `None`;
//!   [`Inventory::session_by_id`] for a socket whose signed token names one;
//! - [`Inventory::end_session`] (logout) and [`Inventory::end_sessions_of`] (sign out
//!   everywhere, a password change): every node forgets them at once and the connections
//!   opened under them close;
//! - [`Inventory::session_ended`]: whether this node heard that a session ended lately (a
//!   synchronous check for code that cannot wait, e.g. a channel join).
//!
//! Cost: guests have no session (their cookie is signed and holds only their cart id), so a
//! crowd of guests costs no database write. A signed-in request is answered from a per-node
//! cache (entries live [`CACHE_TTL`]), and use is written back at most once per tenth of the
//! idle time. A logout evicts the entry on its own node before it answers, and publishes
//! [`Event::SessionsEnded`], which the cluster bus carries to every other node (they evict,
//! and close that session's sockets); a node whose feed (re)connects forgets its whole cache,
//! so a missed message is not trusted for longer than the gap.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;

use super::{Event, Inventory, InventoryError};
use crate::domain::session::{SessionId, SessionPolicy, SessionSecret, Subject};
use crate::store;

/// How long a node trusts what it read of a session without asking the database again (a bound
/// on a missed logout message; the bus normally evicts at once).
pub const CACHE_TTL: Duration = Duration::from_secs(30);
/// How long a node remembers that a session ended (longer than any connect-then-join race).
const ENDED_MEMORY: Duration = Duration::from_secs(600);
/// Entries past this are swept of stale ones.
const SWEEP_OVER: usize = 4096;

/// A session that holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    pub id: SessionId,
    pub subject: Subject,
    /// The kind's own (a shopper's cart id).
    pub data: String,
    pub created_ms: i64,
    pub seen_ms: i64,
}

struct Cached {
    hash: String,
    session: LiveSession,
    read_at: Instant,
}

/// This node's view of the sessions it has seen lately.
pub struct SessionCache {
    policy: SessionPolicy,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    by_id: HashMap<SessionId, Cached>,
    by_hash: HashMap<String, SessionId>,
    ended: HashMap<SessionId, Instant>,
}

impl CacheState {
    fn evict(&mut self, id: SessionId) {
        if let Some(cached) = self.by_id.remove(&id) {
            self.by_hash.remove(&cached.hash);
        }
    }

    fn sweep(&mut self) {
        if self.by_id.len() > SWEEP_OVER {
            let stale: Vec<SessionId> = self
                .by_id
                .iter()
                .filter(|(_, c)| c.read_at.elapsed() >= CACHE_TTL)
                .map(|(id, _)| *id)
                .collect();
            for id in stale {
                self.evict(id);
            }
        }
        if self.ended.len() > SWEEP_OVER {
            self.ended.retain(|_, at| at.elapsed() < ENDED_MEMORY);
        }
    }
}

impl SessionCache {
    pub fn new(policy: SessionPolicy) -> SessionCache {
        SessionCache {
            policy,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fresh_by_hash(&self, hash: &str) -> Option<LiveSession> {
        let state = self.lock();
        let id = state.by_hash.get(hash)?;
        let cached = state.by_id.get(id)?;
        (cached.read_at.elapsed() < CACHE_TTL).then(|| cached.session.clone())
    }

    fn fresh_by_id(&self, id: SessionId) -> Option<LiveSession> {
        let state = self.lock();
        let cached = state.by_id.get(&id)?;
        (cached.read_at.elapsed() < CACHE_TTL).then(|| cached.session.clone())
    }

    fn keep(&self, hash: String, session: LiveSession) {
        let mut state = self.lock();
        if state.ended.contains_key(&session.id) {
            return;
        }
        state.sweep();
        state.by_hash.insert(hash.clone(), session.id);
        state.by_id.insert(
            session.id,
            Cached {
                hash,
                session,
                read_at: Instant::now(),
            },
        );
    }

    fn ended(&self, ids: &[SessionId]) {
        let mut state = self.lock();
        for id in ids {
            state.evict(*id);
            state.ended.insert(*id, Instant::now());
        }
    }

    fn forget_all(&self) {
        let mut state = self.lock();
        state.by_id.clear();
        state.by_hash.clear();
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

impl Inventory {
    /// Signs `subject` in: a new session (never one that existed before), and the secret its
    /// cookie carries.
    pub async fn start_session(
        &self,
        subject: Subject,
        data: &str,
    ) -> Result<(SessionSecret, LiveSession), InventoryError> {
        let secret = SessionSecret::from_random(rand::random());
        let hash = secret.hash();
        let now = now_ms();
        let id = store::sessions::create(&self.db, &hash, subject, data, now).await?;
        let session = LiveSession {
            id,
            subject,
            data: data.to_string(),
            created_ms: now,
            seen_ms: now,
        };
        self.sessions.keep(hash, session.clone());
        tracing::info!(session = %id, kind = subject.kind.name(), subject = subject.id, "session started");
        Ok((secret, session))
    }

    /// The session `secret` opens, if it holds (not ended, not idle too long, not too old).
    pub async fn session(
        &self,
        secret: &SessionSecret,
    ) -> Result<Option<LiveSession>, InventoryError> {
        let hash = secret.hash();
        if let Some(session) = self.sessions.fresh_by_hash(&hash) {
            return self.still_holds(hash, session).await;
        }
        match store::sessions::by_hash(&self.db, &hash).await? {
            Some(stored) if stored.ended_ms.is_none() => {
                let session = LiveSession {
                    id: stored.id,
                    subject: stored.subject,
                    data: stored.data,
                    created_ms: stored.created_ms,
                    seen_ms: stored.seen_ms,
                };
                self.still_holds(hash, session).await
            }
            _ => Ok(None),
        }
    }

    /// The session of this id, if it holds (for a socket whose signed token names it).
    pub async fn session_by_id(
        &self,
        id: SessionId,
    ) -> Result<Option<LiveSession>, InventoryError> {
        if self.session_ended(id) {
            return Ok(None);
        }
        if let Some(session) = self.sessions.fresh_by_id(id) {
            let holds = self
                .sessions
                .policy
                .holds(session.created_ms, session.seen_ms, now_ms());
            return Ok(holds.then_some(session));
        }
        match store::sessions::by_id(&self.db, id).await? {
            Some(stored) if stored.ended_ms.is_none() => {
                let holds = self
                    .sessions
                    .policy
                    .holds(stored.created_ms, stored.seen_ms, now_ms());
                Ok(holds.then_some(LiveSession {
                    id: stored.id,
                    subject: stored.subject,
                    data: stored.data,
                    created_ms: stored.created_ms,
                    seen_ms: stored.seen_ms,
                }))
            }
            _ => Ok(None),
        }
    }

    /// Checks expiry, writes back the use when it is due, and caches the session.
    async fn still_holds(
        &self,
        hash: String,
        mut session: LiveSession,
    ) -> Result<Option<LiveSession>, InventoryError> {
        let now = now_ms();
        let policy = self.sessions.policy;
        if !policy.holds(session.created_ms, session.seen_ms, now) {
            self.sessions.ended(&[session.id]);
            return Ok(None);
        }
        if policy.wants_touch(session.seen_ms, now) {
            store::sessions::touch(&self.db, session.id, now).await?;
            session.seen_ms = now;
        }
        self.sessions.keep(hash, session.clone());
        Ok(Some(session))
    }

    /// Whether this node heard lately that the session ended.
    pub fn session_ended(&self, id: SessionId) -> bool {
        self.sessions.lock().ended.contains_key(&id)
    }

    /// A logout: the session ends for every node and every connection opened under it.
    pub async fn end_session(&self, id: SessionId) -> Result<(), InventoryError> {
        store::sessions::end(&self.db, id, now_ms()).await?;
        self.sessions_ended(vec![id]);
        tracing::info!(session = %id, "session ended");
        Ok(())
    }

    /// Ends every session of `subject` but `except` (sign out everywhere, a password change);
    /// returns how many ended.
    pub async fn end_sessions_of(
        &self,
        subject: Subject,
        except: Option<SessionId>,
    ) -> Result<usize, InventoryError> {
        let ended = store::sessions::end_all(&self.db, subject, except, now_ms()).await?;
        let count = ended.len();
        if !ended.is_empty() {
            self.sessions_ended(ended);
        }
        tracing::info!(
            kind = subject.kind.name(),
            subject = subject.id,
            count,
            "sessions ended"
        );
        Ok(count)
    }

    fn sessions_ended(&self, ids: Vec<SessionId>) {
        self.sessions.ended(&ids);
        self.publish(Event::SessionsEnded { ids }, true);
    }

    /// Another node ended these sessions.
    pub fn apply_replicated_sessions_ended(&self, ids: Vec<SessionId>) {
        self.sessions.ended(&ids);
        self.publish(Event::SessionsEnded { ids }, false);
    }

    /// The feed (re)connected: what was missed meanwhile is unknown, so nothing cached is
    /// trusted.
    pub fn forget_cached_sessions(&self) {
        self.sessions.forget_all();
    }

    /// Deletes the rows of sessions over for a day (ended, idle or too old).
    pub async fn purge_sessions(&self) -> Result<usize, InventoryError> {
        let policy = self.sessions.policy;
        let longest = policy.idle.max(policy.max_age) + Duration::from_secs(24 * 3600);
        let cutoff = now_ms() - i64::try_from(longest.as_millis()).unwrap_or(i64::MAX / 2);
        Ok(store::sessions::purge(&self.db, cutoff).await?)
    }
}

/// How often rows of sessions long over are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes the rows of sessions long over, once an hour.
pub fn spawn_purge(inventory: std::sync::Arc<Inventory>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PURGE_EVERY);
        loop {
            every.tick().await;
            match inventory.purge_sessions().await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "old sessions deleted"),
                Err(error) => {
                    tracing::warn!(error = %crate::error_chain::ErrorChain(&error), "cannot delete old sessions")
                }
            }
        }
    })
}
