//! The device cookie (`domain::device`) as a browser carries it: set at every sign-in with a
//! fresh nonce, sent back only to `/account` routes (where the login form posts), HttpOnly and
//! SameSite=Lax, `Secure` behind HTTPS (`secure_cookies`). Signing out leaves it: it signs
//! nobody in, it only tells the login limiter that this browser has signed in to that mailbox
//! before.

use axum::http::{HeaderMap, HeaderValue};
use chrono::Utc;
use rand::Rng;
use rand::distr::Alphanumeric;

use super::session::cookies;
use crate::domain::device::{DEVICE_TOKEN_MAX_AGE_MS, Device};
use crate::domain::token::Tokens;

pub const DEVICE_COOKIE: &str = "_sneakers_device";
/// 32 alphanumerics: about 190 bits, unguessable, so nobody can spend another browser's budget.
const NONCE_LEN: usize = 32;

/// The device this browser's cookie names for `mailbox`, if it holds a valid one: a forged,
/// stale or other account's cookie vouches for nothing.
pub fn device_for(headers: &HeaderMap, tokens: &Tokens, mailbox: &str) -> Option<Device> {
    let now = Utc::now().timestamp_millis();
    cookies(headers, DEVICE_COOKIE)
        .filter_map(|value| Device::verify(&tokens.device, value, now))
        .find(|device| device.is_for(mailbox))
}

/// `Set-Cookie` of a new device cookie for `mailbox` (the canonical email just signed in to).
pub fn issue(tokens: &Tokens, mailbox: &str) -> HeaderValue {
    let nonce: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(NONCE_LEN)
        .map(char::from)
        .collect();
    let value =
        Device::new(nonce, mailbox.to_string()).sign(&tokens.device, Utc::now().timestamp_millis());
    let max_age = DEVICE_TOKEN_MAX_AGE_MS / 1000;
    HeaderValue::from_str(&format!(
        "{DEVICE_COOKIE}={value}; Path=/account; Max-Age={max_age}; HttpOnly; SameSite=Lax"
    ))
    .expect("a signed token is base64url and dots")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    #[test]
    fn an_issued_cookie_is_read_back_for_its_mailbox_only() {
        let tokens = Tokens::new("a secret key base long enough for the device cookie tests");
        let set = issue(&tokens, "ada@example.com");
        let set = set.to_str().unwrap_or_default();
        assert!(
            set.contains("HttpOnly") && set.contains("Path=/account"),
            "{set}"
        );
        let pair = set.split(';').next().unwrap_or_default();
        let mut headers = HeaderMap::new();
        let sent = format!("theme=dark; {pair}");
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&sent).unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(device_for(&headers, &tokens, "ada@example.com").is_some());
        assert!(device_for(&headers, &tokens, "bob@example.com").is_none());
        let other = Tokens::new("another secret key base, from another store entirely");
        assert!(device_for(&headers, &other, "ada@example.com").is_none());
    }
}
