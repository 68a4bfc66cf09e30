//! Device cookies (OWASP's "Slow Down Online Guessing Attacks with Device Cookies"): a browser
//! that once signed in to an account holds a signed token naming that account's mailbox and a
//! random nonce of its own. A login for that mailbox from that browser is judged against the
//! budget of its nonce, not against the mailbox's budget that every stranger spends, so guessing
//! a shopper's password from anywhere cannot lock the shopper out of their own browser. Pure:
//! the caller brings the nonce, the signer and the time.

use super::token::Signer;

/// A device cookie lasts half a year after the sign-in that issued it; each sign-in issues a
/// new one.
pub const DEVICE_TOKEN_MAX_AGE_MS: i64 = 182 * 24 * 3600 * 1000;
/// The nonce is what the device's budget is keyed by: at least this long, URL-safe.
pub const MIN_NONCE: usize = 16;

/// What a valid device cookie says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Names this browser's own budget.
    pub nonce: String,
    /// The canonical mailbox (`Email::key`) of the account it signed in to.
    pub mailbox: String,
}

impl Device {
    pub fn new(nonce: String, mailbox: String) -> Device {
        Device { nonce, mailbox }
    }

    /// The cookie's value: `nonce|mailbox`, signed and timestamped (`now_ms`).
    pub fn sign(&self, signer: &Signer, now_ms: i64) -> String {
        signer.sign(&format!("{}|{}", self.nonce, self.mailbox), now_ms)
    }

    /// The device a cookie value names, if its signature holds and it has not expired: a
    /// forged, tampered or stale cookie is no device at all (its bearer is a stranger).
    pub fn verify(signer: &Signer, value: &str, now_ms: i64) -> Option<Device> {
        let data = signer.verify(value, DEVICE_TOKEN_MAX_AGE_MS, now_ms).ok()?;
        let (nonce, mailbox) = data.split_once('|')?;
        let nonce_ok = nonce.len() >= MIN_NONCE
            && nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        (nonce_ok && !mailbox.is_empty()).then(|| Device::new(nonce.into(), mailbox.into()))
    }

    /// Whether this device vouches for a login to `mailbox` (another account's cookie does not).
    pub fn is_for(&self, mailbox: &str) -> bool {
        self.mailbox == mailbox
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a secret key base that is long enough for the device tests";
    const NONCE: &str = "n0nce-of-this-browser";

    fn signer() -> Signer {
        Signer::new(SECRET, "device")
    }

    #[test]
    fn a_signed_device_verifies_for_its_own_mailbox_only() {
        let device = Device::new(NONCE.into(), "ada@example.com".into());
        let value = device.sign(&signer(), 1_000);
        let read = Device::verify(&signer(), &value, 2_000);
        assert_eq!(read.as_ref(), Some(&device));
        assert!(read.as_ref().is_some_and(|d| d.is_for("ada@example.com")));
        assert!(!read.is_some_and(|d| d.is_for("bob@example.com")));
    }

    #[test]
    fn forged_tampered_foreign_or_stale_cookies_are_no_device() {
        let device = Device::new(NONCE.into(), "ada@example.com".into());
        let value = device.sign(&signer(), 0);
        assert_eq!(Device::verify(&signer(), "garbage", 1), None);
        assert_eq!(Device::verify(&signer(), "", 1), None);
        // Signed by another secret, or for another purpose.
        let other = Signer::new(b"another secret key base entirely, not ours", "device");
        assert_eq!(Device::verify(&other, &value, 1), None);
        let cart = Signer::new(SECRET, "cart");
        assert_eq!(Device::verify(&cart, &value, 1), None);
        // The mailbox swapped under the same signature.
        let (_, tag) = value.split_once('.').unwrap_or_default();
        let bob = Device::new(NONCE.into(), "bob@example.com".into()).sign(&signer(), 0);
        let (body, _) = bob.split_once('.').unwrap_or_default();
        assert_eq!(Device::verify(&signer(), &format!("{body}.{tag}"), 1), None);
        // Too old.
        assert_eq!(
            Device::verify(&signer(), &value, DEVICE_TOKEN_MAX_AGE_MS + 1),
            None
        );
        // A validly signed value that is not `nonce|mailbox` with a proper nonce.
        for data in [
            "no separator",
            "short|ada@example.com",
            "a b c d e f g h i j|x",
        ] {
            let value = signer().sign(data, 0);
            assert_eq!(Device::verify(&signer(), &value, 1), None, "{data}");
        }
    }
}
