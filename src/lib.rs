//! Sneakers: a live sneaker-drop store.
//!
//! Layers import one way only (arrows point at what a layer may use):
//!
//! ```text
//! web       -> live, inventory, html, domain
//! live      -> inventory, store, html, domain
//! inventory -> payments, store, domain
//! payments  -> store, domain
//! mail      -> store, domain
//! store     -> domain
//! html      -> domain
//! ```
//!
//! - `domain`: the functional core (catalog, levels, cart, checkout rules, tokens, counts). Pure.
//! - `store`: diesel schema, migrations and queries; the database is the source of truth.
//! - `inventory`: the in-memory catalog every read uses; writes go to the database first, then
//!   the cache, then an event on the node's bus.
//! - `payments`: the payment provider adapter (Stripe, the built-in test gateway); only the
//!   inventory service calls it.
//! - `mail`: delivers the mail outbox (SMTP through lettre, or the log); the inventory service
//!   writes mail to the outbox in its own transactions and only wakes the sender.
//! - `html`: maud fragments (shared by pages and pushes) and pages; domain and plain data only.
//! - `live`: Phoenix V2 sockets, channels, hub, presence, `fanout` (events -> pushes) and the
//!   cluster adapters.
//! - `web`: axum routes per area, sessions, auth; errors become the store's pages here.
//!
//! `startup` wires them: config -> store -> inventory -> live -> web. `config`, `rate_limit`
//! (the budgets every transport checks), `cli` and `heap` (giving freed memory back to the
//! system) sit beside the layers.

pub mod cli;
pub mod config;
pub mod domain;
pub mod error_chain;
pub mod heap;
pub mod html;
pub mod inventory;
pub mod live;
pub mod mail;
pub mod payments;
pub mod rate_limit;
pub mod startup;
pub mod store;
pub mod web;

pub use startup::{App, StartError, start};
