//! Mail: `SMTP_URL` (`smtp://[user:pass@]host[:port]`, STARTTLS when the server offers it;
//! `smtps://…` for TLS from the start), `MAIL_FROM` (the sender, required with `SMTP_URL`) and
//! `PUBLIC_URL` (the store's address as shoppers reach it, for the links in mails; required
//! with `SMTP_URL`, since a mail's link cannot be relative). Without `SMTP_URL` every mail is
//! written to the log whole, and kept in the outbox.

use lettre::message::Mailbox;

use super::ConfigError;

/// Where mail goes.
#[derive(Clone, PartialEq, Eq)]
pub struct Smtp {
    /// `SMTP_URL` as lettre reads it (`tls=opportunistic` added to a plain `smtp://`).
    pub url: String,
    /// `MAIL_FROM`.
    pub from: Mailbox,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("Smtp")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailSettings {
    /// `None`: mail is written to the log.
    pub smtp: Option<Smtp>,
    /// The store's public address without a trailing slash; `None`: links are paths.
    pub public_url: Option<String>,
}

fn invalid(var: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var: var.to_string(),
        reason: reason.into(),
    }
}

impl MailSettings {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<MailSettings, ConfigError> {
        let public_url = get("PUBLIC_URL")
            .map(|raw| parse_public_url(&raw))
            .transpose()?;
        let Some(raw) = get("SMTP_URL") else {
            return Ok(MailSettings {
                smtp: None,
                public_url,
            });
        };
        let url = smtp_url(raw.trim())?;
        let from = get("MAIL_FROM").ok_or_else(|| {
            invalid(
                "MAIL_FROM",
                "is required with SMTP_URL (the sender of the store's mail, e.g. \
                 Sneakers <shop@example.com>)",
            )
        })?;
        let from: Mailbox = from
            .trim()
            .parse()
            .map_err(|e| invalid("MAIL_FROM", format!("{from:?} is not an address: {e}")))?;
        if public_url.is_none() {
            return Err(invalid(
                "PUBLIC_URL",
                "is required with SMTP_URL (the store's address for the links in its mail, \
                 e.g. https://shop.example.com)",
            ));
        }
        Ok(MailSettings {
            smtp: Some(Smtp { url, from }),
            public_url,
        })
    }
}

/// `SMTP_URL` checked by the transport builder that will use it. A plain `smtp://` upgrades
/// to TLS when the server offers STARTTLS (lettre's `tls=opportunistic`).
fn smtp_url(raw: &str) -> Result<String, ConfigError> {
    let scheme = raw.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    let url = match scheme.as_deref() {
        Some("smtp") if !raw.contains("tls=") => {
            let joiner = if raw.contains('?') { '&' } else { '?' };
            format!("{raw}{joiner}tls=opportunistic")
        }
        Some("smtp" | "smtps") => raw.to_string(),
        _ => {
            return Err(invalid(
                "SMTP_URL",
                "must be smtp://[user:pass@]host[:port] or smtps://…",
            ));
        }
    };
    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&url)
        .map_err(|e| invalid("SMTP_URL", e.to_string()))?;
    Ok(url)
}

fn parse_public_url(raw: &str) -> Result<String, ConfigError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ']) => {
            Ok(trimmed.to_string())
        }
        _ => Err(invalid(
            "PUBLIC_URL",
            format!("{raw:?} is not an address like https://shop.example.com (no path)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<MailSettings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MailSettings::from_lookup(|k| vars.get(k).cloned())
    }

    fn refused_var(vars: &[(&str, &str)]) -> String {
        match settings(vars) {
            Err(ConfigError::Invalid { var, .. }) => var,
            other => panic!("{vars:?} gave {other:?}"),
        }
    }

    #[test]
    fn without_smtp_mail_goes_to_the_log() {
        assert_eq!(settings(&[]), Ok(MailSettings::default()));
    }

    #[test]
    fn smtp_needs_a_sender_and_a_public_address() {
        let full = [
            ("SMTP_URL", "smtp://user:p%40ss@mail.example.com:2525"),
            ("MAIL_FROM", "Sneakers <shop@example.com>"),
            ("PUBLIC_URL", "https://shop.example.com/"),
        ];
        let mail = settings(&full).unwrap_or_else(|e| panic!("{e}"));
        let smtp = mail.smtp.unwrap_or_else(|| panic!("no smtp"));
        assert!(smtp.url.ends_with("?tls=opportunistic"), "{}", smtp.url);
        assert!(!format!("{smtp:?}").contains("p%40ss"));
        assert_eq!(mail.public_url.as_deref(), Some("https://shop.example.com"));
        assert_eq!(refused_var(&full[..1]), "MAIL_FROM");
        assert_eq!(refused_var(&full[..2]), "PUBLIC_URL");
        assert_eq!(
            refused_var(&[("SMTP_URL", "http://mail.example.com"), full[1], full[2]]),
            "SMTP_URL"
        );
        assert_eq!(
            refused_var(&[full[0], ("MAIL_FROM", "not an address"), full[2]]),
            "MAIL_FROM"
        );
        assert_eq!(
            refused_var(&[("PUBLIC_URL", "shop.example.com")]),
            "PUBLIC_URL"
        );
        let tls = [("SMTP_URL", "smtps://mail.example.com"), full[1], full[2]];
        assert!(settings(&tls).is_ok());
    }
}
