//! Delivering the outbox's mail: through SMTP (`SMTP_URL`, lettre) or, without it, into the
//! log whole. Only `deliver` sends; everything else writes mail to the outbox (see
//! `store::outbox`) in the transaction of what the mail tells of.

pub mod deliver;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::MailSettings;
use crate::domain::mail::Mail;

/// Why one mail did not go out.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The mail server refused it for good (a bad address): trying again cannot help.
    #[error("refused for good: {0}")]
    Permanent(String),
    /// Anything else (the server is down, busy, a timeout): try again later.
    #[error("{0}")]
    Transient(String),
}

/// Where mail goes.
#[derive(Clone)]
pub enum Sender {
    Smtp {
        // Boxed: one per node, and the enum stays small.
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        from: Mailbox,
    },
    /// No `SMTP_URL`: each mail is logged whole (a developer follows the link from there).
    Log,
}

impl Sender {
    pub fn new(settings: &MailSettings) -> Sender {
        match &settings.smtp {
            Some(smtp) => {
                // The URL was built by this same call when the config was read.
                match AsyncSmtpTransport::<Tokio1Executor>::from_url(&smtp.url) {
                    Ok(builder) => Sender::Smtp {
                        transport: Box::new(builder.build()),
                        from: smtp.from.clone(),
                    },
                    Err(error) => {
                        tracing::error!(%error, "SMTP_URL refused after it was checked: mail goes to the log");
                        Sender::Log
                    }
                }
            }
            None => Sender::Log,
        }
    }

    /// Whether a sent mail stays readable in the outbox (only the log's: it is where a
    /// developer without SMTP finds a link).
    pub fn keeps_bodies(&self) -> bool {
        matches!(self, Sender::Log)
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Sender::Smtp { .. } => "smtp",
            Sender::Log => "log",
        }
    }

    /// Sends outbox row `id`. Its Message-ID is made from the row, so a mail sent again after
    /// a crash between the server's yes and our record of it is the same message to the
    /// receiving side.
    pub async fn send(&self, id: i32, mail: &Mail) -> Result<(), SendError> {
        match self {
            Sender::Log => {
                tracing::info!(
                    mail = id,
                    to = %mail.to,
                    subject = %mail.subject,
                    body = %mail.body,
                    "mail (no SMTP_URL: logged, not sent)"
                );
                Ok(())
            }
            Sender::Smtp { transport, from } => {
                let to: Mailbox = mail
                    .to
                    .parse()
                    .map_err(|e| SendError::Permanent(format!("recipient {:?}: {e}", mail.to)))?;
                let domain = from.email.domain();
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(mail.subject.clone())
                    .message_id(Some(format!("<outbox-{id}@{domain}>")))
                    .header(ContentType::TEXT_PLAIN)
                    .body(mail.body.clone())
                    .map_err(|e| SendError::Permanent(e.to_string()))?;
                match transport.send(message).await {
                    Ok(_) => Ok(()),
                    Err(error) if error.is_permanent() => {
                        Err(SendError::Permanent(error.to_string()))
                    }
                    Err(error) => Err(SendError::Transient(
                        crate::error_chain::ErrorChain(&error).to_string(),
                    )),
                }
            }
        }
    }
}
