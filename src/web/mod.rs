//! HTTP: routes, handlers, auth, maud views and static files.

pub mod admin;
pub mod assets;
pub mod auth;
pub mod error;
pub mod health;
pub mod pages;
pub mod router;
pub mod views;

use std::sync::Arc;

use crate::config::Config;
use crate::inventory::Inventory;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub inventory: Arc<Inventory>,
}
