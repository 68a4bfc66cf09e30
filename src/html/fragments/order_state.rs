//! An order's state as its shopper reads it on `/account` (`#order-<id>-state`), re-rendered
//! and pushed on the shopper's cart topic when the order moves (paid, shipped, cancelled,
//! refunded).

use maud::{Markup, html};

use crate::domain::order::OrderState;

pub fn order_state(order_id: i32, state: OrderState) -> Markup {
    html! {
        p.order-state id=(format!("order-{order_id}-state")) data-order-state=(state.as_str()) {
            "State: " strong { (state.label()) }
        }
    }
}
