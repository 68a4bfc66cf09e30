//! The shopping cart: one of each item, kept client-side as a signed token of its cart id and
//! item ids. The cart id is signed too, so a token copied into another session or account (whose
//! cart id differs) is no cart there: a shopper let in from a line cannot hand their pairs on.

use super::account::Ordered;
use super::catalog::Catalog;
use super::ids::{ItemId, ProductId};
use super::token::{CART_TOKEN_MAX_AGE_MS, Signer};
use serde::{Deserialize, Serialize};

/// Pairs per cart: generous for a person, small enough that a cart token stays a cookie.
pub const MAX_ITEMS: usize = 20;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cart {
    items: Vec<ItemId>,
}

/// Why a cart change is refused. The text is what a shopper reads, on a page (`?cart_error=`)
/// and over the socket (the reply's `message`): one text per code, here only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    #[error("That pair is already in your cart.")]
    DuplicateItem,
    #[error("That pair is no longer in your cart.")]
    NotFound,
    #[error("Your cart is full ({MAX_ITEMS} pairs). Check out or remove a pair first.")]
    Full,
    #[error("Sorry, that size just sold out.")]
    SoldOut,
    #[error("Sorry, we couldn't find that size.")]
    InvalidItem,
    #[error("You have reached this drop's limit per customer.")]
    LimitReached,
    #[error("This drop has a waiting line: you can add its pairs once you are let in.")]
    NotAdmitted,
}

/// Why a cart token is not this cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CartTokenError {
    /// Tampered, expired, not ours, or not a cart at all.
    #[error("the cart token is invalid")]
    Invalid,
    /// Genuine, but another cart's: copied from another session or account.
    #[error("this cart belongs to another shopper")]
    Foreign,
}

/// What a cart token signs.
#[derive(Serialize, Deserialize)]
struct Signed {
    /// The cart id it belongs to.
    c: String,
    /// Its item ids.
    i: Vec<ItemId>,
}

impl CartError {
    const ALL: [CartError; 7] = [
        CartError::DuplicateItem,
        CartError::NotFound,
        CartError::Full,
        CartError::SoldOut,
        CartError::InvalidItem,
        CartError::LimitReached,
        CartError::NotAdmitted,
    ];

    /// The wire name (`{error: ...}` replies, `?cart_error=` redirects).
    pub fn code(self) -> &'static str {
        match self {
            CartError::DuplicateItem => "duplicate_item",
            CartError::NotFound => "not_found",
            CartError::Full => "cart_full",
            CartError::SoldOut => "sold_out",
            CartError::InvalidItem => "invalid_item",
            CartError::LimitReached => "limit_reached",
            CartError::NotAdmitted => "not_admitted",
        }
    }

    pub fn from_code(code: &str) -> Option<CartError> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }
}

