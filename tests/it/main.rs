//! Integration tests: the real server on an ephemeral port, a real HTTP client, real
//! databases (SQLite and a throwaway PostgreSQL).

mod helpers;
mod nodes;
mod pg;
mod visitor;
mod ws;

mod acceptance;
mod admin;
mod admin_api;
mod cart;
mod catalog;
mod checkout;
mod cli;
mod cluster;
mod live_products;
mod live_protocol;
mod sales;
mod tls;
