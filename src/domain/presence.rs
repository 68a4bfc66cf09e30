//! What admins count from presence: distinct shoppers, open pages per path, and carts per item.

use std::collections::{BTreeMap, BTreeSet};

use super::ids::ItemId;

/// Counts an admin sees.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub shoppers: usize,
    /// Open pages per path.
    pub pages: BTreeMap<String, usize>,
    /// Carts holding each item (a shopper's tabs share one cart: counted once).
    pub items: BTreeMap<ItemId, usize>,
}

impl Counts {
    /// Adds up open tabs, each as `(shopper, page, carted items)`.
    pub fn tally<'a>(tabs: impl IntoIterator<Item = (&'a str, &'a str, &'a [ItemId])>) -> Counts {
        let mut pages: BTreeMap<String, usize> = BTreeMap::new();
        let mut carts: BTreeMap<&str, BTreeSet<ItemId>> = BTreeMap::new();
        for (shopper, page, items) in tabs {
            *pages.entry(page.to_string()).or_default() += 1;
            carts.entry(shopper).or_default().extend(items);
        }
        let mut items: BTreeMap<ItemId, usize> = BTreeMap::new();
        for carted in carts.values() {
            for item in carted {
                *items.entry(*item).or_default() += 1;
            }
        }
        Counts {
            shoppers: carts.len(),
            pages,
            items,
        }
    }

    pub fn open_pages(&self) -> usize {
        self.pages.values().sum()
    }

    pub fn carted_pairs(&self) -> usize {
        self.items.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_of_one_shopper_count_once_for_shoppers_and_carts() {
        let (one, two) = (ItemId(1), ItemId(2));
        let counts = Counts::tally([
            ("a", "/", &[one, two][..]),
            ("a", "/products/3", &[one, two][..]),
            ("b", "/", &[two][..]),
        ]);
        assert_eq!(counts.shoppers, 2);
        assert_eq!(
            counts.pages,
            BTreeMap::from([("/".into(), 2), ("/products/3".into(), 1)])
        );
        assert_eq!(counts.items, BTreeMap::from([(one, 1), (two, 2)]));
        assert_eq!((counts.open_pages(), counts.carted_pairs()), (3, 3));
        assert_eq!(Counts::tally([]), Counts::default());
    }
}
