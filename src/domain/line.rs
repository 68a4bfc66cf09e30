//! Waiting lines: who joined before the drop is drawn in a random order (an HMAC of the holder
//! under a server secret, so the draw is fixed, unguessable and auditable), later arrivals queue
//! behind in arrival order; the cluster admits the line at a steady rate from the drop on; an
//! admitted shopper may cart the product's pairs for a while. Pure: callers pass the time.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ids::ProductId;

/// The draw's key for one entry: hex HMAC-SHA256 of `product|holder`.
pub fn shuffle_key(secret: &[u8], product_id: ProductId, holder: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"sneakers line draw: ");
    mac.update(product_id.to_string().as_bytes());
    mac.update(b"|");
    mac.update(holder.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// When a line's admission is paced from: the drop, or the moment the line was turned on if
/// that came later (a line turned on after the drop lets in from then at its rate, not its
/// whole backlog at once). `None`: not released, so nobody is let in yet.
pub fn paced_from(
    released: bool,
    released_at: Option<DateTime<Utc>>,
    line_started_at: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    if !released {
        return None;
    }
    released_at.max(line_started_at)
}

/// How many of the line may be in by `now`: the first at the drop, then one every
/// `60 / per_minute` seconds.
pub fn admitted_by(released_at: DateTime<Utc>, now: DateTime<Utc>, per_minute: u32) -> u64 {
    let Ok(elapsed) = (now - released_at).to_std() else {
        return 0;
    };
    let admitted = elapsed.as_millis() * u128::from(per_minute) / 60_000 + 1;
    u64::try_from(admitted).unwrap_or(u64::MAX)
}

/// One shopper's place, as they see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Shoppers still waiting ahead of this one, plus one; 0 once admitted, and before the
    /// draw.
    pub position: u32,
    pub admitted_at: Option<DateTime<Utc>>,
    /// Before the drop the draw has not happened: the place is not known yet.
    pub drawn: bool,
    pub per_minute: u32,
}

impl Place {
    /// Admitted and still inside the window for carting the product's pairs.
    pub fn may_cart(&self, now: DateTime<Utc>, window: Duration) -> bool {
        self.admitted_at
            .is_some_and(|at| (now - at).to_std().map_or(true, |since| since <= window))
    }

    /// Roughly how long until admission.
    pub fn estimate(&self) -> Duration {
        if self.admitted_at.is_some() || !self.drawn {
            return Duration::ZERO;
        }
        let per_minute = u64::from(self.per_minute.max(1));
        Duration::from_millis(u64::from(self.position) * 60_000 / per_minute)
    }
}

/// One product's line, as a node last read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Line {
    pub per_minute: u32,
    pub drawn: bool,
    pub places: HashMap<String, Place>,
    pub waiting: u32,
    pub admitted: u32,
}

impl Line {
    /// Builds the line from its entries in line order (`holder`, `admitted_at`).
    pub fn from_ordered(
        per_minute: u32,
        drawn: bool,
        entries: impl IntoIterator<Item = (String, Option<DateTime<Utc>>)>,
    ) -> Line {
        let mut line = Line {
            per_minute,
            drawn,
            ..Line::default()
        };
        for (holder, admitted_at) in entries {
            let position = match admitted_at {
                Some(_) => {
                    line.admitted += 1;
                    0
                }
                // Before the draw nobody has a number.
                None if !drawn => {
                    line.waiting += 1;
                    0
                }
                None => {
                    line.waiting += 1;
                    line.waiting
                }
            };
            line.places.insert(
                holder,
                Place {
                    position,
                    admitted_at,
                    drawn,
                    per_minute,
                },
            );
        }
        line
    }

    pub fn figures(&self) -> LineFigures {
        LineFigures {
            waiting: self.waiting,
            admitted: self.admitted,
            per_minute: self.per_minute,
        }
    }

    pub fn len(&self) -> u32 {
        self.waiting + self.admitted
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What admins see of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineFigures {
    pub waiting: u32,
    pub admitted: u32,
    pub per_minute: u32,
}

/// Every line a node knows, refreshed each second.
#[derive(Debug, Clone, Default)]
pub struct Lines {
    pub lines: HashMap<ProductId, Line>,
}

impl Lines {
    pub fn place(&self, product_id: ProductId, holder: &str) -> Option<Place> {
        self.lines.get(&product_id)?.places.get(holder).copied()
    }

    /// Products whose line this holder stands in.
    pub fn joined(&self, holder: &str) -> Vec<ProductId> {
        let mut joined: Vec<ProductId> = self
            .lines
            .iter()
            .filter(|(_, line)| line.places.contains_key(holder))
            .map(|(id, _)| *id)
            .collect();
        joined.sort();
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + seconds, 0)
            .single()
            .expect("a valid instant")
    }

    #[test]
    fn the_line_is_admitted_at_its_rate_from_the_drop() {
        assert_eq!(admitted_by(at(0), at(-1), 60), 0);
        assert_eq!(admitted_by(at(0), at(0), 60), 1);
        assert_eq!(admitted_by(at(0), at(59), 60), 60);
        assert_eq!(admitted_by(at(0), at(60), 6), 7);
    }

    #[test]
    fn a_line_turned_on_after_the_drop_is_paced_from_then() {
        // Turned on before the drop: from the drop.
        assert_eq!(paced_from(true, Some(at(100)), Some(at(0))), Some(at(100)));
        // Turned on ten minutes after it: from then, so at 60 a minute two seconds let in 3,
        // not the 600 the drop's time would allow.
        let from = paced_from(true, Some(at(0)), Some(at(600)));
        assert_eq!(from, Some(at(600)));
        assert_eq!(from.map(|f| admitted_by(f, at(602), 60)), Some(3));
        // Released without a release time (seeded, imported): from when the line was on.
        assert_eq!(paced_from(true, None, Some(at(5))), Some(at(5)));
        assert_eq!(paced_from(false, None, Some(at(5))), None);
    }

    #[test]
    fn the_draw_is_fixed_per_secret_and_unguessable_without_it() {
        let one = shuffle_key(b"secret one", ProductId(1), "cart-a");
        assert_eq!(one, shuffle_key(b"secret one", ProductId(1), "cart-a"));
        assert_ne!(one, shuffle_key(b"secret two", ProductId(1), "cart-a"));
        assert_ne!(one, shuffle_key(b"secret one", ProductId(2), "cart-a"));
        assert_eq!(one.len(), 64);
    }

    #[test]
    fn positions_count_who_still_waits_ahead() {
        let line = Line::from_ordered(
            60,
            true,
            [
                ("a".to_string(), Some(at(0))),
                ("b".to_string(), None),
                ("c".to_string(), None),
            ],
        );
        let lines = Lines {
            lines: HashMap::from([(ProductId(1), line)]),
        };
        let place = |h| lines.place(ProductId(1), h).map(|p| p.position);
        assert_eq!(
            (place("a"), place("b"), place("c")),
            (Some(0), Some(1), Some(2))
        );
        let c = lines.place(ProductId(1), "c").expect("c is in line");
        assert_eq!(c.estimate(), Duration::from_secs(2));
        let a = lines.place(ProductId(1), "a").expect("a is in line");
        assert!(a.may_cart(at(599), Duration::from_secs(600)));
        assert!(!a.may_cart(at(601), Duration::from_secs(600)));
        assert_eq!(lines.joined("b"), vec![ProductId(1)]);
    }
}
