//! HTTP: `routes/` holds the areas (one file each, with its `router()`, merged in
//! `router.rs`); `edge/` the machinery every request passes through (server, client address,
//! limits, session, CSRF, auth, extractors, errors turned into the store's own pages and JSON);
//! `wire` the JSON types the admin API shares with its clients.

pub mod edge;
pub mod router;
pub mod routes;
pub mod wire;

use std::sync::Arc;

use crate::config::Config;
use crate::domain::token::Tokens;
use crate::inventory::Inventory;
use crate::live::Live;
use edge::limits::Limits;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub inventory: Arc<Inventory>,
    pub live: Arc<Live>,
    /// The signers of socket, cart and CSRF tokens (shared with `live`).
    pub tokens: Arc<Tokens>,
    pub cookie_key: cookie::Key,
    /// The shopper pages' shared parts, per catalog version.
    pub pages: Arc<routes::shop::cache::PageCache>,
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
