//! The functional core: catalog, availability levels, release rules, the cart, checkout rules,
//! tokens, the counts admins see and CSV cells. No I/O.

pub mod account;
pub mod address;
pub mod cart;
pub mod cart_line;
pub mod catalog;
pub mod checkout;
pub mod csv;
pub mod device;
pub mod draw;
pub mod figures;
pub mod fingerprint;
pub mod hold;
pub mod ids;
pub mod level;
pub mod line;
pub mod mail;
pub mod money;
pub mod order;
pub mod payment;
pub mod picture;
pub mod presence;
pub mod product_fields;
pub mod product_file;
pub mod product_form;
pub mod sales;
pub mod session;
pub mod token;

pub use account::Shopper;
pub use cart::{Cart, CartError};
pub use catalog::{Catalog, Item, ItemChange, Product};
pub use fingerprint::Fingerprint;
pub use ids::{AccountId, ItemId, ProductId, SessionId};
pub use level::Level;