impl Cart {
    pub fn items(&self) -> &[ItemId] {
        &self.items
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn contains(&self, item_id: ItemId) -> bool {
        self.items.contains(&item_id)
    }

    pub fn add(&mut self, item_id: ItemId) -> Result<(), CartError> {
        if self.contains(item_id) {
            return Err(CartError::DuplicateItem);
        }
        if self.items.len() >= MAX_ITEMS {
            return Err(CartError::Full);
        }
        self.items.push(item_id);
        Ok(())
    }

    /// Adds a pair a shopper picked: it must be a size of a released product with stock left,
    /// and within the product's limit per customer counting what the shopper already ordered.
    /// (Checkout enforces the limit against the database; this spares a hopeless attempt.)
    pub fn add_from(
        &mut self,
        catalog: &Catalog,
        item_id: ItemId,
        ordered: &Ordered,
    ) -> Result<(), CartError> {
        let Some((product, item)) = catalog.item(item_id) else {
            return Err(CartError::InvalidItem);
        };
        if !product.released {
            return Err(CartError::InvalidItem);
        }
        if item.available_count == 0 {
            return Err(CartError::SoldOut);
        }
        if let Some(max) = product.max_per_customer
            && !self.contains(item_id)
        {
            let carted = self.pairs_of(catalog, product.id);
            let before = ordered.get(&product.id).copied().unwrap_or(0);
            if carted.saturating_add(before) >= max {
                return Err(CartError::LimitReached);
            }
        }
        self.add(item_id)
    }

    /// Pairs of one product in the cart.
    pub fn pairs_of(&self, catalog: &Catalog, product_id: ProductId) -> u32 {
        let pairs = self
            .items
            .iter()
            .filter(|id| catalog.item(**id).is_some_and(|(p, _)| p.id == product_id))
            .count();
        u32::try_from(pairs).expect("a cart holds at most MAX_ITEMS pairs")
    }

    pub fn remove(&mut self, item_id: ItemId) -> Result<(), CartError> {
        let before = self.items.len();
        self.items.retain(|id| *id != item_id);
        if self.items.len() == before {
            Err(CartError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Signing in: the guest's pairs join the account's, one of each, while there is room.
    pub fn merge(&mut self, other: &Cart) {
        for id in &other.items {
            let _ = self.add(*id);
        }
    }

    /// Drops item ids the catalog no longer has.
    pub fn retain_existing(&mut self, exists: impl Fn(ItemId) -> bool) {
        self.items.retain(|id| exists(*id));
    }

    /// The signed token of this cart, which only `cart_id` reads back.
    pub fn serialize(&self, signer: &Signer, cart_id: &str, now_ms: i64) -> String {
        let signed = Signed {
            c: cart_id.to_string(),
            i: self.items.clone(),
        };
        let json = serde_json::to_string(&signed).expect("a string and ids always serialize");
        signer.sign(&json, now_ms)
    }

    /// The cart `cart_id`'s token holds, telling a copied genuine token (`Foreign`) from a
    /// broken one (`Invalid`).
    pub fn read(
        token: &str,
        signer: &Signer,
        cart_id: &str,
        now_ms: i64,
    ) -> Result<Cart, CartTokenError> {
        let signed: Signed = signer
            .verify(token, CART_TOKEN_MAX_AGE_MS, now_ms)
            .ok()
            .and_then(|json| serde_json::from_str(&json).ok())
            .ok_or(CartTokenError::Invalid)?;
        if signed.c != cart_id {
            return Err(CartTokenError::Foreign);
        }
        let mut cart = Cart::default();
        for id in signed.i.into_iter().take(MAX_ITEMS) {
            let _ = cart.add(id);
        }
        Ok(cart)
    }

    /// A tampered, expired, unparsable or another cart's token is an empty cart, never an
    /// error.
    pub fn deserialize(token: Option<&str>, signer: &Signer, cart_id: &str, now_ms: i64) -> Cart {
        token
            .filter(|t| !t.is_empty())
            .and_then(|t| Cart::read(t, signer, cart_id, now_ms).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::new(b"cart tests secret cart tests secret", "cart")
    }

    #[test]
    fn one_of_each_item() {
        let mut cart = Cart::default();
        assert_eq!(cart.add(ItemId(3)), Ok(()));
        assert_eq!(cart.add(ItemId(5)), Ok(()));
        assert_eq!(cart.add(ItemId(3)), Err(CartError::DuplicateItem));
        assert_eq!(cart.items(), &[ItemId(3), ItemId(5)]);
        assert_eq!(cart.remove(ItemId(3)), Ok(()));
        assert_eq!(cart.remove(ItemId(3)), Err(CartError::NotFound));
        assert_eq!(cart.len(), 1);
    }

    #[test]
    fn a_cart_has_a_size_limit() {
        let mut cart = Cart::default();
        for id in 0..MAX_ITEMS as i32 {
            assert_eq!(cart.add(ItemId(id)), Ok(()));
        }
        assert_eq!(cart.add(ItemId(999)), Err(CartError::Full));
    }

    #[test]
    fn serialization_round_trips() {
        let mut cart = Cart::default();
        let _ = cart.add(ItemId(7));
        let _ = cart.add(ItemId(2));
        let token = cart.serialize(&signer(), "cart-a", 1_000);
        assert_eq!(
            Cart::deserialize(Some(&token), &signer(), "cart-a", 2_000),
            cart
        );
    }

    #[test]
    fn bad_tokens_are_empty_carts() {
        let mut cart = Cart::default();
        let _ = cart.add(ItemId(7));
        let token = cart.serialize(&signer(), "cart-a", 0);
        let empty = Cart::default();
        assert_eq!(Cart::deserialize(None, &signer(), "cart-a", 1), empty);
        assert_eq!(Cart::deserialize(Some(""), &signer(), "cart-a", 1), empty);
        assert_eq!(
            Cart::deserialize(Some("garbage"), &signer(), "cart-a", 1),
            empty
        );
        assert_eq!(
            Cart::deserialize(Some(&format!("{token}x")), &signer(), "cart-a", 1),
            empty
        );
        let other = Signer::new(b"another secret entirely, not ours", "cart");
        assert_eq!(Cart::deserialize(Some(&token), &other, "cart-a", 1), empty);
        assert_eq!(
            Cart::deserialize(Some(&token), &signer(), "cart-a", CART_TOKEN_MAX_AGE_MS + 1),
            empty
        );
        // Signed but not a list of ids.
        let odd = signer().sign("{\"not\":\"ids\"}", 0);
        assert_eq!(Cart::deserialize(Some(&odd), &signer(), "cart-a", 1), empty);
    }

    #[test]
    fn another_carts_token_is_foreign_and_no_cart_here() {
        let mut cart = Cart::default();
        let _ = cart.add(ItemId(7));
        let token = cart.serialize(&signer(), "cart-a", 0);
        assert_eq!(Cart::read(&token, &signer(), "cart-a", 1), Ok(cart));
        assert_eq!(
            Cart::read(&token, &signer(), "cart-b", 1),
            Err(CartTokenError::Foreign)
        );
        assert!(Cart::deserialize(Some(&token), &signer(), "cart-b", 1).is_empty());
        // A token of item ids alone (no cart id) is no cart.
        let unbound = signer().sign("[7]", 0);
        assert_eq!(
            Cart::read(&unbound, &signer(), "cart-a", 1),
            Err(CartTokenError::Invalid)
        );
    }

    #[test]
    fn every_code_reads_back_with_its_text() {
        for error in CartError::ALL {
            assert_eq!(CartError::from_code(error.code()), Some(error));
            assert!(error.to_string().ends_with('.'));
        }
        assert_eq!(CartError::from_code("nonsense"), None);
    }

    #[test]
    fn a_limited_product_counts_the_cart_and_past_orders() {
        use crate::domain::{Item, Product};
        let item = |id: i32| Item {
            id: ItemId(id),
            product_id: ProductId(1),
            size: id.to_string(),
            sku: format!("L-{id}"),
            available_count: 5,
            version: 1,
            position: 0,
        };
        let catalog = Catalog::new([Product {
            id: ProductId(1),
            sku: "L".into(),
            brand: "B".into(),
            name: "Limited".into(),
            color: "C".into(),
            price_cents: 100,
            main_image_url: String::new(),
            released: true,
            release_at: None,
            max_per_customer: Some(2),
            line_per_minute: None,
            listing: Default::default(),
            items: vec![item(1), item(2), item(3)],
        }]);
        let none = Ordered::new();
        let mut cart = Cart::default();
        assert_eq!(cart.add_from(&catalog, ItemId(1), &none), Ok(()));
        assert_eq!(
            cart.add_from(&catalog, ItemId(1), &none),
            Err(CartError::DuplicateItem)
        );
        assert_eq!(cart.add_from(&catalog, ItemId(2), &none), Ok(()));
        assert_eq!(
            cart.add_from(&catalog, ItemId(3), &none),
            Err(CartError::LimitReached)
        );
        let bought_one = Ordered::from([(ProductId(1), 1)]);
        let mut cart = Cart::default();
        assert_eq!(cart.add_from(&catalog, ItemId(1), &bought_one), Ok(()));
        assert_eq!(
            cart.add_from(&catalog, ItemId(2), &bought_one),
            Err(CartError::LimitReached)
        );
    }

    #[test]
    fn merging_keeps_one_of_each() {
        let mut mine = Cart::default();
        let _ = mine.add(ItemId(1));
        let _ = mine.add(ItemId(2));
        let mut guest = Cart::default();
        let _ = guest.add(ItemId(2));
        let _ = guest.add(ItemId(3));
        mine.merge(&guest);
        assert_eq!(mine.items(), &[ItemId(1), ItemId(2), ItemId(3)]);
    }

    #[test]
    fn unknown_items_are_dropped() {
        let mut cart = Cart::default();
        let _ = cart.add(ItemId(1));
        let _ = cart.add(ItemId(2));
        cart.retain_existing(|id| id == ItemId(2));
        assert_eq!(cart.items(), &[ItemId(2)]);
    }
}
