//! Embedded migrations for both backends.

use diesel_async::{AsyncMigrationHarness, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::StoreError;
use super::backend::{connect_pg, connect_sqlite};
use crate::config::Database;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Any number; it only has to be the same on every node so that two nodes starting at once do
/// not run the same migration twice.
const PG_MIGRATION_LOCK: i64 = 0x5ee4_e125;

/// Runs pending migrations on a connection of its own; returns the versions it applied.
/// Needs tokio's multi-thread runtime (diesel's migration runner is synchronous).
pub async fn run(database: &Database) -> Result<Vec<String>, StoreError> {
    let failed = StoreError::Migration;
    let applied = match database {
        Database::Sqlite { path } => {
            let conn = connect_sqlite(path.to_string_lossy().into_owned())
                .await
                .map_err(StoreError::Connect)?;
            let mut harness = AsyncMigrationHarness::new(conn);
            harness
                .run_pending_migrations(SQLITE)
                .map_err(failed)?
                .iter()
                .map(ToString::to_string)
                .collect()
        }
        Database::Postgres(target) => {
            let mut conn = connect_pg(target).await.map_err(StoreError::Connect)?;
            // Session-level: released when this connection closes.
            conn.batch_execute(&format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))
                .await?;
            let mut harness = AsyncMigrationHarness::new(conn);
            harness
                .run_pending_migrations(POSTGRES)
                .map_err(failed)?
                .iter()
                .map(ToString::to_string)
                .collect()
        }
    };
    Ok(applied)
}
