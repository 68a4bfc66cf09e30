//! Integration tests: the real server on an ephemeral port, a real HTTP client, real
//! databases (SQLite and a throwaway PostgreSQL).

mod cut;
mod helpers;
mod js;
mod localstripe;
mod mail;
mod nodes;
mod pg;
mod proxy;
mod raw;
mod redis;
mod visitor;
mod ws;
mod ws_violations;

mod acceptance;
mod accounts;
mod admin;
mod admin_api;
mod admin_catalog;
mod admin_orders;
mod admin_sales;
mod cart;
mod catalog;
mod checkout;
mod cli;
mod cluster;
mod cookies;
mod faults;
mod fuzz;
mod heal;
mod hostile;
mod limits;
mod lines;
mod live_products;
mod live_protocol;
mod login_lockout;
mod longpoll;
mod payments;
mod pool;
mod redis_faults;
mod sales;
mod sessions;
mod shim_timing;
mod tls;
mod verification;
