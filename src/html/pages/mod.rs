//! Whole pages, one file per area; the fragments inside them live in `super::fragments`.

pub mod account;
pub mod admin;
pub mod admin_products;
pub mod checkout;
pub mod draw;
pub mod errors;
pub mod layout;
pub mod line;
pub mod shop;
