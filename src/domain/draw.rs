//! Draws: a hyped product sold by lot instead of by speed. Shoppers enter during a window (one
//! entry per account, a size, a shipping address, a card authorised but not charged); at close a
//! secret is drawn and every entry is ranked by an HMAC of its hash under that secret, so the
//! order is fixed by the secret alone and anyone holding the published secret and entry hashes
//! can recompute it. Entries sharing a card or a shipping address with an earlier one are void;
//! each size's pairs go down the order, a winner whose capture fails is passed over for the next.
//! Pure: callers pass the time, the secret and the entries.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::address::Address;
use super::ids::{ItemId, ProductId};
use super::line::shuffle_key;

/// A draw's entry window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub opens: DateTime<Utc>,
    pub closes: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("a draw must close after it opens")]
    ClosesBeforeOpens,
}

/// Where a draw's window stands at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Entries are not taken yet.
    Upcoming,
    /// Entries are taken and may be withdrawn.
    Open,
    /// No more entries or withdrawals: the draw is due (or made).
    Closed,
}

impl Window {
    pub fn new(opens: DateTime<Utc>, closes: DateTime<Utc>) -> Result<Window, WindowError> {
        if closes <= opens {
            return Err(WindowError::ClosesBeforeOpens);
        }
        Ok(Window { opens, closes })
    }

    /// Open from `opens` (included) to `closes` (excluded).
    pub fn phase(&self, now: DateTime<Utc>) -> Phase {
        if now < self.opens {
            Phase::Upcoming
        } else if now < self.closes {
            Phase::Open
        } else {
            Phase::Closed
        }
    }
}

/// The public name of an entry: hex SHA-256 of `sneakers draw entry|product|item|nonce`. Fixed
/// when the entry is made (the nonce is random, drawn then), shown to the entrant, published
/// with the draw: it names the entry without naming the shopper.
pub fn entry_hash(product_id: ProductId, item_id: ItemId, nonce: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(format!(
        "sneakers draw entry|{product_id}|{item_id}|{nonce}"
    ));
    hex(&digest.finalize())
}

/// An entry's place in the draw: the line's shuffle (hex HMAC-SHA256 keyed by the secret's
/// text, over `sneakers line draw: <product id>|<entry hash>`); lower goes first.
pub fn draw_key(secret: &str, product_id: ProductId, entry_hash: &str) -> String {
    shuffle_key(secret.as_bytes(), product_id, entry_hash)
}

/// Entries in draw order: by [`draw_key`], then by hash (two equal keys would need a SHA-256
/// collision; the tie-break only makes the order total).
pub fn draw_order<T>(
    secret: &str,
    product_id: ProductId,
    entries: impl IntoIterator<Item = T>,
    hash: impl Fn(&T) -> &str,
) -> Vec<T> {
    let mut keyed: Vec<(String, T)> = entries
        .into_iter()
        .map(|entry| (draw_key(secret, product_id, hash(&entry)), entry))
        .collect();
    keyed.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| hash(x).cmp(hash(y))));
    keyed.into_iter().map(|(_, entry)| entry).collect()
}

/// What makes two entries one person's: the address they ship to, without the name, case,
/// spacing or punctuation ("12 St. James's Sq" and "12 st james s sq" are one address).
pub fn address_key(address: &Address) -> String {
    let fold = |text: &str| -> String {
        text.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    [
        fold(&address.line1),
        fold(&address.line2),
        fold(&address.city),
        fold(&address.postal_code),
        fold(&address.country),
    ]
    .join("|")
}

/// Why an entry does not take part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoidReason {
    SameCard,
    SameAddress,
}

impl VoidReason {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            VoidReason::SameCard => "same_card",
            VoidReason::SameAddress => "same_address",
        }
    }

    pub fn from_code(code: &str) -> Option<VoidReason> {
        match code {
            "same_card" => Some(VoidReason::SameCard),
            "same_address" => Some(VoidReason::SameAddress),
            _ => None,
        }
    }

    /// What the entrant reads.
    pub fn message(self) -> &'static str {
        match self {
            VoidReason::SameCard => {
                "Your entry was void: an earlier entry was made with the same card. One entry per person; nothing was charged."
            }
            VoidReason::SameAddress => {
                "Your entry was void: an earlier entry ships to the same address. One entry per person; nothing was charged."
            }
        }
    }
}

/// For entries in the order they were made (`(card fingerprint, address key)`), which are void:
/// an entry sharing a card or an address with any earlier one. The first of each stands.
pub fn voids<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<Option<VoidReason>> {
    let mut cards = HashSet::new();
    let mut addresses = HashSet::new();
    entries
        .into_iter()
        .map(|(card, address)| {
            let same_card = !cards.insert(card);
            let same_address = !addresses.insert(address);
            if same_card {
                Some(VoidReason::SameCard)
            } else if same_address {
                Some(VoidReason::SameAddress)
            } else {
                None
            }
        })
        .collect()
}

