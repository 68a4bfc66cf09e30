//! PostgreSQL NOTIFY, for the cluster adapter.

use diesel::QueryableByName;
use diesel::sql_types::{Array, Double, Text};
use diesel_async::RunQueryDsl;

use super::{Db, DbConn, StoreError};

/// Sends every payload on `channel` to every listening node, in order, in one statement (so
/// one transaction: each notifying commit takes a lock for the whole server). A no-op on
/// SQLite (one node).
pub async fn notify(db: &Db, channel: &str, payloads: &[String]) -> Result<(), StoreError> {
    if payloads.is_empty() {
        return Ok(());
    }
    match db.get().await? {
        DbConn::Pg(mut conn) => {
            diesel::sql_query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
                .bind::<Text, _>(channel)
                .bind::<Array<Text>, _>(payloads)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
        DbConn::Sqlite(_) => Ok(()),
    }
}

#[derive(QueryableByName)]
struct Usage {
    #[diesel(sql_type = Double)]
    usage: f64,
}

/// How full the server's notification queue is (0 to 1): a listener that stopped reading
/// holds it up for everyone, and a full queue fails every NOTIFY. `None` on SQLite.
pub async fn queue_usage(db: &Db) -> Result<Option<f64>, StoreError> {
    match db.get().await? {
        DbConn::Pg(mut conn) => {
            let row: Usage = diesel::sql_query("SELECT pg_notification_queue_usage() AS usage")
                .get_result(&mut *conn)
                .await?;
            Ok(Some(row.usage))
        }
        DbConn::Sqlite(_) => Ok(None),
    }
}
