//! Pairs sold per second over the last ten minutes, per product, and when each size sold out:
//! what the admin's chart and sell-through bars are drawn from. Plain data fed with unix
//! seconds, so the clock stays with the caller.

use std::collections::HashMap;

use super::{ItemId, ProductId};

/// Seconds the chart shows.
pub const WINDOW_SECS: usize = 600;

/// One product's last [`WINDOW_SECS`] seconds: slot `s % WINDOW_SECS` holds second `s` only
/// while `stamps` says so, so old seconds read as zero without ever being swept.
#[derive(Debug, Clone)]
struct Ring {
    counts: Vec<u32>,
    stamps: Vec<i64>,
}

impl Ring {
    fn new() -> Ring {
        Ring {
            counts: vec![0; WINDOW_SECS],
            stamps: vec![i64::MIN; WINDOW_SECS],
        }
    }

    fn slot(second: i64) -> usize {
        second.rem_euclid(WINDOW_SECS as i64) as usize
    }

    fn add(&mut self, second: i64, pairs: u32) {
        let slot = Ring::slot(second);
        if self.stamps[slot] != second {
            self.stamps[slot] = second;
            self.counts[slot] = 0;
        }
        self.counts[slot] = self.counts[slot].saturating_add(pairs);
    }

    fn at(&self, second: i64) -> u32 {
        let slot = Ring::slot(second);
        if self.stamps[slot] == second {
            self.counts[slot]
        } else {
            0
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SalesSeries {
    rings: HashMap<ProductId, Ring>,
    sold: HashMap<ProductId, u64>,
    released_at: HashMap<ProductId, i64>,
    sold_out_at: HashMap<ItemId, i64>,
    /// The newest second anything was recorded at: a late event cannot land in the future.
    latest: Option<i64>,
}

impl SalesSeries {
    pub fn new() -> SalesSeries {
        SalesSeries::default()
    }

    /// `pairs` of `product` sold at `second`. Seconds already out of the window are counted in
    /// the totals but not drawn.
    pub fn record_sale(&mut self, second: i64, product: ProductId, pairs: u32) {
        if pairs == 0 {
            return;
        }
        *self.sold.entry(product).or_default() += u64::from(pairs);
        let newest = self.latest.map_or(second, |l| l.max(second));
        if newest - second >= WINDOW_SECS as i64 {
            return;
        }
        self.latest = Some(newest);
        self.rings
            .entry(product)
            .or_insert_with(Ring::new)
            .add(second, pairs);
    }

    /// The first release this node saw of `product` (a later one, after a reload, is ignored).
    pub fn record_release(&mut self, second: i64, product: ProductId) {
        self.released_at.entry(product).or_insert(second);
    }

    /// `item` reached zero at `second`; a restock and a second sell-out keep the first time.
    pub fn record_sold_out(&mut self, second: i64, item: ItemId) {
        self.sold_out_at.entry(item).or_insert(second);
    }

    /// Pairs per second for `product` (all products with `None`), oldest first, ending at `now`.
    pub fn per_second(&self, product: Option<ProductId>, now: i64) -> Vec<u32> {
        let start = now - WINDOW_SECS as i64 + 1;
        (start..=now)
            .map(|s| match product {
                Some(p) => self.rings.get(&p).map_or(0, |r| r.at(s)),
                None => self.rings.values().map(|r| r.at(s)).sum(),
            })
            .collect()
    }

    /// Pairs of `product` this node has seen sold since it started.
    pub fn sold(&self, product: ProductId) -> u64 {
        self.sold.get(&product).copied().unwrap_or(0)
    }

    pub fn released_at(&self, product: ProductId) -> Option<i64> {
        self.released_at.get(&product).copied()
    }

    pub fn sold_out_at(&self, item: ItemId) -> Option<i64> {
        self.sold_out_at.get(&item).copied()
    }

    /// Whether anything sold within the window ending at `now` (the chart still moves).
    pub fn active(&self, now: i64) -> bool {
        self.latest.is_some_and(|l| now - l < WINDOW_SECS as i64)
    }
}

/// `sold / (sold + left)` in per mille, so a bar's width is exact in integers; `None` when the
/// product never had a pair.
pub fn sell_through_permille(sold: u64, left: u64) -> Option<u32> {
    let stock = sold + left;
    (stock > 0).then(|| ((sold * 1000) / stock) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P1: ProductId = ProductId(1);
    const P2: ProductId = ProductId(2);

    #[test]
    fn sales_land_in_their_second_per_product_and_in_the_total() {
        let mut s = SalesSeries::new();
        s.record_sale(1_000, P1, 2);
        s.record_sale(1_000, P2, 1);
        s.record_sale(1_001, P1, 3);
        let all = s.per_second(None, 1_001);
        assert_eq!(all.len(), WINDOW_SECS);
        assert_eq!(&all[WINDOW_SECS - 2..], &[3, 3]);
        assert_eq!(&s.per_second(Some(P1), 1_001)[WINDOW_SECS - 2..], &[2, 3]);
        assert_eq!(&s.per_second(Some(P2), 1_001)[WINDOW_SECS - 2..], &[1, 0]);
        assert_eq!(s.sold(P1), 5);
        assert_eq!(s.sold(P2), 1);
    }

    #[test]
    fn seconds_older_than_the_window_read_as_zero() {
        let mut s = SalesSeries::new();
        s.record_sale(1_000, P1, 4);
        let later = 1_000 + WINDOW_SECS as i64;
        assert_eq!(
            s.per_second(None, later - 1)[0],
            4,
            "still the oldest second"
        );
        assert!(s.per_second(None, later).iter().all(|&n| n == 0));
        // The slot is reused by the new second without the old count.
        s.record_sale(later, P1, 1);
        assert_eq!(s.per_second(None, later)[WINDOW_SECS - 1], 1);
        assert_eq!(s.sold(P1), 5);
    }

    #[test]
    fn a_sale_too_late_for_the_window_counts_but_is_not_drawn() {
        let mut s = SalesSeries::new();
        s.record_sale(5_000, P1, 1);
        s.record_sale(5_000 - WINDOW_SECS as i64, P1, 7);
        assert_eq!(s.per_second(None, 5_000).iter().sum::<u32>(), 1);
        assert_eq!(s.sold(P1), 8);
    }

    #[test]
    fn active_while_a_sale_is_in_the_window() {
        let mut s = SalesSeries::new();
        assert!(!s.active(10));
        s.record_sale(10, P1, 1);
        assert!(s.active(10));
        assert!(s.active(10 + WINDOW_SECS as i64 - 1));
        assert!(!s.active(10 + WINDOW_SECS as i64));
    }

    #[test]
    fn first_release_and_first_sell_out_are_kept() {
        let mut s = SalesSeries::new();
        s.record_release(100, P1);
        s.record_release(200, P1);
        s.record_sold_out(150, ItemId(9));
        s.record_sold_out(300, ItemId(9));
        assert_eq!(s.released_at(P1), Some(100));
        assert_eq!(s.sold_out_at(ItemId(9)), Some(150));
        assert_eq!(s.released_at(P2), None);
    }

    #[test]
    fn sell_through_is_sold_over_stock() {
        assert_eq!(sell_through_permille(0, 0), None);
        assert_eq!(sell_through_permille(0, 10), Some(0));
        assert_eq!(sell_through_permille(1, 3), Some(250));
        assert_eq!(sell_through_permille(10, 0), Some(1000));
    }
}