/// What the draw made of an entry that took part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Charged: the pair is theirs.
    Won,
    /// Its turn came but the capture failed: the next entry takes the pair.
    PassedOver,
    /// Not this time: the authorisation is released.
    Lost,
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Won => "won",
            Outcome::PassedOver => "passed_over",
            Outcome::Lost => "lost",
        }
    }

    pub fn from_code(code: &str) -> Option<Outcome> {
        match code {
            "won" => Some(Outcome::Won),
            "passed_over" => Some(Outcome::PassedOver),
            "lost" => Some(Outcome::Lost),
            _ => None,
        }
    }
}

/// Where an entry stands, as its shopper is told: the `draw` push and the pages say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// In the draw (authorised, not charged).
    Entered,
    Withdrawn,
    Void(VoidReason),
    Decided(Outcome),
}

impl Standing {
    /// The stored entry state (with the void reason) as a standing; `None` for an entry still
    /// being authorised, which is nobody's yet.
    pub fn from_state(state: &str, void_reason: Option<&str>) -> Option<Standing> {
        match state {
            "entered" => Some(Standing::Entered),
            "withdrawn" => Some(Standing::Withdrawn),
            "void" => Some(Standing::Void(
                void_reason
                    .and_then(VoidReason::from_code)
                    .unwrap_or(VoidReason::SameCard),
            )),
            other => Outcome::from_code(other).map(Standing::Decided),
        }
    }

    /// One word for the wire: `entered`, `withdrawn`, `void:same_card`, `won`, ...
    pub fn code(self) -> String {
        match self {
            Standing::Entered => "entered".into(),
            Standing::Withdrawn => "withdrawn".into(),
            Standing::Void(reason) => format!("void:{}", reason.code()),
            Standing::Decided(outcome) => outcome.code().into(),
        }
    }

    pub fn from_code(code: &str) -> Option<Standing> {
        match code.split_once(':') {
            Some(("void", reason)) => VoidReason::from_code(reason).map(Standing::Void),
            Some(_) => None,
            None => Standing::from_state(code, None).filter(|s| !matches!(s, Standing::Void(_))),
        }
    }
}

/// One entry in draw order, as far as the draw has got with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ranked {
    pub item_id: ItemId,
    pub outcome: Option<Outcome>,
}

/// Something the draw can do now with the entry at this index of the draw order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Capture(usize),
    Release(usize),
}

