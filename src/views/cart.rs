use maud::{Markup, html};

/// The cart panel (`#cart`), swapped whole on every cart change.
pub fn cart_panel() -> Markup {
    html! {
        aside #cart .cart-panel data-count="0" {
            h2.cart-panel__title { "Your cart " span.cart-panel__count { "0" } }
            p.cart-empty { "Your cart is empty. Pick a size to add a pair." }
        }
    }
}
