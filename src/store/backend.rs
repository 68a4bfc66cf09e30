//! The two backends: a pool of embedded SQLite connections or of PostgreSQL connections (TLS
//! per `sslmode`). Everything above this module sees one `Db` and writes each query once.

use std::sync::Arc;
use std::time::Duration;

use diesel::SqliteConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::FutureExt;

use super::StoreError;
use super::tls;
use crate::config::{Database, PgTarget, SslMode};

pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

/// Runs `$body` with `$c` bound to the connection of whichever backend `$conn` holds, so a query
/// is written once and compiled for both.
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::DbConn::Sqlite(ref mut pooled) => {
                let $c: &mut $crate::store::backend::SqliteConn = &mut **pooled;
                $body
            }
            $crate::store::DbConn::Pg(ref mut pooled) => {
                let $c: &mut diesel_async::AsyncPgConnection = &mut **pooled;
                $body
            }
        }
    };
}

#[derive(Clone)]
pub enum Db {
    Sqlite(Pool<SqliteConn>),
    Pg(Pool<AsyncPgConnection>),
}

// A pooled connection lives for one request; boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum DbConn {
    Sqlite(Object<SqliteConn>),
    Pg(Object<AsyncPgConnection>),
}

const WAIT_FOR_CONNECTION: Duration = Duration::from_secs(10);

/// One writer: SQLite serializes writes anyway, and queueing them here instead of in SQLite's
/// busy handler keeps a checkout storm free of `database is locked` and of sleep-based retries.
const SQLITE_POOL_SIZE: usize = 1;

const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
                              PRAGMA synchronous = NORMAL; PRAGMA journal_mode = WAL;";

impl Db {
    pub async fn connect(database: &Database) -> Result<Db, StoreError> {
        let db = match database {
            Database::Sqlite { path } => {
                let mut config = manager_config();
                config.custom_setup = Box::new(|url| connect_sqlite(url.to_owned()).boxed());
                let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(
                    path.to_string_lossy(),
                    config,
                );
                Db::Sqlite(build_pool(manager, SQLITE_POOL_SIZE)?)
            }
            Database::Postgres(target) => {
                let size = target.pool_size;
                let target = Arc::new(target.clone());
                let mut config = manager_config();
                config.custom_setup = Box::new(move |_| {
                    let target = Arc::clone(&target);
                    async move { connect_pg(&target).await }.boxed()
                });
                let manager =
                    AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config("", config);
                Db::Pg(build_pool(manager, size)?)
            }
        };
        // Fail at start, with the reason, rather than on the first request.
        db.get().await?;
        Ok(db)
    }

    pub async fn get(&self) -> Result<DbConn, StoreError> {
        match self {
            Db::Sqlite(pool) => pool.get().await.map(DbConn::Sqlite),
            Db::Pg(pool) => pool.get().await.map(DbConn::Pg),
        }
        .map_err(StoreError::Pool)
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Pg(_))
    }
}

/// Pooled connections are handed out without a `SELECT 1` first. The pool still drops a
/// connection whose PostgreSQL socket closed (its connection task ended) or that a transaction
/// left broken; the ping only added a round trip to every request (for SQLite, a hop through the
/// blocking pool), which in a checkout storm queues behind the whole crowd's requests. A
/// connection that dies unnoticed fails its query, and that error reaches the caller.
fn manager_config<C: diesel_async::AsyncConnection + 'static>() -> ManagerConfig<C> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    config
}

fn build_pool<C>(
    manager: AsyncDieselConnectionManager<C>,
    size: usize,
) -> Result<Pool<C>, StoreError>
where
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager,
{
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(WAIT_FOR_CONNECTION))
        .create_timeout(Some(WAIT_FOR_CONNECTION))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(StoreError::PoolSetup)
}

pub(crate) async fn connect_sqlite(path: String) -> diesel::ConnectionResult<SqliteConn> {
    let mut conn = SqliteConn::establish(&path).await?;
    conn.batch_execute(SQLITE_PRAGMAS)
        .await
        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
    Ok(conn)
}

/// diesel-async's own `establish` speaks no TLS; Heroku's PostgreSQL requires it.
pub(crate) async fn connect_pg(target: &PgTarget) -> diesel::ConnectionResult<AsyncPgConnection> {
    let bad = |e: &dyn std::error::Error| diesel::ConnectionError::BadConnection(with_causes(e));
    let mut config: tokio_postgres::Config = target.url.parse().map_err(|e| bad(&e))?;
    if target.ssl_mode == SslMode::Disable {
        let (client, connection) = config
            .ssl_mode(tokio_postgres::config::SslMode::Disable)
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| bad(&e))?;
        return AsyncPgConnection::try_from_client_and_connection(client, connection).await;
    }
    let tls = tls::connector(target.ssl_mode, target.root_cert.as_deref()).map_err(|e| bad(&e))?;
    config.ssl_mode(if target.ssl_mode == SslMode::Prefer {
        tokio_postgres::config::SslMode::Prefer
    } else {
        tokio_postgres::config::SslMode::Require
    });
    let (client, connection) = config.connect(tls).await.map_err(|e| bad(&e))?;
    AsyncPgConnection::try_from_client_and_connection(client, connection).await
}

/// "error performing TLS handshake: invalid peer certificate: UnknownIssuer" says what to fix;
/// the outermost error alone does not.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let more = next.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = next.source();
    }
    text
}
