//! The catalog as the inventory cache holds it, and the rules that change it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::ids::{ItemId, ProductId};
use super::level::{Level, should_announce};
use super::product_fields::{Listing, Visibility};

#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub id: ProductId,
    pub sku: String,
    pub brand: String,
    pub name: String,
    pub color: String,
    pub price_cents: i32,
    pub main_image_url: String,
    pub released: bool,
    pub release_at: Option<DateTime<Utc>>,
    /// Pairs of this product one account may buy in all (`None`: no limit).
    pub max_per_customer: Option<u32>,
    /// With a waiting line: how many of it are let in per minute once it drops.
    pub line_per_minute: Option<u32>,
    /// Draft, listed or archived; the description; the edit revision.
    pub listing: Listing,
    /// In the admin's order (ties: by size, as shoppers read a size run).
    pub items: Vec<Item>,
}

/// The most a limit per customer may be: a limit is about a person's pairs, not a wholesaler's.
pub const MAX_LIMIT: u32 = 100;

/// A limit per customer an admin typed that is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Enter a whole number from 0 to {MAX_LIMIT}, or leave it empty for no limit.")]
pub struct InvalidLimit;

/// An admin's limit field: empty or 0 is no limit.
pub fn parse_limit(raw: Option<&str>) -> Result<Option<u32>, InvalidLimit> {
    match raw.map(str::trim) {
        None | Some("") | Some("0") => Ok(None),
        Some(raw) => match raw.parse::<u32>() {
            Ok(max) if max <= MAX_LIMIT => Ok(Some(max)),
            _ => Err(InvalidLimit),
        },
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: ItemId,
    pub product_id: ProductId,
    pub size: String,
    pub sku: String,
    pub available_count: i32,
    /// Grows with every write in the database; a cache ignores anything older than it holds.
    pub version: i64,
    /// Where the admin put this size among the product's.
    pub position: i32,
}

impl Item {
    pub fn level(&self) -> Level {
        Level::for_count(self.available_count)
    }
}

impl Product {
    /// A scheduled drop is due once its time has come (a draft never is).
    pub fn release_due(&self, now: DateTime<Utc>) -> bool {
        self.listed() && !self.released && self.release_at.is_some_and(|at| at <= now)
    }

    /// Shown to shoppers (not a draft, not archived).
    pub fn listed(&self) -> bool {
        self.listing.visibility == Visibility::Listed
    }

    pub fn item(&self, item_id: ItemId) -> Option<&Item> {
        self.items.iter().find(|item| item.id == item_id)
    }

    /// Its main picture's address, at least `width` pixels wide where it has one (an uploaded
    /// picture), else the seeded `main_image_url`.
    pub fn image_url(&self, width: u32) -> String {
        self.listing
            .pictures
            .first()
            .and_then(|p| p.fallback(width))
            .map_or_else(|| self.main_image_url.clone(), |v| v.url())
    }
}

/// How a write moved one item's stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemChange {
    pub product_id: ProductId,
    pub item_id: ItemId,
    pub old_count: i32,
    pub new_count: i32,
    pub old_level: Level,
    pub new_level: Level,
    pub version: i64,
}

impl ItemChange {
    pub fn announce(&self) -> bool {
        should_announce(self.old_level, self.new_level)
    }
}

/// Which counts from the database a cache takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Only newer versions (a write's own result, another node's message).
    Newer,
    /// Newer versions, and the same version with another count (a full load).
    SameOrNewer,
    /// Whatever the database says.
    Database,
}

/// Sizes read "6, 6.5, ... 13"; anything unparsable sorts after, by text.
pub fn size_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// The admin's order, ties by size.
fn sort_sizes(items: &mut [Item]) {
    items.sort_by(|a, b| {
        a.position
            .cmp(&b.position)
            .then_with(|| size_order(&a.size, &b.size))
    });
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    products: BTreeMap<ProductId, Product>,
    item_products: HashMap<ItemId, ProductId>,
}

impl Catalog {
    pub fn new(products: impl IntoIterator<Item = Product>) -> Catalog {
        let mut catalog = Catalog::default();
        for mut product in products {
            sort_sizes(&mut product.items);
            for item in &product.items {
                catalog.item_products.insert(item.id, product.id);
            }
            catalog.products.insert(product.id, product);
        }
        catalog
    }

    pub fn products(&self) -> impl Iterator<Item = &Product> {
        self.products.values()
    }

    pub fn product(&self, id: ProductId) -> Option<&Product> {
        self.products.get(&id)
    }

    pub fn product_by_sku(&self, sku: &str) -> Option<&Product> {
        self.products
            .values()
            .find(|p| p.sku.eq_ignore_ascii_case(sku))
    }

    pub fn item(&self, item_id: ItemId) -> Option<(&Product, &Item)> {
        let product = self.products.get(self.item_products.get(&item_id)?)?;
        Some((product, product.item(item_id)?))
    }

