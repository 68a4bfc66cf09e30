//! Rate limits on what bots hammer during a drop (governor's GCRA, one keyed limiter per action
//! and key kind): add-to-cart, checkout, `/session/token` and socket connects, each per session
//! and per client address; wrong admin credentials per address. Over a limit the answer is 429
//! with `Retry-After` in the store's words ([`Refused::RateLimited`]), counted in `/metrics`
//! as `sneakers_rate_limited_total{limit, key}`. `RATE_LIMIT=off` makes every check pass.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::{Audience, Refusal, Refused};
use crate::config::{LimitedAction, Per, Rate, Rates};

/// Keys nobody used for this long are forgotten (their buckets are full again anyway).
const FORGET_EVERY: Duration = Duration::from_secs(60);

pub fn quota(rate: Rate) -> Quota {
    Quota::with_period(rate.replenish_one())
        .expect("a rate's period is at least a second, so one cell's share is never zero")
        .allow_burst(rate.count)
}

pub struct Limits {
    enabled: bool,
    /// Per action, its limiter per session (or what stands for one) and per address, where
    /// the action has such a budget.
    session: HashMap<LimitedAction, DefaultKeyedRateLimiter<String>>,
    address: HashMap<LimitedAction, DefaultKeyedRateLimiter<IpAddr>>,
    /// Addresses refused admin access until then, whatever credentials they send: otherwise a
    /// blocked guesser would still learn which guess was right.
    admin_blocked: Mutex<HashMap<IpAddr, Instant>>,
}

/// A keyed limiter for every action with a budget per `per`.
fn keyed<K: Clone + Eq + std::hash::Hash>(
    rates: &Rates,
    per: Per,
) -> HashMap<LimitedAction, DefaultKeyedRateLimiter<K>> {
    LimitedAction::ALL
        .into_iter()
        .filter_map(|action| Some((action, rates.get(action, per)?)))
        .map(|(action, rate)| (action, RateLimiter::keyed(quota(rate))))
        .collect()
}

/// Whole seconds to wait, at least one (what `Retry-After` says).
fn seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl Limits {
    pub fn new(rates: &Rates) -> Limits {
        Limits {
            enabled: rates.enabled,
            session: keyed(rates, Per::Session),
            address: keyed(rates, Per::Address),
            admin_blocked: Mutex::new(HashMap::new()),
        }
    }

    /// One more `action` by this session (if it has one) from this address; the session's own
    /// limit first, so a greedy session does not spend its neighbours' shared budget.
    pub fn check(
        &self,
        action: LimitedAction,
        address: IpAddr,
        session: Option<&str>,
        audience: Audience,
    ) -> Result<(), Refusal> {
        if !self.enabled {
            return Ok(());
        }
        let clock = DefaultClock::default();
        if let Some(session) = session
            && let Some(limiter) = self.session.get(&action)
            && let Err(not_until) = limiter.check_key(&session.to_string())
        {
            return Err(refuse(
                action.name(),
                "session",
                not_until.wait_time_from(clock.now()),
                audience,
            ));
        }
        if let Some(limiter) = self.address.get(&action)
            && let Err(not_until) = limiter.check_key(&address)
        {
            return Err(refuse(
                action.name(),
                "address",
                not_until.wait_time_from(clock.now()),
                audience,
            ));
        }
        Ok(())
    }

    /// Whether this address may try admin credentials now.
    pub fn admin_allowed(&self, address: IpAddr, audience: Audience) -> Result<(), Refusal> {
        if !self.enabled {
            return Ok(());
        }
        let blocked = self.blocked().get(&address).copied();
        match blocked {
            Some(until) if until > Instant::now() => Err(refuse(
                LimitedAction::AdminFailures.name(),
                "address",
                until - Instant::now(),
                audience,
            )),
            _ => Ok(()),
        }
    }

    /// Records wrong credentials; past the limit the address is blocked for a while (the
    /// answer to this attempt says how long).
    pub fn admin_failed(&self, address: IpAddr, audience: Audience) -> Result<(), Refusal> {
        if !self.enabled {
            return Ok(());
        }
        let Some(failures) = self.address.get(&LimitedAction::AdminFailures) else {
            return Ok(());
        };
        match failures.check_key(&address) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                self.blocked().insert(address, Instant::now() + wait);
                tracing::warn!(%address, "admin credentials guessed too often: address blocked");
                Err(refuse(
                    LimitedAction::AdminFailures.name(),
                    "address",
                    wait,
                    audience,
                ))
            }
        }
    }

    fn blocked(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Instant>> {
        self.admin_blocked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets idle keys so a crowd of one-request bots does not grow the maps for good.
    fn forget_idle(&self) {
        for limiter in self.session.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        for limiter in self.address.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = Instant::now();
        self.blocked().retain(|_, until| *until > now);
    }

    pub fn spawn_forgetting(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let limits = Arc::clone(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(FORGET_EVERY);
            loop {
                every.tick().await;
                limits.forget_idle();
            }
        })
    }
}

