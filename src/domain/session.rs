//! Server-side sessions, the pure part: who a session signs in (a [`Subject`]), the secret a
//! cookie carries and the hash the database keeps of it, and when a session is over (idle and
//! absolute expiry). The store and the per-node cache are in `inventory::sessions`.

use std::fmt;
use std::time::Duration;

pub use super::ids::SessionId;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sha2::{Digest, Sha256};

use super::AccountId;

/// What kind of login a session is for; stored as its [`SessionKind::name`]. Another kind of
/// login (staff) is one more variant here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// A shopper's account ([`Subject::id`] is an [`AccountId`]).
    Account,
}

impl SessionKind {
    pub const ALL: [SessionKind; 1] = [SessionKind::Account];

    pub fn name(self) -> &'static str {
        match self {
            SessionKind::Account => "account",
        }
    }

    pub fn from_name(name: &str) -> Option<SessionKind> {
        SessionKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Who a session signs in: a kind and the id of its row (an account's, a staff login's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subject {
    pub kind: SessionKind,
    pub id: i32,
}

impl Subject {
    pub fn account(id: AccountId) -> Subject {
        Subject {
            kind: SessionKind::Account,
            id: id.0,
        }
    }

    /// The account this session signs in, if it is an account's.
    pub fn as_account(&self) -> Option<AccountId> {
        match self.kind {
            SessionKind::Account => Some(AccountId(self.id)),
        }
    }
}

/// Bytes of randomness in a session secret (256 bits).
pub const SECRET_BYTES: usize = 32;
/// Characters of a secret once encoded (URL-safe base64, no padding).
pub const SECRET_LEN: usize = 43;

/// The secret a session's cookie carries. Only its hash is stored: a leaked row is no cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret(String);

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(…)")
    }
}

impl SessionSecret {
    /// A secret from `bytes` of fresh randomness (the caller's: this module does no I/O).
    pub fn from_random(bytes: [u8; SECRET_BYTES]) -> SessionSecret {
        SessionSecret(B64.encode(bytes))
    }

    /// A secret as a cookie carried it, if it has the shape of one.
    pub fn parse(text: &str) -> Option<SessionSecret> {
        let shaped = text.len() == SECRET_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        shaped.then(|| SessionSecret(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the database keys the session by: SHA-256 of the secret, in hex. The secret has
    /// 256 bits of randomness, so a fast hash is enough (nothing to brute-force).
    pub fn hash(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// How long sessions last (`SESSION_IDLE_MS`, `SESSION_MAX_AGE_MS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Unused this long, a session is over.
    pub idle: Duration,
    /// This long after sign-in, a session is over however much it is used.
    pub max_age: Duration,
}

/// Use is written back at most once per this share of the idle time: a session may then end
/// up to a tenth of `idle` early, and a busy shopper costs no write per request.
const TOUCH_SHARE: u32 = 10;

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl SessionPolicy {
    /// Whether a session made at `created_ms`, last seen at `seen_ms`, still holds at `now_ms`.
    pub fn holds(&self, created_ms: i64, seen_ms: i64, now_ms: i64) -> bool {
        now_ms.saturating_sub(seen_ms) < ms(self.idle)
            && now_ms.saturating_sub(created_ms) < ms(self.max_age)
    }

    /// Whether a use at `now_ms` should be written back (the last one written was `seen_ms`).
    pub fn wants_touch(&self, seen_ms: i64, now_ms: i64) -> bool {
        now_ms.saturating_sub(seen_ms) >= ms(self.idle / TOUCH_SHARE)
    }

    /// The longest a session lasts, in milliseconds (its cookie's lifetime).
    pub fn max_age_ms(&self) -> i64 {
        ms(self.max_age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: SessionPolicy = SessionPolicy {
        idle: Duration::from_secs(100),
        max_age: Duration::from_secs(1000),
    };

    #[test]
    fn a_session_ends_when_idle_or_too_old() {
        assert!(POLICY.holds(0, 0, 99_999));
        assert!(!POLICY.holds(0, 0, 100_000), "idle");
        assert!(POLICY.holds(0, 950_000, 999_999));
        assert!(
            !POLICY.holds(0, 990_000, 1_000_000),
            "too old, however busy"
        );
    }

    #[test]
    fn use_is_written_back_a_tenth_of_the_idle_time_apart() {
        assert!(!POLICY.wants_touch(0, 9_999));
        assert!(POLICY.wants_touch(0, 10_000));
    }

    #[test]
    fn secrets_hash_and_parse() {
        let secret = SessionSecret::from_random([7; SECRET_BYTES]);
        assert_eq!(secret.as_str().len(), SECRET_LEN);
        assert_eq!(SessionSecret::parse(secret.as_str()), Some(secret.clone()));
        assert_eq!(secret.hash().len(), 64);
        assert_ne!(secret.hash(), secret.as_str());
        let other = SessionSecret::from_random([8; SECRET_BYTES]);
        assert_ne!(secret.hash(), other.hash());
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}!", "a".repeat(42)),
        ] {
            assert_eq!(SessionSecret::parse(bad), None, "{bad:?}");
        }
        assert_eq!(format!("{secret:?}"), "SessionSecret(…)");
    }

    #[test]
    fn kinds_round_trip_by_name() {
        for kind in SessionKind::ALL {
            assert_eq!(SessionKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(SessionKind::from_name("nobody"), None);
        let subject = Subject::account(AccountId(4));
        assert_eq!(subject.as_account(), Some(AccountId(4)));
    }
}
