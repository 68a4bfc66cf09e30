//! Signed, timestamped tokens (our `Phoenix.Token`): `base64url(json{d, t}) "." base64url(mac)`.
//! The MAC key is derived from the secret and a salt, so a token made for one purpose (a socket,
//! a cart) never verifies for another. Pure: the caller passes the time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token")]
    Invalid,
    #[error("expired token")]
    Expired,
}

#[derive(Serialize)]
struct Signed<'a> {
    d: &'a str,
    /// Signed at, milliseconds since the Unix epoch.
    t: i64,
}

/// [`Signed`] read back: owned, since data holding quotes arrives escaped and cannot be
/// borrowed from the JSON.
#[derive(Deserialize)]
struct Verified {
    d: String,
    t: i64,
}

fn keyed(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// A signer for one purpose (the salt).
#[derive(Clone)]
pub struct Signer {
    /// Keyed once: every page signs two tokens, and keying hashes the key's pads each time.
    mac: HmacSha256,
}

fn derive_key(secret: &[u8], salt: &str) -> [u8; 32] {
    let mut mac = keyed(secret);
    mac.update(b"sneakers token salt: ");
    mac.update(salt.as_bytes());
    mac.finalize().into_bytes().into()
}

impl Signer {
    pub fn new(secret: &[u8], salt: &str) -> Signer {
        Signer {
            mac: keyed(&derive_key(secret, salt)),
        }
    }

    fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }

    pub fn sign(&self, data: &str, now_ms: i64) -> String {
        let body = serde_json::to_vec(&Signed { d: data, t: now_ms })
            .expect("a string and an integer always serialize");
        let body = B64.encode(body);
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let tag = B64.encode(mac.finalize().into_bytes());
        format!("{body}.{tag}")
    }

    /// The signed data, if the signature holds (checked in constant time) and the token is
    /// younger than `max_age_ms`.
    pub fn verify(&self, token: &str, max_age_ms: i64, now_ms: i64) -> Result<String, TokenError> {
        let (body, tag) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let tag = B64.decode(tag).map_err(|_| TokenError::Invalid)?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&tag).map_err(|_| TokenError::Invalid)?;
        let json = B64.decode(body).map_err(|_| TokenError::Invalid)?;
        let signed: Verified = serde_json::from_slice(&json).map_err(|_| TokenError::Invalid)?;
        if now_ms.saturating_sub(signed.t) > max_age_ms {
            return Err(TokenError::Expired);
        }
        Ok(signed.d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a secret key base that is long enough for the tests here";
    const DAY: i64 = 86_400_000;

    #[test]
    fn round_trip() {
        let signer = Signer::new(SECRET, "socket");
        let token = signer.sign("cart-123", 1_000);
        assert_eq!(signer.verify(&token, DAY, 2_000), Ok("cart-123".into()));
    }

    #[test]
    fn data_with_quotes_round_trips() {
        let signer = Signer::new(SECRET, "cart");
        let data = r#"{"c":"cart-123","i":[7]}"#;
        let token = signer.sign(data, 1_000);
        assert_eq!(signer.verify(&token, DAY, 2_000), Ok(data.to_string()));
    }

    #[test]
    fn expires_after_max_age() {
        let signer = Signer::new(SECRET, "socket");
        let token = signer.sign("cart-123", 0);
        assert_eq!(signer.verify(&token, DAY, DAY), Ok("cart-123".into()));
        assert_eq!(
            signer.verify(&token, DAY, DAY + 1),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn tampered_payload_is_invalid() {
        let signer = Signer::new(SECRET, "socket");
        let token = signer.sign("cart-123", 0);
        let (_, tag) = token.split_once('.').unwrap_or_default();
        let forged_body = B64.encode(br#"{"d":"cart-999","t":0}"#);
        assert_eq!(
            signer.verify(&format!("{forged_body}.{tag}"), DAY, 1),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn tampered_signature_is_invalid() {
        let signer = Signer::new(SECRET, "socket");
        let token = signer.sign("cart-123", 0);
        let mut bytes = token.into_bytes();
        if let Some(last) = bytes.last_mut() {
            *last = if *last == b'A' { b'B' } else { b'A' };
        }
        let forged = String::from_utf8(bytes).unwrap_or_default();
        assert_eq!(signer.verify(&forged, DAY, 1), Err(TokenError::Invalid));
        assert_eq!(signer.verify("garbage", DAY, 1), Err(TokenError::Invalid));
        assert_eq!(signer.verify("", DAY, 1), Err(TokenError::Invalid));
        assert_eq!(signer.verify("a.b.c", DAY, 1), Err(TokenError::Invalid));
    }

    #[test]
    fn wrong_key_or_salt_is_invalid() {
        let token = Signer::new(SECRET, "socket").sign("cart-123", 0);
        assert_eq!(
            Signer::new(b"another secret entirely", "socket").verify(&token, DAY, 1),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            Signer::new(SECRET, "cart").verify(&token, DAY, 1),
            Err(TokenError::Invalid)
        );
    }
}

/// One signer per purpose, all from `SECRET_KEY_BASE`.
#[derive(Clone)]
pub struct Tokens {
    /// Shopper sockets: the cart id.
    pub socket: Signer,
    /// Admin sockets.
    pub admin: Signer,
    /// The cart's item ids (client-held).
    pub cart: Signer,
    /// Form CSRF tokens: bound to the session's cart id.
    pub csrf: Signer,
    /// LongPoll sessions: `node|session_id`, the node that holds the session.
    pub longpoll: Signer,
    /// Device cookies: `nonce|mailbox` of a browser that signed in (`domain::device`).
    pub device: Signer,
    /// The key of waiting lines' draws.
    pub line_draw: [u8; 32],
}

pub const SOCKET_TOKEN_MAX_AGE_MS: i64 = 24 * 3600 * 1000;
/// Short, and renewed over the admin channel while the dashboard stays open.
pub const ADMIN_TOKEN_MAX_AGE_MS: i64 = 12 * 3600 * 1000;
pub const CART_TOKEN_MAX_AGE_MS: i64 = 7 * 24 * 3600 * 1000;
/// As Phoenix's (two weeks): the token lives as long as its session, which an idle client
/// loses long before.
pub const LONGPOLL_TOKEN_MAX_AGE_MS: i64 = 14 * 24 * 3600 * 1000;

impl Tokens {
    pub fn new(secret: &str) -> Tokens {
        let secret = secret.as_bytes();
        Tokens {
            socket: Signer::new(secret, "user socket"),
            admin: Signer::new(secret, "admin socket"),
            cart: Signer::new(secret, "cart"),
            csrf: Signer::new(secret, "csrf"),
            longpoll: Signer::new(secret, "longpoll session"),
            device: Signer::new(secret, "device cookie"),
            line_draw: derive_key(secret, "line draw"),
        }
    }

    /// The CSRF token of a session: no timestamp, so a page left open for days still posts.
    pub fn csrf_for(&self, cart_id: &str) -> String {
        let signed = self.csrf.sign(cart_id, 0);
        let (_, tag) = signed.rsplit_once('.').expect("a signed token is body.tag");
        tag.to_string()
    }

    pub fn csrf_ok(&self, cart_id: &str, given: &str) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.csrf_for(cart_id);
        !given.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
    }
}
