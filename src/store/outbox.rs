//! The mail outbox: a mail is a row written in the same transaction as what it tells of (a
//! signup's token), so it exists exactly when that happened. A sender claims a due row for a
//! while (another node takes it over if the sender dies), then marks it sent, due again later,
//! or failed for good.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::mail_outbox;
use super::{Db, StoreError};
use crate::domain::mail::Mail;
use crate::with_conn;

/// Writes `$mail` (a [`Mail`]) to the outbox on connection `$c`, due at once (`$now` ms);
/// used inside the transaction of what the mail tells of.
macro_rules! enqueue_mail {
    ($c:expr, $mail:expr, $now:expr) => {{
        use $crate::store::schema::mail_outbox;
        let mail: &$crate::domain::mail::Mail = $mail;
        let now: i64 = $now;
        diesel::insert_into(mail_outbox::table)
            .values((
                mail_outbox::recipient.eq(&mail.to),
                mail_outbox::subject.eq(&mail.subject),
                mail_outbox::body.eq(&mail.body),
                mail_outbox::created_ms.eq(now),
                mail_outbox::due_ms.eq(now),
            ))
            .execute($c)
            .await
    }};
}
pub(crate) use enqueue_mail;

/// A mail a sender has claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: i32,
    pub mail: Mail,
    /// Tries so far, this one included.
    pub attempts: i32,
}

/// Claims up to `limit` mails due at `now_ms` that nobody holds, each until `now_ms +
/// lease_ms`. Each claim is a guarded update: of two nodes after one row, one wins.
pub async fn claim(
    db: &Db,
    now_ms: i64,
    lease_ms: i64,
    limit: i64,
) -> Result<Vec<Claimed>, StoreError> {
    let mut conn = db.get().await?;
    let claimable = || {
        mail_outbox::sent_ms
            .is_null()
            .and(mail_outbox::failed_ms.is_null())
            .and(mail_outbox::due_ms.le(now_ms))
            .and(
                mail_outbox::claimed_until_ms
                    .is_null()
                    .or(mail_outbox::claimed_until_ms.lt(now_ms)),
            )
    };
    Ok(with_conn!(conn, |c| {
        let due: Vec<(i32, String, String, String, i32)> = mail_outbox::table
            .filter(claimable())
            .order(mail_outbox::id)
            .limit(limit)
            .select((
                mail_outbox::id,
                mail_outbox::recipient,
                mail_outbox::subject,
                mail_outbox::body,
                mail_outbox::attempts,
            ))
            .load(c)
            .await?;
        let mut claimed = Vec::with_capacity(due.len());
        for (id, to, subject, body, attempts) in due {
            let won = diesel::update(
                mail_outbox::table
                    .filter(mail_outbox::id.eq(id))
                    .filter(claimable()),
            )
            .set((
                mail_outbox::claimed_until_ms.eq(now_ms.saturating_add(lease_ms)),
                mail_outbox::attempts.eq(mail_outbox::attempts + 1),
            ))
            .execute(c)
            .await?;
            if won == 1 {
                claimed.push(Claimed {
                    id,
                    mail: Mail { to, subject, body },
                    attempts: attempts + 1,
                });
            }
        }
        claimed
    }))
}

/// The mail went out. Its body (which may hold a sign-up link) is wiped unless `keep_body`
/// (the log sender's: the log and the row are where a developer finds the link).
pub async fn mark_sent(db: &Db, id: i32, now_ms: i64, keep_body: bool) -> Result<(), StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        let row = mail_outbox::table.filter(mail_outbox::id.eq(id));
        if keep_body {
            diesel::update(row)
                .set((
                    mail_outbox::sent_ms.eq(now_ms),
                    mail_outbox::claimed_until_ms.eq(None::<i64>),
                ))
                .execute(c)
                .await?
        } else {
            diesel::update(row)
                .set((
                    mail_outbox::sent_ms.eq(now_ms),
                    mail_outbox::claimed_until_ms.eq(None::<i64>),
                    mail_outbox::body.eq(""),
                ))
                .execute(c)
                .await?
        }
    });
    Ok(())
}

/// Sending failed for now: try again at `due_ms`.
pub async fn retry_at(db: &Db, id: i32, due_ms: i64, error: &str) -> Result<(), StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        diesel::update(mail_outbox::table.filter(mail_outbox::id.eq(id)))
            .set((
                mail_outbox::due_ms.eq(due_ms),
                mail_outbox::claimed_until_ms.eq(None::<i64>),
                mail_outbox::last_error.eq(error),
            ))
            .execute(c)
            .await?
    });
    Ok(())
}

/// The mail server refused the mail for good (no such mailbox, say): it is not tried again.
pub async fn mark_failed(db: &Db, id: i32, now_ms: i64, error: &str) -> Result<(), StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        diesel::update(mail_outbox::table.filter(mail_outbox::id.eq(id)))
            .set((
                mail_outbox::failed_ms.eq(now_ms),
                mail_outbox::claimed_until_ms.eq(None::<i64>),
                mail_outbox::last_error.eq(error),
            ))
            .execute(c)
            .await?
    });
    Ok(())
}

/// When the next unsent mail may be sent (its due time, or when another sender's claim on it
/// lapses); `None`: nothing waits. A sender sleeps until then.
pub async fn next_due(db: &Db) -> Result<Option<i64>, StoreError> {
    let mut conn = db.get().await?;
    let rows: Vec<(i64, Option<i64>)> = with_conn!(conn, |c| {
        mail_outbox::table
            .filter(mail_outbox::sent_ms.is_null())
            .filter(mail_outbox::failed_ms.is_null())
            .order(mail_outbox::due_ms)
            .limit(100)
            .select((mail_outbox::due_ms, mail_outbox::claimed_until_ms))
            .load(c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(due, claimed_until)| claimed_until.map_or(due, |until| due.max(until)))
        .min())
}
