//! The areas of the HTTP surface, one file each with its `router()`, merged in `web::router`.

pub mod account;
pub mod admin;
pub mod admin_draws;
pub mod admin_import;
pub mod admin_order_actions;
pub mod admin_pictures;
pub mod admin_products;
pub mod assets;
pub mod cart;
pub mod checkout;
pub mod draws;
pub mod health;
pub mod line;
pub mod longpoll;
pub mod metrics;
pub mod payments;
pub mod pictures;
pub mod shop;
pub mod socket;
pub mod socket_token;