    /// Marks a product released; `false` when it already was.
    pub fn mark_released(&mut self, id: ProductId) -> bool {
        match self.products.get_mut(&id) {
            Some(product) if !product.released && product.listed() => {
                product.released = true;
                true
            }
            _ => false,
        }
    }

    /// Records a count the database returned. Stale versions (a slower concurrent write that
    /// finished later) are ignored, so the cache always ends on the newest count.
    pub fn apply_count(&mut self, item_id: ItemId, count: i32, version: i64) -> Option<ItemChange> {
        self.take_count(item_id, count, version, Trust::Newer)
    }

    /// Records a count read from the database in a full load: newer versions as
    /// [`Catalog::apply_count`] does, and also the same version with another count (someone
    /// changed the row without bumping its version: the database is the truth). With
    /// [`Trust::Database`] (the database has stood still and still disagrees: restored from a
    /// backup) even an older version is taken.
    pub fn heal_count(
        &mut self,
        item_id: ItemId,
        count: i32,
        version: i64,
        trust: Trust,
    ) -> Option<ItemChange> {
        self.take_count(item_id, count, version, trust)
    }

    fn take_count(
        &mut self,
        item_id: ItemId,
        count: i32,
        version: i64,
        trust: Trust,
    ) -> Option<ItemChange> {
        let product_id = *self.item_products.get(&item_id)?;
        let item = self
            .products
            .get_mut(&product_id)?
            .items
            .iter_mut()
            .find(|item| item.id == item_id)?;
        let take = match trust {
            Trust::Newer => version > item.version,
            Trust::SameOrNewer => {
                version > item.version || (version == item.version && count != item.available_count)
            }
            Trust::Database => version != item.version || count != item.available_count,
        };
        if !take {
            return None;
        }
        let change = ItemChange {
            product_id,
            item_id,
            old_count: item.available_count,
            new_count: count,
            old_level: Level::for_count(item.available_count),
            new_level: Level::for_count(count),
            version,
        };
        item.available_count = count;
        item.version = version;
        Some(change)
    }

    /// Takes a product's descriptive fields (names, price, schedule) from a fresher copy;
    /// release and stock change only through their own rules.
    pub fn update_details(&mut self, fresh: &Product) {
        if let Some(product) = self.products.get_mut(&fresh.id) {
            product.sku.clone_from(&fresh.sku);
            product.brand.clone_from(&fresh.brand);
            product.name.clone_from(&fresh.name);
            product.color.clone_from(&fresh.color);
            product.price_cents = fresh.price_cents;
            product.main_image_url.clone_from(&fresh.main_image_url);
            product.release_at = fresh.release_at;
            product.max_per_customer = fresh.max_per_customer;
            product.line_per_minute = fresh.line_per_minute;
            product.listing.clone_from(&fresh.listing);
            // Going back to draft (or archived) takes a product off sale.
            if !fresh.released {
                product.released = false;
            }
            for item in &mut product.items {
                if let Some(f) = fresh.item(item.id) {
                    item.size.clone_from(&f.size);
                    item.sku.clone_from(&f.sku);
                    item.position = f.position;
                }
            }
            sort_sizes(&mut product.items);
        }
    }

    /// Forgets a deleted product; returns what the cache held.
    pub fn remove_product(&mut self, id: ProductId) -> Option<Product> {
        let old = self.products.remove(&id)?;
        for item in &old.items {
            self.item_products.remove(&item.id);
        }
        Some(old)
    }

    /// Puts a product as the database has it now (after an admin's edit): its details, its
    /// sizes (added, removed, renamed) and their counts. Returns what the cache held before.
    pub fn replace_product(&mut self, mut fresh: Product) -> Option<Product> {
        sort_sizes(&mut fresh.items);
        let old = self.products.remove(&fresh.id);
        if let Some(old) = &old {
            for item in &old.items {
                self.item_products.remove(&item.id);
            }
        }
        for item in &fresh.items {
            self.item_products.insert(item.id, fresh.id);
        }
        self.products.insert(fresh.id, fresh);
        old
    }

    pub fn due_releases(&self, now: DateTime<Utc>) -> Vec<ProductId> {
        self.products
            .values()
            .filter(|p| p.release_due(now))
            .map(|p| p.id)
            .collect()
    }

