//! Ids of products and items. They parse strictly (digits, no sign, no leading zero): one id has
//! one spelling, so `product:07` can never be a second channel for product 7.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an id: expected digits without a leading zero")]
pub struct BadId;

/// The one spelling of an id: `1`, `42`; not `042`, `+4`, ` 4` or anything past `i32::MAX`.
fn parse_id(text: &str) -> Result<i32, BadId> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return Err(BadId);
    }
    text.parse().map_err(|_| BadId)
}

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i32);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = BadId;

            fn from_str(text: &str) -> Result<$name, BadId> {
                parse_id(text).map($name)
            }
        }
    };
}

id!(
    /// A product (a shoe in one colourway).
    ProductId
);
id!(
    /// An item: one size of a product, what a cart holds and a checkout sells.
    ItemId
);
id!(
    /// A shopper's account.
    AccountId
);
id!(
    /// A server-side session's row. Not secret: socket tokens (signed) name it, the cluster
    /// bus carries it.
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_per_id() {
        assert_eq!("7".parse(), Ok(ItemId(7)));
        assert_eq!("0".parse(), Ok(ProductId(0)));
        assert_eq!("2147483647".parse(), Ok(ItemId(i32::MAX)));
        for bad in ["07", "", "+7", "-7", " 7", "7 ", "7x", "2147483648", "１"] {
            assert_eq!(bad.parse::<ItemId>(), Err(BadId), "{bad:?}");
        }
        assert_eq!(ItemId(12).to_string(), "12");
        assert_eq!(
            serde_json::to_string(&ItemId(12)).ok().as_deref(),
            Some("12")
        );
    }
}
