//! Rate limits on what bots hammer during a drop, whatever carries the request (HTTP, a
//! socket, LongPoll): one budget per [`LimitedAction`] and what it is counted per (the session,
//! or what stands for one, and the client's address: an IPv6 client's network, see
//! [`crate::config::limits::client_network`]), and wrong admin credentials per address.
//!
//! A request is charged to all of its budgets or to none: one refused by any of them writes no
//! key anywhere (a flood of new emails from one address adds nothing once the address is over
//! its budget, and a greedy session does not spend its neighbours' shared one). Keys whose
//! budget is full again are forgotten every few seconds, so what the limiter holds is bounded
//! by what it allowed lately. Refusals are counted in `/metrics` as
//! `sneakers_rate_limited_total{limit, key}`; the edges turn them into their own answers.

pub mod gcra;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::limits::client_network;
use crate::config::{LimitedAction, Per, Rates};
use gcra::Keyed;

/// Keys whose budget is full again are dropped this often.
const FORGET_EVERY: Duration = Duration::from_secs(10);

/// Over a budget: which one, and how long until one more request would fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("over the {} budget per {per:?}: retry in {retry_after:?}", .action.name())]
pub struct Limited {
    pub action: LimitedAction,
    pub per: Per,
    pub retry_after: Duration,
}

impl Limited {
    fn new(action: LimitedAction, per: Per, retry_after: Duration) -> Limited {
        let key = match per {
            Per::Session => "session",
            Per::Address => "address",
            Per::Device => "device",
            Per::Socket => "socket",
        };
        metrics::counter!("sneakers_rate_limited_total", "limit" => action.name(), "key" => key)
            .increment(1);
        Limited {
            action,
            per,
            retry_after,
        }
    }

    /// Whole seconds to wait, at least one (what `Retry-After` says).
    pub fn retry_after_secs(&self) -> u64 {
        let wait = self.retry_after;
        (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
    }
}

pub struct Limiter {
    enabled: bool,
    /// IPv6 clients are counted per network of this many leading bits.
    ipv6_prefix: u8,
    /// Budgets keyed by a string: per session (or what stands for one) and per device.
    keyed: HashMap<(LimitedAction, Per), Keyed<String>>,
    address: HashMap<LimitedAction, Keyed<IpAddr>>,
    /// Networks refused admin access until then, whatever credentials they send: otherwise a
    /// blocked guesser would still learn which guess was right.
    admin_blocked: Mutex<HashMap<IpAddr, Instant>>,
}

/// A keyed budget for every action with a budget per `per`.
fn keyed<K: std::hash::Hash + Eq>(rates: &Rates, per: Per) -> HashMap<LimitedAction, Keyed<K>> {
    LimitedAction::ALL
        .into_iter()
        .filter_map(|action| Some((action, Keyed::new(rates.get(action, per)?))))
        .collect()
}

/// What is counted per a string key: the session (or what stands for it) and the device.
const STRING_KEYED: [Per; 2] = [Per::Session, Per::Device];

impl Limiter {
    pub fn new(rates: &Rates, ipv6_prefix: u8) -> Limiter {
        Limiter {
            enabled: rates.enabled,
            ipv6_prefix,
            keyed: STRING_KEYED
                .into_iter()
                .flat_map(|per| {
                    keyed(rates, per)
                        .into_iter()
                        .map(move |(action, budget)| ((action, per), budget))
                })
                .collect(),
            address: keyed(rates, Per::Address),
            admin_blocked: Mutex::new(HashMap::new()),
        }
    }

    /// One more `action` by this session (if it has one) from this address, charged to both
    /// budgets or, if either is spent, to neither.
    pub fn check(
        &self,
        action: LimitedAction,
        address: IpAddr,
        session: Option<&str>,
    ) -> Result<(), Limited> {
        self.check_keyed(action, address, session.map(|key| (Per::Session, key)))
    }

    /// [`Limiter::check`] with the budget the key is counted in named: `(Per::Device, nonce)`
    /// spends a device's budget instead of the session's.
    pub fn check_keyed(
        &self,
        action: LimitedAction,
        address: IpAddr,
        key: Option<(Per, &str)>,
    ) -> Result<(), Limited> {
        self.charge(&[action], address, key)
    }

    /// One request that is several actions at once (a checkout is also a card submission):
    /// charged to every budget of each of them or, if any is spent, to none.
    pub fn check_all(
        &self,
        actions: &[LimitedAction],
        address: IpAddr,
        session: Option<&str>,
    ) -> Result<(), Limited> {
        self.charge(actions, address, session.map(|key| (Per::Session, key)))
    }

