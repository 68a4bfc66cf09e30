//! Integration tests: the real server on an ephemeral port, a real HTTP client, real
//! databases (SQLite and a throwaway PostgreSQL).

mod helpers;
mod pg;
mod ws;

mod admin_api;
mod catalog;
mod cli;
mod live_products;
mod live_protocol;
mod sales;
mod tls;
