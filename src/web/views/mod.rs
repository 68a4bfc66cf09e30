//! maud views: one function per fragment, so a pushed fragment and the full page come from the
//! same source.

pub mod cart;
pub mod errors;
pub mod layout;
pub mod product;
