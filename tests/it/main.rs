//! Integration tests: the real server on an ephemeral port, a real HTTP client, real
//! databases (SQLite and a throwaway PostgreSQL).

mod helpers;
mod pg;

mod admin_api;
mod catalog;
mod cli;
mod sales;
mod tls;
