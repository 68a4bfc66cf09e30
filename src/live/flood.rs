//! How many events one socket may send (`RATE_LIMIT_SOCKET_EVENTS`): a burst, then each event
//! over the rate gets a `{"reason":"rate_limited"}` error reply, and a socket that keeps going
//! past a few of those is closed with 1008 (policy violation). Every frame counts, pings too.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use crate::config::Rate;
use crate::rate_limit::gcra::Single;

/// Refused events a socket may be told about before it is closed, and how fast that allowance
/// comes back: a client a little over the rate is slowed, never closed.
const REFUSALS: Rate = Rate {
    count: NonZeroU32::new(20).expect("20 is not zero"),
    per: Duration::from_secs(10),
};

pub const CLOSE_POLICY: u16 = 1008;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Answer with a `rate_limited` error reply.
    Refuse,
    /// Close with [`CLOSE_POLICY`].
    Close,
}

pub struct Flood {
    events: Single,
    refusals: Single,
}

impl Flood {
    /// `None` when rate limits are off.
    pub fn new(rate: Option<Rate>) -> Option<Flood> {
        Some(Flood {
            events: Single::new(rate?),
            refusals: Single::new(REFUSALS),
        })
    }

    pub fn check(&self) -> Verdict {
        let now = Instant::now();
        if self.events.take(now).is_ok() {
            Verdict::Allow
        } else if self.refusals.take(now).is_ok() {
            metrics::counter!("sneakers_rate_limited_total", "limit" => crate::config::LimitedAction::SocketEvents.name(), "key" => "socket").increment(1);
            Verdict::Refuse
        } else {
            metrics::counter!("sneakers_sockets_closed_for_flooding_total").increment(1);
            Verdict::Close
        }
    }
}

/// Checks `flood` if there is one.
pub fn check(flood: Option<&Flood>) -> Verdict {
    flood.map_or(Verdict::Allow, Flood::check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refusals_then_the_door() {
        let flood = Flood::new(Some(Rate::default_of("5/h")));
        let verdicts: Vec<Verdict> = (0..30).map(|_| check(flood.as_ref())).collect();
        assert_eq!(&verdicts[..5], &[Verdict::Allow; 5]);
        assert_eq!(&verdicts[5..25], &[Verdict::Refuse; 20]);
        assert_eq!(verdicts[25], Verdict::Close);
        assert_eq!(check(None), Verdict::Allow);
    }
}
