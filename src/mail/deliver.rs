//! Every node delivers the outbox: it claims due mails (a claim lasts [`LEASE`]: a node that
//! dies mid-send leaves them to another), sends each, and records the outcome. A failure is
//! tried again with back-off ([`retry_after_ms`]); a permanent refusal is not. A node wakes
//! at once when it wrote a mail itself, and otherwise looks every [`POLL`] (mail written on
//! another node, a retry coming due).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::{SendError, Sender};
use crate::domain::mail::retry_after_ms;
use crate::error_chain::ErrorChain;
use crate::store::{Db, outbox};

/// How long a claimed mail is this node's to send.
pub const LEASE: Duration = Duration::from_secs(60);
/// How often the outbox is looked at without a wake-up.
pub const POLL: Duration = Duration::from_secs(5);
/// Mails claimed at once.
const BATCH: i64 = 20;

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Sends what is due now; how many went out.
pub async fn deliver_due(db: &Db, sender: &Sender) -> Result<usize, crate::store::StoreError> {
    let mut sent = 0;
    loop {
        let now = Utc::now().timestamp_millis();
        let claimed = outbox::claim(db, now, ms(LEASE), BATCH).await?;
        if claimed.is_empty() {
            return Ok(sent);
        }
        for mail in claimed {
            match sender.send(mail.id, &mail.mail).await {
                Ok(()) => {
                    let now = Utc::now().timestamp_millis();
                    outbox::mark_sent(db, mail.id, now, sender.keeps_bodies()).await?;
                    tracing::info!(mail = mail.id, via = sender.describe(), "mail sent");
                    sent += 1;
                }
                Err(SendError::Permanent(why)) => {
                    let now = Utc::now().timestamp_millis();
                    outbox::mark_failed(db, mail.id, now, &why).await?;
                    tracing::warn!(mail = mail.id, error = %why, "mail refused for good");
                }
                Err(SendError::Transient(why)) => {
                    let wait = retry_after_ms(mail.attempts);
                    let due = Utc::now().timestamp_millis().saturating_add(wait);
                    outbox::retry_at(db, mail.id, due, &why).await?;
                    tracing::warn!(mail = mail.id, attempts = mail.attempts, retry_in_ms = wait, error = %why, "mail not sent; will retry");
                }
            }
        }
    }
}

/// The node's delivery loop.
pub fn spawn(db: Db, sender: Sender, wake: Arc<Notify>) -> JoinHandle<()> {
    tokio::spawn(async move {
        tracing::info!(via = sender.describe(), "mail delivery started");
        loop {
            if let Err(error) = deliver_due(&db, &sender).await {
                tracing::warn!(error = %ErrorChain(&error), "cannot read the mail outbox");
            }
            let now = Utc::now().timestamp_millis();
            let wait = match outbox::next_due(&db).await {
                Ok(Some(due)) => Duration::from_millis(u64::try_from(due - now).unwrap_or(0)),
                Ok(None) => POLL,
                Err(error) => {
                    tracing::warn!(error = %ErrorChain(&error), "cannot read the mail outbox");
                    POLL
                }
            }
            .clamp(Duration::from_millis(50), POLL);
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    })
}
