//! HTTP: routes, handlers, auth, maud views and static files.

pub mod admin;
pub mod assets;
pub mod auth;
pub mod cart;
pub mod checkout;
pub mod error;
pub mod health;
pub mod metrics;
pub mod pages;
pub mod router;
pub mod session;
pub mod socket;
pub mod views;

use std::sync::Arc;

use crate::config::Config;
use crate::inventory::Inventory;
use crate::live::Live;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub inventory: Arc<Inventory>,
    pub live: Arc<Live>,
    pub cookie_key: cookie::Key,
}