    pub fn next_scheduled_release(&self) -> Option<DateTime<Utc>> {
        self.products
            .values()
            .filter(|p| p.listed() && !p.released)
            .filter_map(|p| p.release_at)
            .min()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_limit_is_empty_zero_or_a_small_whole_number() {
        assert_eq!(super::parse_limit(None), Ok(None));
        assert_eq!(super::parse_limit(Some(" 0 ")), Ok(None));
        assert_eq!(super::parse_limit(Some("2")), Ok(Some(2)));
        assert_eq!(super::parse_limit(Some("101")), Err(super::InvalidLimit));
        assert_eq!(super::parse_limit(Some("-1")), Err(super::InvalidLimit));
        assert_eq!(super::parse_limit(Some("two")), Err(super::InvalidLimit));
    }

    use chrono::TimeZone;

    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, minute, 0)
            .single()
            .unwrap_or_default()
    }

    fn product(id: i32, released: bool, release_at: Option<DateTime<Utc>>) -> Product {
        Product {
            id: ProductId(id),
            sku: format!("SKU-{id}"),
            brand: "Brand".into(),
            name: format!("Shoe {id}"),
            color: "Black".into(),
            price_cents: 10_000,
            main_image_url: String::new(),
            released,
            release_at,
            max_per_customer: None,
            line_per_minute: None,
            listing: Listing::default(),
            items: vec![
                Item {
                    id: ItemId(id * 10 + 1),
                    product_id: ProductId(id),
                    size: "10".into(),
                    sku: format!("SKU-{id}-10"),
                    available_count: 150,
                    version: 1,
                    position: 0,
                },
                Item {
                    id: ItemId(id * 10),
                    product_id: ProductId(id),
                    size: "9.5".into(),
                    sku: format!("SKU-{id}-9.5"),
                    available_count: 3,
                    version: 1,
                    position: 0,
                },
            ],
        }
    }

    #[test]
    fn sizes_are_sorted_numerically() {
        let catalog = Catalog::new([product(1, true, None)]);
        let sizes: Vec<_> = catalog
            .product(ProductId(1))
            .map_or(vec![], |p| p.items.iter().map(|i| i.size.clone()).collect());
        assert_eq!(sizes, ["9.5", "10"]);
        assert_eq!(size_order("13", "6"), std::cmp::Ordering::Greater);
    }

    #[test]
    fn a_scheduled_product_is_due_at_its_time_only() {
        let p = product(1, false, Some(at(30)));
        assert!(!p.release_due(at(29)));
        assert!(p.release_due(at(30)));
        assert!(p.release_due(at(31)));
    }

    #[test]
    fn released_or_unscheduled_products_are_never_due() {
        assert!(!product(1, true, Some(at(0))).release_due(at(30)));
        assert!(!product(1, false, None).release_due(at(30)));
    }

    #[test]
    fn due_releases_and_next_schedule() {
        let catalog = Catalog::new([
            product(1, false, Some(at(10))),
            product(2, false, Some(at(20))),
            product(3, true, Some(at(5))),
            product(4, false, None),
        ]);
        assert_eq!(catalog.due_releases(at(15)), vec![ProductId(1)]);
        assert_eq!(catalog.next_scheduled_release(), Some(at(10)));
    }

    #[test]
    fn releasing_twice_reports_the_second_as_no_change() {
        let mut catalog = Catalog::new([product(1, false, None)]);
        assert!(catalog.mark_released(ProductId(1)));
        assert!(!catalog.mark_released(ProductId(1)));
        assert!(!catalog.mark_released(ProductId(99)));
    }

    #[test]
    fn counts_apply_in_version_order() {
        let mut catalog = Catalog::new([product(1, true, None)]);
        let change = catalog.apply_count(ItemId(11), 149, 3);
        assert_eq!(
            change.map(|c| (c.old_level, c.new_level, c.announce())),
            Some((Level::Medium, Level::Low, true))
        );
        // A write that committed earlier but reports later must not roll the count back.
        assert_eq!(catalog.apply_count(ItemId(11), 150, 2), None);
        assert_eq!(
            catalog.item(ItemId(11)).map(|(_, i)| i.available_count),
            Some(149)
        );
        let quiet = catalog.apply_count(ItemId(11), 148, 4);
        assert_eq!(quiet.map(|c| c.announce()), Some(false));
        assert_eq!(catalog.apply_count(ItemId(999), 1, 9), None);
    }

    #[test]
    fn a_full_load_also_takes_a_count_changed_without_a_version_bump() {
        let mut catalog = Catalog::new([product(1, true, None)]);
        // Item 10 holds 3 pairs at version 1; someone set it to 0 without a bump.
        assert_eq!(catalog.apply_count(ItemId(10), 0, 1), None);
        let healed = catalog.heal_count(ItemId(10), 0, 1, Trust::SameOrNewer);
        assert_eq!(healed.map(|c| (c.old_count, c.new_count)), Some((3, 0)));
        assert_eq!(
            catalog.heal_count(ItemId(10), 0, 1, Trust::SameOrNewer),
            None
        );
        // An older version is a load that raced a newer write: ignored, unless the database
        // is trusted whole.
        assert_eq!(
            catalog.heal_count(ItemId(10), 7, 0, Trust::SameOrNewer),
            None
        );
        let rewound = catalog.heal_count(ItemId(10), 7, 0, Trust::Database);
        assert_eq!(rewound.map(|c| (c.new_count, c.version)), Some((7, 0)));
    }
}