/// The steps that can be taken now, given the pairs each size still has (winners already
/// took theirs). Down each size's order: an undecided entry is captured while captures in
/// flight do not cover the pairs left; once they do, the rest of that size waits (a failed
/// capture hands its pair down), and once no capture is in flight and no pair is left, the
/// rest is released. Running it again after each outcome is written finishes the draw, and
/// after a crash it picks up where the written outcomes stopped.
pub fn plan(ranked: &[Ranked], available: &HashMap<ItemId, u32>) -> Vec<Step> {
    let mut in_flight: HashMap<ItemId, u32> = HashMap::new();
    let mut waiting: HashSet<ItemId> = HashSet::new();
    let mut steps = Vec::new();
    for (index, entry) in ranked.iter().enumerate() {
        if entry.outcome.is_some() || waiting.contains(&entry.item_id) {
            continue;
        }
        let left = available.get(&entry.item_id).copied().unwrap_or(0);
        let flying = in_flight.entry(entry.item_id).or_default();
        if *flying < left {
            *flying += 1;
            steps.push(Step::Capture(index));
        } else if *flying == 0 {
            steps.push(Step::Release(index));
        } else {
            waiting.insert(entry.item_id);
        }
    }
    steps
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use hmac::{Hmac, Mac};

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + seconds, 0)
            .single()
            .expect("a valid instant")
    }

    #[test]
    fn the_window_opens_then_closes() {
        let window = Window::new(at(0), at(60)).expect("closes after it opens");
        assert_eq!(window.phase(at(-1)), Phase::Upcoming);
        assert_eq!(window.phase(at(0)), Phase::Open);
        assert_eq!(window.phase(at(59)), Phase::Open);
        assert_eq!(window.phase(at(60)), Phase::Closed);
        assert_eq!(
            Window::new(at(60), at(60)),
            Err(WindowError::ClosesBeforeOpens)
        );
    }

    #[test]
    fn anyone_can_recompute_the_order_from_the_published_secret_and_hashes() {
        let product = ProductId(12);
        let hashes: Vec<String> = (1..=50)
            .map(|id| entry_hash(product, ItemId(3), &format!("nonce-{id}")))
            .collect();
        let secret = "5f1c0de0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c";
        let published = draw_order(secret, product, hashes.iter(), |h| h.as_str());

        // A checker with only the secret, the product id and the list: HMAC-SHA256 keyed by
        // the secret's text over "sneakers line draw: <product>|<hash>", sorted ascending.
        let mut checked: Vec<(String, &String)> = hashes
            .iter()
            .map(|hash| {
                let mut mac =
                    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
                mac.update(format!("sneakers line draw: {product}|{hash}").as_bytes());
                (hex(&mac.finalize().into_bytes()), hash)
            })
            .collect();
        checked.sort();
        let checked: Vec<&String> = checked.into_iter().map(|(_, h)| h).collect();
        assert_eq!(published, checked);

        // The order is the secret's: another secret gives another order, the same one the same.
        assert_ne!(
            published,
            draw_order("another secret", product, hashes.iter(), |h| h.as_str())
        );
        assert_eq!(
            published,
            draw_order(secret, product, hashes.iter().rev(), |h| h.as_str())
        );
    }

    #[test]
    fn entry_hashes_name_one_entry() {
        let a = entry_hash(ProductId(1), ItemId(2), "n");
        assert_eq!(a.len(), 64);
        assert_eq!(a, entry_hash(ProductId(1), ItemId(2), "n"));
        assert_ne!(a, entry_hash(ProductId(2), ItemId(2), "n"));
        assert_ne!(a, entry_hash(ProductId(1), ItemId(2), "m"));
    }

    fn address(line1: &str, postal_code: &str) -> Address {
        Address {
            name: "Ada".into(),
            line1: line1.into(),
            line2: String::new(),
            city: "London".into(),
            postal_code: postal_code.into(),
            country: "GB".into(),
        }
    }

    #[test]
    fn one_address_however_it_is_written() {
        let a = address("12 St. James's Square", "SW1Y 4JH");
        let b = Address {
            name: "Someone Else".into(),
            ..address("12 st james s square", "sw1y4jh")
        };
        assert_eq!(address_key(&a), address_key(&b));
        assert_ne!(
            address_key(&a),
            address_key(&address("14 St James's Square", "SW1Y 4JH"))
        );
    }

    #[test]
    fn later_entries_sharing_a_card_or_an_address_are_void() {
        let made = [
            ("card-1", "addr-1"),
            ("card-2", "addr-2"),
            ("card-1", "addr-3"),
            ("card-4", "addr-2"),
            ("card-5", "addr-5"),
            // Same card and address as the first: the card is named.
            ("card-1", "addr-1"),
        ];
        assert_eq!(
            voids(made),
            [
                None,
                None,
                Some(VoidReason::SameCard),
                Some(VoidReason::SameAddress),
                None,
                Some(VoidReason::SameCard),
            ]
        );
        for reason in [VoidReason::SameCard, VoidReason::SameAddress] {
            assert_eq!(VoidReason::from_code(reason.code()), Some(reason));
        }
    }

    fn ranked(items: &[(i32, Option<Outcome>)]) -> Vec<Ranked> {
        items
            .iter()
            .map(|&(item, outcome)| Ranked {
                item_id: ItemId(item),
                outcome,
            })
            .collect()
    }

    #[test]
    fn each_size_goes_down_the_order_for_its_pairs() {
        let order = ranked(&[(1, None), (2, None), (1, None), (1, None), (2, None)]);
        let stock = HashMap::from([(ItemId(1), 2), (ItemId(2), 0)]);
        // Size 1: two captures, the third waits for them; size 2 has none: released.
        assert_eq!(
            plan(&order, &stock),
            [
                Step::Capture(0),
                Step::Release(1),
                Step::Capture(2),
                Step::Release(4)
            ]
        );
    }

    #[test]
    fn a_failed_capture_hands_its_pair_to_the_next_entry() {
        // Entry 0 won (its pair is gone from the stock), entry 2's capture failed: one pair is
        // left, so entry 3 is captured and entry 4 waits for it.
        let order = ranked(&[
            (1, Some(Outcome::Won)),
            (2, Some(Outcome::Lost)),
            (1, Some(Outcome::PassedOver)),
            (1, None),
            (1, None),
        ]);
        let stock = HashMap::from([(ItemId(1), 1)]);
        assert_eq!(plan(&order, &stock), [Step::Capture(3)]);
        // Entry 3 won: nothing left, entry 4 is released; then nothing is left to do.
        let order = ranked(&[(1, Some(Outcome::Won)), (1, None)]);
        let none = HashMap::from([(ItemId(1), 0)]);
        assert_eq!(plan(&order, &none), [Step::Release(1)]);
        let order = ranked(&[(1, Some(Outcome::Won)), (1, Some(Outcome::Lost))]);
        assert_eq!(plan(&order, &none), []);
    }

    #[test]
    fn outcomes_read_back_from_their_codes() {
        for outcome in [Outcome::Won, Outcome::PassedOver, Outcome::Lost] {
            assert_eq!(Outcome::from_code(outcome.code()), Some(outcome));
        }
        assert_eq!(Outcome::from_code("void"), None);
        for standing in [
            Standing::Entered,
            Standing::Withdrawn,
            Standing::Void(VoidReason::SameAddress),
            Standing::Decided(Outcome::PassedOver),
        ] {
            assert_eq!(Standing::from_code(&standing.code()), Some(standing));
        }
        assert_eq!(Standing::from_code("void"), None);
        assert_eq!(Standing::from_state("authorising", None), None);
    }
}
