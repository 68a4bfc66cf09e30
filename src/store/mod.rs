//! Persistence: the database is the source of truth. Queries are written once and run on both
//! backends through [`with_conn!`]; `backend.rs` is the only place the two differ.

pub mod accounts;
pub mod backend;
pub mod catalog;
pub mod draws;
pub mod holds;
pub mod import;
pub mod lines;
pub mod migrate;
pub mod notify;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod pictures;
pub mod products;
pub mod schema;
pub mod seed;
pub mod sessions;
pub mod test_gateway;
mod tls;

pub use backend::{Db, DbConn};

/// Every way the database can fail us; the cause is kept as the source. Whatever the variant,
/// for a shopper it means the same thing: the store cannot reach its database right now.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to the database")]
    Connect(#[source] diesel::ConnectionError),
    #[error("no database connection free")]
    Pool(#[source] diesel_async::pooled_connection::deadpool::PoolError),
    #[error("cannot build the connection pool")]
    PoolSetup(#[source] diesel_async::pooled_connection::deadpool::BuildError),
    #[error("migration failed")]
    Migration(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("database error")]
    Query(#[from] diesel::result::Error),
}
