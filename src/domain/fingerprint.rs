//! A catalog's fingerprint: a few sums that change whenever a product, a release, a price, a
//! size, a count or a version changes. The database computes it in one query and the cache
//! from memory; when they agree there is nothing to heal (see `inventory::heal`).

use super::catalog::Catalog;

/// Item ids are folded into this range before weighting counts, so the sum cannot overflow
/// (counts stay under 10^9, catalogs under 10^6 items) and two opposite changes of equal size
/// on different items do not cancel out.
pub const WEIGHT_MODULUS: i64 = 1000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint {
    pub products: i64,
    /// The sum of released products' ids.
    pub released: i64,
    pub prices: i64,
    /// Σ (limit per customer + 1000 × line rate, 0 for none) × (product id mod
    /// [`WEIGHT_MODULUS`] + 1).
    pub settings: i64,
    pub items: i64,
    pub versions: i64,
    pub counts: i64,
    /// Σ count × (item id mod [`WEIGHT_MODULUS`]).
    pub weighted: i64,
}

impl Fingerprint {
    pub fn of(catalog: &Catalog) -> Fingerprint {
        let mut print = Fingerprint::default();
        for product in catalog.products() {
            print.products += 1;
            if product.released {
                print.released = print.released.wrapping_add(i64::from(product.id.0));
            }
            print.prices = print.prices.wrapping_add(i64::from(product.price_cents));
            let limit = i64::from(product.max_per_customer.unwrap_or(0))
                + 1000 * i64::from(product.line_per_minute.unwrap_or(0));
            print.settings = print
                .settings
                .wrapping_add(limit.wrapping_mul(i64::from(product.id.0) % WEIGHT_MODULUS + 1));
            for item in &product.items {
                let count = i64::from(item.available_count);
                print.items += 1;
                print.versions = print.versions.wrapping_add(item.version);
                print.counts = print.counts.wrapping_add(count);
                print.weighted = print
                    .weighted
                    .wrapping_add(count.wrapping_mul(i64::from(item.id.0) % WEIGHT_MODULUS));
            }
        }
        print
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Item, ItemId, Product, ProductId};

    fn catalog(counts: [i32; 2], version: i64) -> Catalog {
        let item = |id, available_count| Item {
            id: ItemId(id),
            product_id: ProductId(1),
            size: format!("{id}"),
            sku: format!("S-{id}"),
            available_count,
            version,
            position: 0,
        };
        Catalog::new([Product {
            id: ProductId(1),
            sku: "S".into(),
            brand: "B".into(),
            name: "N".into(),
            color: "C".into(),
            price_cents: 100,
            main_image_url: String::new(),
            released: true,
            release_at: None,
            max_per_customer: None,
            line_per_minute: None,
            listing: Default::default(),
            items: vec![item(10, counts[0]), item(11, counts[1])],
        }])
    }

    #[test]
    fn any_count_change_shows_even_without_a_version_bump() {
        let base = Fingerprint::of(&catalog([5, 5], 3));
        assert_eq!(base, Fingerprint::of(&catalog([5, 5], 3)));
        assert_ne!(base, Fingerprint::of(&catalog([4, 5], 3)));
        // Opposite changes on two items: the plain sum hides it, the weighted one does not.
        assert_ne!(base, Fingerprint::of(&catalog([4, 6], 3)));
        assert_ne!(base, Fingerprint::of(&catalog([5, 5], 4)));
    }
}
