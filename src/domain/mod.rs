//! The functional core: catalog, availability levels and release rules. No I/O.

pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod level;
pub mod money;
pub mod order;
pub mod presence;
pub mod token;

pub use cart::{Cart, CartError};
pub use catalog::{Catalog, Item, ItemChange, ItemId, Product, ProductId};
pub use level::Level;
