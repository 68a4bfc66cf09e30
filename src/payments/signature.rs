//! Stripe's webhook signatures: `Stripe-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" under the endpoint's secret>` (several `v1` while a secret is rolled). An event
//! is believed only if one `v1` matches (compared in constant time) and `t` is within Stripe's
//! documented tolerance of five minutes, so a captured delivery cannot be replayed later.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Stripe's libraries' default tolerance.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header, or not one Stripe writes")]
    Malformed,
    #[error("no signature matches")]
    Mismatch,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
}

/// The hex signature of `payload` at `timestamp` (what Stripe puts after `v1=`).
pub fn sign(payload: &[u8], timestamp: i64, secret: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    hex(&mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Checks a delivery: `header` is the `Stripe-Signature` value, `now` Unix seconds.
pub fn verify(payload: &[u8], header: &str, secret: &str, now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(unhex(v).ok_or(SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let matches = signatures.iter().any(|signature| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        mac.verify_slice(signature).is_ok()
    });
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// The part of a webhook event the store acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: String,
    /// `data.object`: for `payment_intent.*`, the intent.
    pub object: Value,
}

pub fn parse_event(payload: &[u8]) -> Option<Event> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    Some(Event {
        id: value["id"].as_str()?.to_string(),
        kind: value["type"].as_str()?.to_string(),
        object: value["data"]["object"].clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const BODY: &[u8] =
        br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}"#;

    #[test]
    fn a_signed_fresh_delivery_is_believed() {
        let header = format!("t=1000,v1={}", sign(BODY, 1000, SECRET));
        assert_eq!(verify(BODY, &header, SECRET, 1000 + TOLERANCE_SECS), Ok(()));
        // A rolled secret: the old and the new signature, either may match.
        let header = format!(
            "t=1000,v1={},v1={}",
            "00".repeat(32),
            sign(BODY, 1000, SECRET)
        );
        assert_eq!(verify(BODY, &header, SECRET, 1000), Ok(()));
        let event = parse_event(BODY);
        assert_eq!(
            event.as_ref().map(|e| e.kind.as_str()),
            Some("payment_intent.succeeded")
        );
        assert_eq!(event.map(|e| e.object["id"].clone()), Some("pi_1".into()));
    }

    #[test]
    fn forged_stale_and_malformed_deliveries_are_refused() {
        let good = sign(BODY, 1000, SECRET);
        let verify_at = |header: &str, now| verify(BODY, header, SECRET, now);
        assert_eq!(
            verify(BODY, &format!("t=1000,v1={good}"), "whsec_other", 1000),
            Err(SignatureError::Mismatch)
        );
        let tampered =
            br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_2"}}}"#;
        assert_eq!(
            verify(tampered, &format!("t=1000,v1={good}"), SECRET, 1000),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed too: moving it breaks the signature.
        assert_eq!(
            verify_at(&format!("t=2000,v1={good}"), 2000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_at(&format!("t=1000,v1={good}"), 1000 + TOLERANCE_SECS + 1),
            Err(SignatureError::Stale)
        );
        for bad in ["", "t=1000", &format!("v1={good}"), "t=x,v1=zz", "garbage"] {
            assert_eq!(
                verify_at(bad, 1000),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(parse_event(b"not json"), None);
    }
}
