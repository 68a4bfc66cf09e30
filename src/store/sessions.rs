//! Server-side sessions in the database: made at sign-in, found by the hash of their secret
//! (or by id, for sockets), their use written back now and then, ended by a logout.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::sessions;
use super::{Db, StoreError};
use crate::domain::session::{SessionId, SessionKind, Subject};
use crate::with_conn;

/// A session as its row holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub id: SessionId,
    pub subject: Subject,
    /// The kind's own (a shopper's cart id).
    pub data: String,
    pub created_ms: i64,
    pub seen_ms: i64,
    pub ended_ms: Option<i64>,
}

type Row = (i32, String, i32, String, i64, i64, Option<i64>);

fn stored(row: Row) -> Option<StoredSession> {
    let (id, kind, subject_id, data, created_ms, seen_ms, ended_ms) = row;
    let Some(kind) = SessionKind::from_name(&kind) else {
        tracing::warn!(session = id, %kind, "a session of an unknown kind: ignored");
        return None;
    };
    Some(StoredSession {
        id: SessionId(id),
        subject: Subject {
            kind,
            id: subject_id,
        },
        data,
        created_ms,
        seen_ms,
        ended_ms,
    })
}

macro_rules! columns {
    () => {
        (
            sessions::id,
            sessions::kind,
            sessions::subject_id,
            sessions::data,
            sessions::created_ms,
            sessions::seen_ms,
            sessions::ended_ms,
        )
    };
}

pub async fn create(
    db: &Db,
    token_hash: &str,
    subject: Subject,
    data: &str,
    now_ms: i64,
) -> Result<SessionId, StoreError> {
    let mut conn = db.get().await?;
    let id: i32 = with_conn!(conn, |c| {
        diesel::insert_into(sessions::table)
            .values((
                sessions::token_hash.eq(token_hash),
                sessions::kind.eq(subject.kind.name()),
                sessions::subject_id.eq(subject.id),
                sessions::data.eq(data),
                sessions::created_ms.eq(now_ms),
                sessions::seen_ms.eq(now_ms),
            ))
            .returning(sessions::id)
            .get_result(c)
            .await?
    });
    Ok(SessionId(id))
}

pub async fn by_hash(db: &Db, token_hash: &str) -> Result<Option<StoredSession>, StoreError> {
    let mut conn = db.get().await?;
    let row: Option<Row> = with_conn!(conn, |c| {
        sessions::table
            .filter(sessions::token_hash.eq(token_hash))
            .select(columns!())
            .first(c)
            .await
            .optional()?
    });
    Ok(row.and_then(stored))
}

pub async fn by_id(db: &Db, id: SessionId) -> Result<Option<StoredSession>, StoreError> {
    let mut conn = db.get().await?;
    let row: Option<Row> = with_conn!(conn, |c| {
        sessions::table
            .filter(sessions::id.eq(id.0))
            .select(columns!())
            .first(c)
            .await
            .optional()?
    });
    Ok(row.and_then(stored))
}

/// Writes back a use (for idle expiry).
pub async fn touch(db: &Db, id: SessionId, now_ms: i64) -> Result<(), StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        diesel::update(sessions::table.filter(sessions::id.eq(id.0)))
            .set(sessions::seen_ms.eq(now_ms))
            .execute(c)
            .await?
    });
    Ok(())
}

/// Ends a session (a logout); `false` if it had ended already.
pub async fn end(db: &Db, id: SessionId, now_ms: i64) -> Result<bool, StoreError> {
    let mut conn = db.get().await?;
    let ended = with_conn!(conn, |c| {
        diesel::update(
            sessions::table
                .filter(sessions::id.eq(id.0))
                .filter(sessions::ended_ms.is_null()),
        )
        .set(sessions::ended_ms.eq(now_ms))
        .execute(c)
        .await?
    });
    Ok(ended > 0)
}

/// Ends every open session of `subject` but `except`; returns those it ended.
pub async fn end_all(
    db: &Db,
    subject: Subject,
    except: Option<SessionId>,
    now_ms: i64,
) -> Result<Vec<SessionId>, StoreError> {
    let mut conn = db.get().await?;
    let keep = except.map_or(-1, |s| s.0);
    let ids: Vec<i32> = with_conn!(conn, |c| {
        diesel::update(
            sessions::table
                .filter(sessions::kind.eq(subject.kind.name()))
                .filter(sessions::subject_id.eq(subject.id))
                .filter(sessions::ended_ms.is_null())
                .filter(sessions::id.ne(keep)),
        )
        .set(sessions::ended_ms.eq(now_ms))
        .returning(sessions::id)
        .get_results(c)
        .await?
    });
    Ok(ids.into_iter().map(SessionId).collect())
}

/// Forgets sessions over for a day (ended, or past `max_age_ms`); returns how many.
pub async fn purge(db: &Db, older_than_ms: i64) -> Result<usize, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        diesel::delete(
            sessions::table.filter(
                sessions::ended_ms
                    .lt(older_than_ms)
                    .or(sessions::seen_ms.lt(older_than_ms)),
            ),
        )
        .execute(c)
        .await?
    }))
}
