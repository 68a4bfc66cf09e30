//! The store's HTML, rendered on the server with maud. `fragments` are the pieces a page and a
//! live push share (size selector, size button, cart panel, admin counts): a pushed fragment is
//! exactly what a reload shows. `pages` are whole documents built around them.
//!
//! This module depends on `domain` and plain data only, so both `live` (pushes) and `web`
//! (pages) can use it without either importing the other.

pub mod announce;
pub mod assets;
pub mod fragments;
pub mod pages;