    fn charge(
        &self,
        actions: &[LimitedAction],
        address: IpAddr,
        key: Option<(Per, &str)>,
    ) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        let now = Instant::now();
        let network = client_network(address, self.ipv6_prefix);
        // Budgets are locked in one order everywhere (actions in their declared order, each
        // one's keyed budget before its address's), so no two checks wait on each other, and
        // all stay locked until every one has said yes.
        let mut ordered = actions.to_vec();
        ordered.sort_unstable();
        ordered.dedup();
        let mut keyed = Vec::with_capacity(ordered.len());
        let mut addressed = Vec::with_capacity(ordered.len());
        for action in ordered {
            if let Some((per, key)) = key
                && let Some(budget) = self.keyed.get(&(action, per))
            {
                let keys = budget.lock();
                let next = budget
                    .gcra
                    .next(keys.get(key).copied(), now)
                    .map_err(|wait| Limited::new(action, per, wait))?;
                keyed.push((keys, next));
            }
            if let Some(budget) = self.address.get(&action) {
                let keys = budget.lock();
                let next = budget
                    .gcra
                    .next(keys.get(&network).copied(), now)
                    .map_err(|wait| Limited::new(action, Per::Address, wait))?;
                addressed.push((keys, next));
            }
        }
        if let Some((_, key)) = key {
            for (mut keys, next) in keyed {
                keys.insert(key.to_string(), next);
            }
        }
        for (mut keys, next) in addressed {
            keys.insert(network, next);
        }
        Ok(())
    }

    /// One more shopper login for `mailbox` (its canonical form) from this address, following
    /// OWASP's device cookies: a browser holding a valid device cookie for that mailbox (its
    /// `device` nonce) spends its own budget, which no stranger can touch; a browser without
    /// one, or whose device budget is spent, spends the mailbox's, which every stranger's
    /// guesses share. The address's budget applies to both.
    pub fn check_login(
        &self,
        address: IpAddr,
        mailbox: &str,
        device: Option<&str>,
    ) -> Result<(), Limited> {
        let login = LimitedAction::Login;
        if let Some(nonce) = device {
            match self.check_keyed(login, address, Some((Per::Device, nonce))) {
                Err(limited) if limited.per == Per::Device => {}
                trusted => return trusted,
            }
        }
        self.check_keyed(login, address, Some((Per::Session, mailbox)))
    }

