//! The functional core: catalog, availability levels and release rules. No I/O.

pub mod catalog;
pub mod level;
pub mod money;
pub mod token;

pub use catalog::{Catalog, Item, ItemChange, ItemId, Product, ProductId};
pub use level::Level;
