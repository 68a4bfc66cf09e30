//! PostgreSQL NOTIFY, for the cluster adapter.

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

use super::{Db, DbConn, StoreError};

/// Sends `payload` on `channel` to every listening node. A no-op on SQLite (one node).
pub async fn notify(db: &Db, channel: &str, payload: &str) -> Result<(), StoreError> {
    match db.get().await? {
        DbConn::Pg(mut conn) => {
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(channel)
                .bind::<Text, _>(payload)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
        DbConn::Sqlite(_) => Ok(()),
    }
}