    /// Whether this address may try admin credentials now.
    pub fn admin_allowed(&self, address: IpAddr) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        let network = client_network(address, self.ipv6_prefix);
        let now = Instant::now();
        match self.blocked().get(&network).copied() {
            Some(until) if until > now => Err(Limited::new(
                LimitedAction::AdminFailures,
                Per::Address,
                until - now,
            )),
            _ => Ok(()),
        }
    }

    /// Records wrong credentials; past the limit the address is blocked for a while (the
    /// answer to this attempt says how long).
    pub fn admin_failed(&self, address: IpAddr) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        let Some(failures) = self.address.get(&LimitedAction::AdminFailures) else {
            return Ok(());
        };
        let network = client_network(address, self.ipv6_prefix);
        let now = Instant::now();
        failures.take(network, now).map_err(|wait| {
            self.blocked().insert(network, now + wait);
            tracing::warn!(%network, "admin credentials guessed too often: address blocked");
            Limited::new(LimitedAction::AdminFailures, Per::Address, wait)
        })
    }

    fn blocked(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Instant>> {
        self.admin_blocked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Keys held across every budget (for tests and `/metrics`).
    pub fn keys(&self) -> usize {
        let session: usize = self.keyed.values().map(Keyed::len).sum();
        let address: usize = self.address.values().map(Keyed::len).sum();
        session + address + self.blocked().len()
    }

    /// Forgets every key whose budget is full again.
    pub fn forget_idle(&self) {
        self.forget_idle_at(Instant::now());
    }

    /// [`Limiter::forget_idle`] as of `now` (tests look ahead).
    pub fn forget_idle_at(&self, now: Instant) {
        for budget in self.keyed.values() {
            budget.forget_idle(now);
        }
        for budget in self.address.values() {
            budget.forget_idle(now);
        }
        self.blocked().retain(|_, until| *until > now);
        self.record_keys();
    }

    /// Sets `sneakers_rate_limit_keys` to the keys held now (after each sweep, and before
    /// `/metrics` is read, so it never shows a count from before the last refusal).
    pub fn record_keys(&self) {
        metrics::gauge!("sneakers_rate_limit_keys").set(self.keys() as f64);
    }

    pub fn spawn_forgetting(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let limiter = Arc::clone(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(FORGET_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                limiter.forget_idle();
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Rate;

    fn rates(cart: &str) -> Rates {
        let rate: Rate = cart.parse().unwrap_or_else(|e| panic!("{e}"));
        Rates::default()
            .with(LimitedAction::Cart, Per::Session, rate)
            .with(LimitedAction::Cart, Per::Address, Rate::default_of("5/min"))
            .with(
                LimitedAction::AdminFailures,
                Per::Address,
                Rate::default_of("2/min"),
            )
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn a_session_over_its_rate_is_refused_with_a_wait() {
        let limits = Limiter::new(&rates("2/min"), 64);
        let here = ip("192.0.2.1");
        let check = |session| limits.check(LimitedAction::Cart, here, Some(session));
        assert!(check("a").is_ok() && check("a").is_ok());
        let refused = check("a").err();
        assert_eq!(
            refused.map(|l| (l.per, l.retry_after_secs())),
            Some((Per::Session, 30))
        );
        // Another session on the same address still has its own budget, up to the address's
        // (5: the refused third try of "a" did not spend any of it).
        assert!(check("b").is_ok() && check("b").is_ok() && check("c").is_ok());
        assert_eq!(check("d").err().map(|l| l.per), Some(Per::Address));
        // Other actions and addresses are untouched.
        assert!(
            limits
                .check(LimitedAction::Checkout, here, Some("a"))
                .is_ok()
        );
        assert!(
            limits
                .check(LimitedAction::Cart, ip("192.0.2.2"), Some("d"))
                .is_ok()
        );
    }

    #[test]
    fn a_request_refused_for_its_address_writes_no_key() {
        let limits = Limiter::new(&rates("2/min"), 64);
        let here = ip("192.0.2.1");
        for n in 0..1000 {
            let _ = limits.check(LimitedAction::Cart, here, Some(&format!("session {n}")));
        }
        // Five sessions and the address: the 995 refused left nothing behind.
        assert_eq!(limits.keys(), 6);
    }

    #[test]
    fn a_request_refused_by_one_of_its_actions_spends_none_of_the_others() {
        let rates = Rates::default()
            .with(
                LimitedAction::Checkout,
                Per::Session,
                Rate::default_of("3/min"),
            )
            .with(
                LimitedAction::Payment,
                Per::Session,
                Rate::default_of("1/min"),
            )
            .with(
                LimitedAction::Payment,
                Per::Address,
                Rate::default_of("100/min"),
            );
        let limits = Limiter::new(&rates, 64);
        let here = ip("192.0.2.1");
        // A draw entry spent the session's card submission.
        assert!(
            limits
                .check(LimitedAction::Payment, here, Some("a"))
                .is_ok()
        );
        let keys = limits.keys();
        let checkout = [LimitedAction::Checkout, LimitedAction::Payment];
        for _ in 0..5 {
            let refused = limits.check_all(&checkout, here, Some("a")).err();
            assert_eq!(
                refused.map(|l| (l.action, l.per)),
                Some((LimitedAction::Payment, Per::Session))
            );
        }
        assert_eq!(limits.keys(), keys, "the refused checkouts kept nothing");
        // The checkout budget is whole: three checkouts fit, the fourth does not.
        for _ in 0..3 {
            assert!(
                limits
                    .check(LimitedAction::Checkout, here, Some("a"))
                    .is_ok()
            );
        }
        assert!(
            limits
                .check(LimitedAction::Checkout, here, Some("a"))
                .is_err()
        );
    }

    #[test]
    fn a_device_has_its_own_budget_beside_the_sessions() {
        let rates = Rates::default()
            .with(
                LimitedAction::Login,
                Per::Session,
                Rate::default_of("2/min"),
            )
            .with(LimitedAction::Login, Per::Device, Rate::default_of("3/min"))
            .with(
                LimitedAction::Login,
                Per::Address,
                Rate::default_of("100/min"),
            );
        let limits = Limiter::new(&rates, 64);
        let here = ip("192.0.2.1");
        let mailbox =
            |key| limits.check_keyed(LimitedAction::Login, here, Some((Per::Session, key)));
        let device = |key| limits.check_keyed(LimitedAction::Login, here, Some((Per::Device, key)));
        assert!(mailbox("ada@x").is_ok() && mailbox("ada@x").is_ok());
        assert_eq!(mailbox("ada@x").err().map(|l| l.per), Some(Per::Session));
        // The same string as a device is another budget, with its own rate.
        assert!(device("ada@x").is_ok() && device("ada@x").is_ok() && device("ada@x").is_ok());
        assert_eq!(device("ada@x").err().map(|l| l.per), Some(Per::Device));
        assert!(device("another browser").is_ok());
    }

    #[test]
    fn a_strangers_guesses_do_not_spend_the_owners_device() {
        let rates = Rates::default()
            .with(
                LimitedAction::Login,
                Per::Session,
                Rate::default_of("3/min"),
            )
            .with(LimitedAction::Login, Per::Device, Rate::default_of("2/min"))
            .with(
                LimitedAction::Login,
                Per::Address,
                Rate::default_of("100/min"),
            );
        let limits = Limiter::new(&rates, 64);
        let (stranger, owner) = (ip("198.51.100.7"), ip("192.0.2.1"));
        for _ in 0..3 {
            assert!(limits.check_login(stranger, "ada@x", None).is_ok());
        }
        // Untrusted browsers, wherever they are, now wait for the mailbox's budget...
        assert!(limits.check_login(stranger, "ada@x", None).is_err());
        assert!(limits.check_login(owner, "ada@x", None).is_err());
        // ...while the owner's browser has its own (whether a cookie is the mailbox's is the
        // caller's to check: `web::edge::device_cookie`).
        assert!(
            limits
                .check_login(owner, "ada@x", Some("owners nonce"))
                .is_ok()
        );
        assert!(
            limits
                .check_login(owner, "ada@x", Some("owners nonce"))
                .is_ok()
        );
        // Its budget spent, the device is an untrusted browser again: the mailbox's budget.
        assert_eq!(
            limits
                .check_login(owner, "ada@x", Some("owners nonce"))
                .err()
                .map(|l| l.per),
            Some(Per::Session)
        );
    }

    #[test]
    fn an_ipv6_network_shares_one_budget() {
        let limits = Limiter::new(&rates("100/min"), 64);
        for n in 1..=5 {
            let address = ip(&format!("2001:db8:1:2::{n:x}"));
            assert!(limits.check(LimitedAction::Cart, address, None).is_ok());
        }
        let same_64 = ip("2001:db8:1:2:ffff::1");
        assert!(limits.check(LimitedAction::Cart, same_64, None).is_err());
        let next_64 = ip("2001:db8:1:3::1");
        assert!(limits.check(LimitedAction::Cart, next_64, None).is_ok());
        // Counted per /48 when so configured.
        let wide = Limiter::new(&rates("100/min"), 48);
        for n in 0..5 {
            let address = ip(&format!("2001:db8:1:{n:x}::1"));
            assert!(wide.check(LimitedAction::Cart, address, None).is_ok());
        }
        assert!(
            wide.check(LimitedAction::Cart, ip("2001:db8:1:ff::1"), None)
                .is_err()
        );
    }

    #[test]
    fn admin_guessers_are_blocked_even_with_the_right_password() {
        let limits = Limiter::new(&rates("2/min"), 64);
        let guesser = ip("192.0.2.9");
        assert!(limits.admin_allowed(guesser).is_ok());
        assert!(limits.admin_failed(guesser).is_ok());
        assert!(limits.admin_failed(guesser).is_ok());
        assert!(limits.admin_failed(guesser).is_err());
        assert!(limits.admin_allowed(guesser).is_err());
        assert!(limits.admin_allowed(ip("192.0.2.10")).is_ok());
    }

    #[test]
    fn off_means_off() {
        let mut off = rates("1/h");
        off.enabled = false;
        let limits = Limiter::new(&off, 64);
        let here = ip("127.0.0.1");
        for _ in 0..100 {
            assert!(limits.check(LimitedAction::Cart, here, Some("a")).is_ok());
            assert!(limits.admin_failed(here).is_ok());
        }
        assert_eq!(limits.keys(), 0);
        let wait = |ms| Limited {
            action: LimitedAction::Cart,
            per: Per::Session,
            retry_after: Duration::from_millis(ms),
        };
        assert_eq!(wait(1).retry_after_secs(), 1);
        assert_eq!(wait(0).retry_after_secs(), 1);
        assert_eq!(wait(30_000).retry_after_secs(), 30);
    }
}
