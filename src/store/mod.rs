//! Persistence: the database is the source of truth. Queries are written once and run on both
//! backends through [`with_conn!`]; `backend.rs` is the only place the two differ.

pub mod backend;
pub mod catalog;
pub mod migrate;
pub mod notify;
pub mod orders;
pub mod schema;
pub mod seed;
mod tls;

pub use backend::{Db, DbConn};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("no database connection free: {0}")]
    Pool(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
}
