//! What a checkout buys: every pair of the cart, at the catalog's prices.

use super::account::Ordered;
use super::cart::Cart;
use super::catalog::Catalog;
use super::ids::{ItemId, ProductId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub item_id: ItemId,
    pub product_id: ProductId,
    pub price_cents: i32,
}

/// What a checkout will buy, with its total (which fits the order's column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub lines: Vec<OrderLine>,
    pub total_cents: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckoutError {
    #[error("the cart is empty")]
    Empty,
    /// Pairs known to be gone (or never released) before touching the database.
    #[error("some pairs are sold out")]
    SoldOut(Vec<ItemId>),
    #[error("an order may total at most {}", super::money::format_cents(i32::MAX.into()))]
    TooLarge,
    /// The cart holds a product with a limit per customer, and nobody is signed in.
    #[error("a limited product needs an account")]
    SignInRequired,
    /// The cart holds a product with a limit per customer, and the account has not verified
    /// its email (a mailed link): one mailbox, one customer.
    #[error("a limited product needs a verified email")]
    VerificationRequired,
    /// The account's past pairs of this product plus this cart's exceed its limit.
    #[error("at most {max} per customer of product {product_id}")]
    LimitReached { product_id: ProductId, max: u32 },
    /// The product has a waiting line, and this shopper is not let in from it (or no longer:
    /// the admission window is over).
    #[error("product {0} has a waiting line this shopper is not let in from")]
    NotAdmitted(ProductId),
}

impl Plan {
    /// Pairs of each product this order buys.
    pub fn pairs_per_product(&self) -> Ordered {
        let mut pairs = Ordered::new();
        for line in &self.lines {
            *pairs.entry(line.product_id).or_default() += 1;
        }
        pairs
    }
}

/// The limit rule, judged on the database's figures inside the checkout's transaction: the
/// first product whose limit the account's `ordered` pairs plus this order's would exceed.
/// `limits` holds each product of the order that has one; `None` for `account` is a guest.
pub fn check_limits(
    plan: &Plan,
    limits: &[(ProductId, u32)],
    ordered: Option<&Ordered>,
) -> Result<(), CheckoutError> {
    if limits.is_empty() {
        return Ok(());
    }
    let Some(ordered) = ordered else {
        return Err(CheckoutError::SignInRequired);
    };
    let buying = plan.pairs_per_product();
    for &(product_id, max) in limits {
        let before = ordered.get(&product_id).copied().unwrap_or(0);
        let now = buying.get(&product_id).copied().unwrap_or(0);
        if before.saturating_add(now) > max {
            return Err(CheckoutError::LimitReached { product_id, max });
        }
    }
    Ok(())
}

/// The order a cart would make, judged on the cache. The database has the last word (a guarded
/// decrement per pair in one transaction), so this only spares it hopeless attempts.
pub fn plan(catalog: &Catalog, cart: &Cart) -> Result<Plan, CheckoutError> {
    if cart.is_empty() {
        return Err(CheckoutError::Empty);
    }
    let mut lines = Vec::with_capacity(cart.len());
    let mut gone = Vec::new();
    for &item_id in cart.items() {
        match catalog.item(item_id) {
            Some((product, item)) if product.released && item.available_count > 0 => {
                lines.push(OrderLine {
                    item_id,
                    product_id: product.id,
                    price_cents: product.price_cents,
                })
            }
            _ => gone.push(item_id),
        }
    }
    if !gone.is_empty() {
        return Err(CheckoutError::SoldOut(gone));
    }
    let total: i64 = lines.iter().map(|l| i64::from(l.price_cents)).sum();
    let total_cents = i32::try_from(total).map_err(|_| CheckoutError::TooLarge)?;
    Ok(Plan { lines, total_cents })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Item, Product};

    fn catalog() -> Catalog {
        let item = |id: i32, count| Item {
            id: ItemId(id),
            product_id: ProductId(1),
            size: id.to_string(),
            sku: format!("S-{id}"),
            available_count: count,
            version: 1,
            position: 0,
        };
        Catalog::new([
            Product {
                id: ProductId(1),
                sku: "S".into(),
                brand: "B".into(),
                name: "N".into(),
                color: "C".into(),
                price_cents: 12_000,
                main_image_url: String::new(),
                released: true,
                release_at: None,
                max_per_customer: None,
                line_per_minute: None,
                listing: Default::default(),
                items: vec![item(10, 5), item(11, 0)],
            },
            Product {
                id: ProductId(2),
                sku: "T".into(),
                brand: "B".into(),
                name: "M".into(),
                color: "C".into(),
                price_cents: 9_000,
                main_image_url: String::new(),
                released: false,
                release_at: None,
                max_per_customer: None,
                line_per_minute: None,
                listing: Default::default(),
                items: vec![Item {
                    product_id: ProductId(2),
                    ..item(20, 50)
                }],
            },
        ])
    }

    fn cart(ids: &[i32]) -> Cart {
        let mut cart = Cart::default();
        for id in ids {
            let _ = cart.add(ItemId(*id));
        }
        cart
    }

    #[test]
    fn buys_every_pair_at_catalog_prices() {
        assert_eq!(
            plan(&catalog(), &cart(&[10])),
            Ok(Plan {
                lines: vec![OrderLine {
                    item_id: ItemId(10),
                    product_id: ProductId(1),
                    price_cents: 12_000
                }],
                total_cents: 12_000,
            })
        );
    }

    #[test]
    fn limits_count_past_orders_and_need_an_account() {
        let plan = plan(&catalog(), &cart(&[10])).expect("pair 10 is on sale");
        let limit = [(ProductId(1), 1)];
        assert_eq!(check_limits(&plan, &[], None), Ok(()));
        assert_eq!(
            check_limits(&plan, &limit, None),
            Err(CheckoutError::SignInRequired)
        );
        assert_eq!(check_limits(&plan, &limit, Some(&Ordered::new())), Ok(()));
        assert_eq!(
            check_limits(&plan, &limit, Some(&Ordered::from([(ProductId(1), 1)]))),
            Err(CheckoutError::LimitReached {
                product_id: ProductId(1),
                max: 1
            })
        );
    }

    #[test]
    fn refuses_a_total_the_order_cannot_hold() {
        let item = |id: i32| Item {
            id: ItemId(id),
            product_id: ProductId(3),
            size: id.to_string(),
            sku: format!("P-{id}"),
            available_count: 1,
            version: 1,
            position: 0,
        };
        let pricey = Catalog::new([Product {
            id: ProductId(3),
            sku: "P".into(),
            brand: "B".into(),
            name: "Gold".into(),
            color: "C".into(),
            price_cents: i32::MAX,
            main_image_url: String::new(),
            released: true,
            release_at: None,
            max_per_customer: None,
            line_per_minute: None,
            listing: Default::default(),
            items: vec![item(30), item(31)],
        }]);
        assert!(plan(&pricey, &cart(&[30])).is_ok());
        assert_eq!(
            plan(&pricey, &cart(&[30, 31])),
            Err(CheckoutError::TooLarge)
        );
    }

    #[test]
    fn refuses_empty_carts_and_names_gone_pairs() {
        assert_eq!(
            plan(&catalog(), &Cart::default()),
            Err(CheckoutError::Empty)
        );
        assert_eq!(
            plan(&catalog(), &cart(&[10, 11, 20, 99])),
            Err(CheckoutError::SoldOut(vec![
                ItemId(11),
                ItemId(20),
                ItemId(99)
            ]))
        );
    }
}
