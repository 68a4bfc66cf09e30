//! Shopper accounts: what an email and a password must be, and who a request speaks for (a
//! guest's cart, or an account's). Hashing is the caller's: this stays pure.

use std::collections::BTreeMap;

use super::ids::{AccountId, ProductId, SessionId};

/// Long enough to resist guessing, short enough that hashing it costs what we planned.
pub const MIN_PASSWORD: usize = 10;
pub const MAX_PASSWORD: usize = 256;
/// RFC 5321's limit on a path.
pub const MAX_EMAIL: usize = 254;

/// An email as the store keys it: trimmed and lower-cased, one `@` with text on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// Why a signup form is refused; the text is what the shopper reads above the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignupError {
    #[error("Please enter an email address like you@example.com.")]
    BadEmail,
    #[error("Please choose a password of at least {MIN_PASSWORD} characters.")]
    ShortPassword,
    #[error("Please choose a password of at most {MAX_PASSWORD} characters.")]
    LongPassword,
}

impl Email {
    pub fn parse(text: &str) -> Result<Email, SignupError> {
        let email = text.trim().to_lowercase();
        let valid = email.len() <= MAX_EMAIL
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && !domain.is_empty() && !domain.contains('@')
            });
        if valid {
            Ok(Email(email))
        } else {
            Err(SignupError::BadEmail)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The mailbox the address reaches, which accounts are unique by: without a `+tag`
    /// (`ada+drop1@x` reaches `ada@x`). The migration that added the key computes the same in
    /// SQL for the accounts that were there.
    pub fn key(&self) -> String {
        let (local, domain) = self.0.split_once('@').expect("a parsed email has one @");
        match local.find('+') {
            Some(plus) if plus > 0 => format!("{}@{domain}", &local[..plus]),
            _ => self.0.clone(),
        }
    }
}

/// A password a new account may have (counted in characters, as a person types them).
pub fn check_password(password: &str) -> Result<(), SignupError> {
    match password.chars().count() {
        n if n < MIN_PASSWORD => Err(SignupError::ShortPassword),
        n if n > MAX_PASSWORD => Err(SignupError::LongPassword),
        _ => Ok(()),
    }
}

/// Who a request or a socket speaks for: the cart topic it shares, and when signed in the
/// account behind it and the server-side session that signed it in (every browser of an
/// account shares the account's cart id; each has a session of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shopper {
    pub cart_id: String,
    pub account: Option<AccountId>,
    pub session: Option<SessionId>,
}

impl Shopper {
    pub fn guest(cart_id: String) -> Shopper {
        Shopper {
            cart_id,
            account: None,
            session: None,
        }
    }

    pub fn signed_in(cart_id: String, account: AccountId, session: SessionId) -> Shopper {
        Shopper {
            cart_id,
            account: Some(account),
            session: Some(session),
        }
    }

    /// What socket tokens carry: `cart_id`, or `cart_id.account_id.session_id` signed in.
    pub fn subject(&self) -> String {
        match (self.account, self.session) {
            (Some(account), Some(session)) => format!("{}.{account}.{session}", self.cart_id),
            _ => self.cart_id.clone(),
        }
    }

    /// The inverse of [`Shopper::subject`]; `None` unless it is one exactly.
    pub fn from_subject(subject: &str, cart_id_len: usize) -> Option<Shopper> {
        let mut parts = subject.split('.');
        let cart_id = parts.next()?;
        let shopper = match (parts.next(), parts.next(), parts.next()) {
            (None, _, _) => Shopper::guest(cart_id.to_string()),
            (Some(account), Some(session), None) => Shopper::signed_in(
                cart_id.to_string(),
                account.parse().ok()?,
                session.parse().ok()?,
            ),
            _ => return None,
        };
        let valid =
            cart_id.len() == cart_id_len && cart_id.bytes().all(|b| b.is_ascii_alphanumeric());
        valid.then_some(shopper)
    }
}

/// Pairs of each limited product an account has already ordered.
pub type Ordered = BTreeMap<ProductId, u32>;

/// What a signed-in socket knows of its account, read when it connects: the account's saved
/// cart (the truth its tabs start from) and its past pairs of limited products.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub id: AccountId,
    /// The session the socket was opened under: when it ends, the socket closes.
    pub session: SessionId,
    pub cart_token: Option<String>,
    pub ordered: Ordered,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_keyed_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").map(|e| e.as_str().to_string()),
            Ok("ada@example.com".to_string())
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "a da@x.com",
            "a@b@c",
            &format!("{}@x.com", "a".repeat(250)),
        ] {
            assert_eq!(Email::parse(bad), Err(SignupError::BadEmail), "{bad:?}");
        }
    }

    #[test]
    fn the_key_is_the_mailbox_without_its_tag() {
        let key = |text: &str| Email::parse(text).map(|e| e.key());
        assert_eq!(key("Ada+Drop1@Example.com"), Ok("ada@example.com".into()));
        assert_eq!(key("ada@example.com"), Ok("ada@example.com".into()));
        assert_eq!(key("ada+a+b@x.org"), Ok("ada@x.org".into()));
        // A tag needs a mailbox before it; a plus in the domain is no tag.
        assert_eq!(key("+z@x.org"), Ok("+z@x.org".into()));
        assert_eq!(key("c@d+e"), Ok("c@d+e".into()));
    }

    #[test]
    fn passwords_have_ten_characters_at_least() {
        assert_eq!(check_password("123456789"), Err(SignupError::ShortPassword));
        assert_eq!(check_password("ééééééééé"), Err(SignupError::ShortPassword));
        assert_eq!(check_password("1234567890"), Ok(()));
        assert_eq!(
            check_password(&"x".repeat(257)),
            Err(SignupError::LongPassword)
        );
    }

    #[test]
    fn subjects_round_trip_and_refuse_anything_else() {
        let cart = "a".repeat(8);
        let guest = Shopper::guest(cart.clone());
        let signed_in = Shopper::signed_in(cart.clone(), AccountId(7), SessionId(3));
        assert_eq!(Shopper::from_subject(&guest.subject(), 8), Some(guest));
        assert_eq!(
            Shopper::from_subject(&signed_in.subject(), 8),
            Some(signed_in)
        );
        for bad in [
            "aaaa",
            "aaaaaaaa.",
            "aaaaaaaa.7",
            "aaaaaaaa.07.3",
            "aaaaaaaa.7.03",
            "aaaaaaaa.7.3.3",
            "aaaaaaa!",
            "aaaaaaaa.x",
        ] {
            assert_eq!(Shopper::from_subject(bad, 8), None, "{bad:?}");
        }
    }
}
