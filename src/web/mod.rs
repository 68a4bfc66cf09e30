//! HTTP: one file per area, each with its `router()` (merged in `router.rs`); sessions, auth,
//! errors turned into the store's own pages and JSON at this edge.

pub mod account;
pub mod admin;
pub mod assets;
pub mod auth;
pub mod cart;
pub mod checkout;
pub mod client;
pub mod error;
pub mod extract;
pub mod health;
pub mod limits;
pub mod line;
pub mod longpoll;
pub mod metrics;
pub mod page_cache;
pub mod page_template;
pub mod router;
pub mod serve;
pub mod session;
pub mod shop;
pub mod socket;

use std::sync::Arc;

use crate::config::Config;
use crate::domain::token::Tokens;
use crate::inventory::Inventory;
use crate::live::Live;
use limits::Limits;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub inventory: Arc<Inventory>,
    pub live: Arc<Live>,
    /// The signers of socket, cart and CSRF tokens (shared with `live`).
    pub tokens: Arc<Tokens>,
    pub cookie_key: cookie::Key,
    /// The shopper pages' shared parts, per catalog version.
    pub pages: Arc<page_cache::PageCache>,
    pub limits: Arc<Limits>,
}

/// `303 See Other` to `location`: where every form post sends the browser next.
pub fn see_other(location: impl Into<String>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        axum::http::StatusCode::SEE_OTHER,
        [(axum::http::header::LOCATION, location.into())],
    )
        .into_response()
}
