//! HTML fragments (maud), one function per fragment. Pages (web) and pushes (live) both render
//! from here, so a pushed fragment is exactly what a reload would show.

pub mod admin;
pub mod admin_draw;
pub mod admin_orders;
pub mod admin_pictures;
pub mod admin_sales;
pub mod cart;
pub mod countdown;
pub mod draw;
pub mod line;
pub mod order_state;
pub mod product;
pub mod product_form;
