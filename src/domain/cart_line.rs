//! How a line of a cart stands (held for the shopper, or its hold ended unpaid with the pair
//! on sale again or sold out), and what the shopper is told when it moves: a hold ending and
//! a pair selling out in the cart are warnings, said once; anything the shopper did (adding,
//! removing, paying) is not news to them.

use super::ids::ItemId;

/// A pair whose hold ended unpaid while it was in the cart. The cart keeps it as a warning
/// until the shopper removes it or holds the pair again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndedHold {
    pub item_id: ItemId,
    pub price_cents: i32,
}

/// A cart line's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The pair is the shopper's until its hold ends.
    Held,
    /// The hold ended unpaid: the pair went back on sale, and may since have sold out.
    Ended { sold_out: bool },
}

/// What a change of a line tells the shopper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum News {
    /// The hold ended unpaid; the pair is on sale again.
    HoldEnded,
    /// The pair is gone: nobody can hold it now.
    SoldOut,
    /// A pair that had sold out is on sale again.
    BackInStock,
}

/// The news of one line between two looks at the cart (`None`: not in the cart).
pub fn news(before: Option<Standing>, after: Option<Standing>) -> Option<News> {
    use Standing::{Ended, Held};
    match (before?, after?) {
        (Held, Ended { sold_out: false }) => Some(News::HoldEnded),
        (Held | Ended { sold_out: false }, Ended { sold_out: true }) => Some(News::SoldOut),
        (Ended { sold_out: true }, Ended { sold_out: false }) => Some(News::BackInStock),
        _ => None,
    }
}

/// The news of every line that moved, in the order of `after`.
pub fn changes(before: &[(ItemId, Standing)], after: &[(ItemId, Standing)]) -> Vec<(ItemId, News)> {
    let was = |id: ItemId| before.iter().find(|(i, _)| *i == id).map(|(_, s)| *s);
    after
        .iter()
        .filter_map(|&(id, now)| news(was(id), Some(now)).map(|n| (id, n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: Standing = Standing::Ended { sold_out: true };
    const ON_SALE: Standing = Standing::Ended { sold_out: false };

    #[test]
    fn a_hold_ending_and_a_sell_out_are_news_and_nothing_the_shopper_did_is() {
        assert_eq!(
            news(Some(Standing::Held), Some(ON_SALE)),
            Some(News::HoldEnded)
        );
        // The hold ended and the pair sold before the cart looked again: one piece of news.
        assert_eq!(news(Some(Standing::Held), Some(OUT)), Some(News::SoldOut));
        assert_eq!(news(Some(ON_SALE), Some(OUT)), Some(News::SoldOut));
        assert_eq!(news(Some(OUT), Some(ON_SALE)), Some(News::BackInStock));
        // Added, held again, removed, paid: the shopper knows.
        assert_eq!(news(None, Some(Standing::Held)), None);
        assert_eq!(news(Some(ON_SALE), Some(Standing::Held)), None);
        assert_eq!(news(Some(Standing::Held), None), None);
        assert_eq!(news(Some(OUT), None), None);
        // A first look (a join) and a look that changed nothing say nothing.
        assert_eq!(news(None, Some(OUT)), None);
        assert_eq!(news(Some(OUT), Some(OUT)), None);
        assert_eq!(news(Some(Standing::Held), Some(Standing::Held)), None);
    }

    #[test]
    fn changes_name_each_line_that_moved() {
        let before = [
            (ItemId(1), Standing::Held),
            (ItemId(2), ON_SALE),
            (ItemId(3), Standing::Held),
        ];
        let after = [
            (ItemId(2), OUT),
            (ItemId(3), Standing::Held),
            (ItemId(1), ON_SALE),
        ];
        assert_eq!(
            changes(&before, &after),
            vec![(ItemId(2), News::SoldOut), (ItemId(1), News::HoldEnded)]
        );
    }
}
