//! What the shim says aloud through the page's polite live region, worded here: pushes carry
//! it as `announce`, so screen-reader users hear one sentence per change instead of the whole
//! re-rendered fragment, and the shim knows nothing of what the change means.

use crate::domain::cart_line::News;
use crate::domain::draw::{Outcome, Standing};
use crate::domain::order::OrderState;
use crate::domain::{Item, Level, Product};

/// A size's level changed (or it is out): "Size 10 of the Nike Air Max 90 is now low on stock."
pub fn stock_change(product: &Product, item: &Item, old: Level) -> String {
    let what = format!(
        "Size {} of the {} {}",
        item.size, product.brand, product.name
    );
    match (old, item.level()) {
        (_, Level::Out) => format!("{what} is sold out."),
        (Level::Out, _) => format!("{what} is back in stock."),
        (_, Level::Low) => format!("{what} is now low on stock."),
        (_, Level::Medium) => format!("{what} is now selling steadily."),
        (_, Level::High) => format!("{what} now has plenty of stock."),
    }
}

/// What a sentence about a size is about: the size and the level it reached. A sale that
/// empties a carted pair is said on the product's topic and on the cart's; both carry this key
/// (`announce_key`) and the shim says one of them.
pub fn item_key(item: &Item) -> String {
    format!("item-{}-{}", item.id, item.level().as_str())
}

/// What the sentences of a drop are about: its countdown reaching zero on the page and the
/// release pushed by the server say the same thing, and the shim says one of them.
pub fn release_key(product: &Product) -> String {
    format!("product-{}-released", product.id)
}

/// A product was released.
pub fn released(product: &Product) -> String {
    format!(
        "The {} {} is on sale now: choose a size.",
        product.brand, product.name
    )
}

/// A line of the shopper's cart moved without them: its hold ended, or its pair sold out or
/// came back.
pub fn cart_line(product: &Product, item: &Item, news: News) -> String {
    let (size, brand, name) = (&item.size, &product.brand, &product.name);
    match news {
        News::HoldEnded => format!(
            "Your hold on size {size} of the {brand} {name} has ended: the pair is back on sale."
        ),
        News::SoldOut => format!("Size {size} of the {brand} {name} in your cart has sold out."),
        News::BackInStock => {
            format!("Size {size} of the {brand} {name} in your cart is back in stock.")
        }
    }
}

/// One of the shopper's orders moved on.
pub fn order_state(order_id: i32, state: OrderState) -> String {
    match state {
        OrderState::PendingPayment => format!("Order #{order_id} is waiting for payment."),
        OrderState::Paid => format!("Order #{order_id} is paid."),
        OrderState::Fulfilled => format!("Order #{order_id} has shipped."),
        OrderState::Cancelled => format!("Order #{order_id} was cancelled."),
        OrderState::Refunded => format!("Order #{order_id} was refunded."),
    }
}

/// The shopper's turn in a drop's waiting line has come.
pub fn admitted(product: &Product) -> String {
    format!(
        "It's your turn: you can add a pair of the {} {} now.",
        product.brand, product.name
    )
}

/// A shopper's draw entry was decided (said once, when the result reaches their page).
pub fn draw_result(product: &Product, standing: Standing) -> Option<String> {
    let what = format!("the {} {} draw", product.brand, product.name);
    match standing {
        Standing::Decided(Outcome::Won) => Some(format!("You won {what}: the pair is yours.")),
        Standing::Decided(Outcome::Lost) => {
            Some(format!("Not this time in {what}. Nothing was charged."))
        }
        Standing::Decided(Outcome::PassedOver) => Some(format!(
            "Your card could not be charged in {what}, so the pair went to the next entry."
        )),
        Standing::Void(reason) => Some(reason.message().to_string()),
        Standing::Entered | Standing::Withdrawn => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ItemId, ProductId};

    fn product_and_item(count: i32) -> (Product, Item) {
        let item = Item {
            id: ItemId(7),
            product_id: ProductId(1),
            size: "10".into(),
            sku: "X-10".into(),
            available_count: count,
            version: 1,
            position: 0,
        };
        let product = Product {
            id: ProductId(1),
            sku: "X".into(),
            brand: "Nike".into(),
            name: "Air Max 90".into(),
            color: "White".into(),
            price_cents: 100,
            main_image_url: String::new(),
            released: true,
            release_at: None,
            max_per_customer: None,
            line_per_minute: None,
            listing: Default::default(),
            items: vec![item.clone()],
        };
        (product, item)
    }

    #[test]
    fn says_each_change_in_words() {
        let (p, low) = product_and_item(3);
        assert_eq!(
            stock_change(&p, &low, Level::Medium),
            "Size 10 of the Nike Air Max 90 is now low on stock."
        );
        assert_eq!(
            stock_change(&p, &low, Level::Out),
            "Size 10 of the Nike Air Max 90 is back in stock."
        );
        let (p, out) = product_and_item(0);
        assert_eq!(
            stock_change(&p, &out, Level::Low),
            "Size 10 of the Nike Air Max 90 is sold out."
        );
        assert_eq!(
            cart_line(&p, &out, News::SoldOut),
            "Size 10 of the Nike Air Max 90 in your cart has sold out."
        );
        assert_eq!(
            cart_line(&p, &low, News::HoldEnded),
            "Your hold on size 10 of the Nike Air Max 90 has ended: the pair is back on sale."
        );
        assert_eq!(
            cart_line(&p, &low, News::BackInStock),
            "Size 10 of the Nike Air Max 90 in your cart is back in stock."
        );
        assert!(released(&p).starts_with("The Nike Air Max 90 is on sale now"));
    }
}