fn refuse(limit: &'static str, key: &'static str, wait: Duration, audience: Audience) -> Refusal {
    metrics::counter!("sneakers_rate_limited_total", "limit" => limit, "key" => key).increment(1);
    Refused::RateLimited {
        retry_after: seconds(wait),
    }
    .to(audience)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_session_over_its_rate_is_refused_with_a_wait() {
        let limits = Limits::new(&rates("2/min"));
        let here = IpAddr::from([192, 0, 2, 1]);
        let check =
            |session| limits.check(LimitedAction::Cart, here, Some(session), Audience::Page);
        assert!(check("a").is_ok() && check("a").is_ok());
        assert_eq!(
            check("a").err().map(|r| r.kind),
            Some(Refused::RateLimited { retry_after: 30 })
        );
        // Another session on the same address still has its own budget, up to the address's
        // (5: the refused third try of "a" did not spend any of it).
        assert!(check("b").is_ok() && check("b").is_ok() && check("c").is_ok());
        assert!(matches!(
            check("d").err().map(|r| r.kind),
            Some(Refused::RateLimited { .. })
        ));
        // Other actions and addresses are untouched.
        assert!(
            limits
                .check(LimitedAction::Checkout, here, Some("a"), Audience::Page)
                .is_ok()
        );
        assert!(
            limits
                .check(
                    LimitedAction::Cart,
                    IpAddr::from([192, 0, 2, 2]),
                    Some("d"),
                    Audience::Page
                )
                .is_ok()
        );
    }

    #[test]
    fn admin_guessers_are_blocked_even_with_the_right_password() {
        let limits = Limits::new(&rates("2/min"));
        let guesser = IpAddr::from([192, 0, 2, 9]);
        assert!(limits.admin_allowed(guesser, Audience::Api).is_ok());
        assert!(limits.admin_failed(guesser, Audience::Api).is_ok());
        assert!(limits.admin_failed(guesser, Audience::Api).is_ok());
        assert!(limits.admin_failed(guesser, Audience::Api).is_err());
        assert!(limits.admin_allowed(guesser, Audience::Api).is_err());
        assert!(
            limits
                .admin_allowed(IpAddr::from([192, 0, 2, 10]), Audience::Api)
                .is_ok()
        );
    }

    #[test]
    fn off_means_off() {
        let mut off = rates("1/h");
        off.enabled = false;
        let limits = Limits::new(&off);
        let here = IpAddr::from([127, 0, 0, 1]);
        for _ in 0..100 {
            assert!(
                limits
                    .check(LimitedAction::Cart, here, Some("a"), Audience::Page)
                    .is_ok()
            );
            assert!(limits.admin_failed(here, Audience::Api).is_ok());
        }
        assert_eq!(seconds(Duration::from_millis(1)), 1);
        assert_eq!(seconds(Duration::ZERO), 1);
        assert_eq!(seconds(Duration::from_secs(30)), 30);
    }
}
