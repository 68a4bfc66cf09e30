//! The generic cell rate algorithm: a budget of N at once and N more each period is one instant
//! per key, the theoretical arrival time (TAT) of its next request. A key whose TAT has passed
//! is a full budget, exactly as if it had never been seen, so it can be forgotten without
//! changing any answer; and whether one more request fits can be asked without spending it,
//! which lets a request be checked against several budgets and charged to all or none.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::config::Rate;

/// One budget's arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gcra {
    /// One request's share of the period.
    interval: Duration,
    /// How far ahead of now a key's TAT may run and still take one more: the burst, less one.
    tolerance: Duration,
}

impl Gcra {
    pub fn new(rate: Rate) -> Gcra {
        let interval = rate.replenish_one();
        Gcra {
            interval,
            tolerance: interval * (rate.count.get() - 1),
        }
    }

    /// The key's next TAT if one more request fits at `now` (`tat`: the key's, `None` if
    /// unknown), else how long until it would.
    pub fn next(&self, tat: Option<Instant>, now: Instant) -> Result<Instant, Duration> {
        let tat = tat.map_or(now, |tat| tat.max(now));
        let ahead = tat - now;
        if ahead > self.tolerance {
            Err(ahead - self.tolerance)
        } else {
            Ok(tat + self.interval)
        }
    }
}

/// A budget per key: only keys whose budget is not full are held.
pub struct Keyed<K> {
    pub gcra: Gcra,
    tats: Mutex<HashMap<K, Instant>>,
}

impl<K: Hash + Eq> Keyed<K> {
    pub fn new(rate: Rate) -> Keyed<K> {
        Keyed {
            gcra: Gcra::new(rate),
            tats: Mutex::new(HashMap::new()),
        }
    }

    /// The keys, locked: look with [`Gcra::next`], write only what was allowed.
    pub fn lock(&self) -> MutexGuard<'_, HashMap<K, Instant>> {
        self.tats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes one from `key`'s budget if it has one left.
    pub fn take(&self, key: K, now: Instant) -> Result<(), Duration> {
        let mut tats = self.lock();
        let next = self.gcra.next(tats.get(&key).copied(), now)?;
        tats.insert(key, next);
        Ok(())
    }

    /// Drops every key whose budget is full again (a refused or idle key costs nothing).
    pub fn forget_idle(&self, now: Instant) {
        let mut tats = self.lock();
        tats.retain(|_, tat| *tat > now);
        // A flood's keys are gone: give their room back too.
        if tats.capacity() > 2 * tats.len() + 64 {
            tats.shrink_to_fit();
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One budget of its own (one socket's events).
pub struct Single {
    gcra: Gcra,
    tat: Mutex<Option<Instant>>,
}

impl Single {
    pub fn new(rate: Rate) -> Single {
        Single {
            gcra: Gcra::new(rate),
            tat: Mutex::new(None),
        }
    }

    pub fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut tat = self.tat.lock().unwrap_or_else(PoisonError::into_inner);
        *tat = Some(self.gcra.next(*tat, now)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(text: &str) -> Rate {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_burst_then_one_back_per_share_of_the_period() {
        let budget = Single::new(rate("3/min"));
        let start = Instant::now();
        assert!((0..3).all(|_| budget.take(start).is_ok()));
        assert_eq!(budget.take(start), Err(Duration::from_secs(20)));
        assert_eq!(
            budget.take(start + Duration::from_secs(15)),
            Err(Duration::from_secs(5))
        );
        assert!(budget.take(start + Duration::from_secs(20)).is_ok());
        assert!(budget.take(start + Duration::from_secs(20)).is_err());
        // A minute idle: the whole burst again.
        let later = start + Duration::from_secs(80);
        assert!((0..3).all(|_| budget.take(later).is_ok()));
        assert!(budget.take(later).is_err());
    }

    #[test]
    fn full_budgets_are_forgotten_and_refusals_write_nothing() {
        let keyed: Keyed<u32> = Keyed::new(rate("2/10s"));
        let start = Instant::now();
        assert!(keyed.take(1, start).is_ok());
        assert!(keyed.take(1, start).is_ok());
        assert!(keyed.take(1, start).is_err());
        assert!(keyed.take(2, start).is_ok());
        assert_eq!(keyed.len(), 2);
        // Looking is free: a refused look leaves the keys as they were.
        let tats = keyed.lock();
        assert!(keyed.gcra.next(tats.get(&1).copied(), start).is_err());
        assert!(keyed.gcra.next(tats.get(&3).copied(), start).is_ok());
        drop(tats);
        assert_eq!(keyed.len(), 2);
        // Key 2 is full again after one share (5 s), key 1 after two.
        keyed.forget_idle(start + Duration::from_secs(6));
        assert_eq!(keyed.len(), 1);
        keyed.forget_idle(start + Duration::from_secs(10));
        assert!(keyed.is_empty());
    }
}
