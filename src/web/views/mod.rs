//! Page frames and error pages; the fragments inside them live in `crate::views`.

pub mod admin;
pub mod checkout;
pub mod errors;
pub mod layout;
