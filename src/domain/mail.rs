//! The mails the store sends, in words: what they say is decided here (pure), the outbox in
//! the database keeps them until a sender has delivered them (`mail`).

/// One plain-text mail to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// How long a mailed link works.
pub const LINK_VALID_HOURS: i64 = 24;

/// The link a verification mail carries: `base` is the store's public address (`PUBLIC_URL`,
/// no trailing slash), or empty when none is configured (the path alone, for the log).
pub fn verify_link(base: &str, token: &str) -> String {
    format!("{base}/account/verify?token={token}")
}

/// To a new address someone signed up with: the link that makes the account.
pub fn verify_signup(to: &str, link: &str) -> Mail {
    Mail {
        to: to.to_string(),
        subject: "Confirm your email for Sneakers".into(),
        body: format!(
            "Someone (we hope you) signed up for Sneakers with this address.\n\n\
             To confirm it and finish making your account, open this link within \
             {LINK_VALID_HOURS} hours:\n\n{link}\n\n\
             If you did not sign up, ignore this mail: no account is made without it.\n"
        ),
    }
}

/// To an address that already has an account, instead of telling the one who signed up.
pub fn already_registered(to: &str, login_link: &str) -> Mail {
    Mail {
        to: to.to_string(),
        subject: "You already have a Sneakers account".into(),
        body: format!(
            "Someone (we hope you) tried to sign up for Sneakers with this address, which \
             already has an account. Nothing was changed.\n\n\
             To sign in, go to:\n\n{login_link}\n\n\
             If it was not you, you can ignore this mail.\n"
        ),
    }
}

/// To an existing account that asked to verify its address.
pub fn verify_account(to: &str, link: &str) -> Mail {
    Mail {
        to: to.to_string(),
        subject: "Confirm your email for Sneakers".into(),
        body: format!(
            "To confirm this address for your Sneakers account, open this link within \
             {LINK_VALID_HOURS} hours:\n\n{link}\n\n\
             If you did not ask for it, ignore this mail.\n"
        ),
    }
}

/// When a mail that could not be sent is tried again: 1 s after the first attempt, doubling
/// up to 10 minutes (an SMTP outage delays mail, it does not lose it). `attempts` counts the
/// tries made so far.
pub fn retry_after_ms(attempts: i32) -> i64 {
    const FIRST_MS: i64 = 1_000;
    const MAX_MS: i64 = 600_000;
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    FIRST_MS.saturating_mul(1 << doublings).min(MAX_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signup_mail_carries_its_link() {
        let link = verify_link("https://shop.example", "abc");
        assert_eq!(link, "https://shop.example/account/verify?token=abc");
        let mail = verify_signup("ada@example.com", &link);
        assert_eq!(mail.to, "ada@example.com");
        assert!(mail.body.contains(&link), "{}", mail.body);
        assert_eq!(verify_link("", "abc"), "/account/verify?token=abc");
    }

    #[test]
    fn retries_back_off_to_ten_minutes() {
        let waits: Vec<i64> = (1..=5).map(retry_after_ms).collect();
        assert_eq!(waits, [1_000, 2_000, 4_000, 8_000, 16_000]);
        assert_eq!(retry_after_ms(30), 600_000);
        assert_eq!(retry_after_ms(0), 1_000);
    }
}
