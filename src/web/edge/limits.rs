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
use crate::config::{PerClient, Rate, Rates};

/// Keys nobody used for this long are forgotten (their buckets are full again anyway).
const FORGET_EVERY: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Cart,
    Checkout,
    Token,
    Connect,
    /// Shopper logins and signups; the "session" key is the email tried.
    Login,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Cart => "cart",
            Action::Checkout => "checkout",
            Action::Token => "token",
            Action::Connect => "connect",
            Action::Login => "login",
        }
    }
}

pub fn quota(rate: Rate) -> Quota {
    Quota::with_period(rate.replenish_one())
        .expect("a rate's period is at least a second, so one cell's share is never zero")
        .allow_burst(rate.count)
}

struct PerKey {
    session: DefaultKeyedRateLimiter<String>,
    address: DefaultKeyedRateLimiter<IpAddr>,
}

impl PerKey {
    fn new(rates: PerClient) -> PerKey {
        PerKey {
            session: RateLimiter::keyed(quota(rates.session)),
            address: RateLimiter::keyed(quota(rates.address)),
        }
    }
}

pub struct Limits {
    enabled: bool,
    cart: PerKey,
    checkout: PerKey,
    token: PerKey,
    connect: PerKey,
    login: PerKey,
    admin_failures: DefaultKeyedRateLimiter<IpAddr>,
    /// Addresses refused admin access until then, whatever credentials they send: otherwise a
    /// blocked guesser would still learn which guess was right.
    admin_blocked: Mutex<HashMap<IpAddr, Instant>>,
}

/// Whole seconds to wait, at least one (what `Retry-After` says).
fn seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl Limits {
    pub fn new(rates: &Rates) -> Limits {
        Limits {
            enabled: rates.enabled,
            cart: PerKey::new(rates.cart),
            checkout: PerKey::new(rates.checkout),
            token: PerKey::new(rates.token),
            connect: PerKey::new(rates.connect),
            login: PerKey::new(rates.login),
            admin_failures: RateLimiter::keyed(quota(rates.admin_failures)),
            admin_blocked: Mutex::new(HashMap::new()),
        }
    }

    fn per_key(&self, action: Action) -> &PerKey {
        match action {
            Action::Cart => &self.cart,
            Action::Checkout => &self.checkout,
            Action::Token => &self.token,
            Action::Connect => &self.connect,
            Action::Login => &self.login,
        }
    }

    /// One more `action` by this session (if it has one) from this address; the session's own
    /// limit first, so a greedy session does not spend its neighbours' shared budget.
    pub fn check(
        &self,
        action: Action,
        address: IpAddr,
        session: Option<&str>,
        audience: Audience,
    ) -> Result<(), Refusal> {
        if !self.enabled {
            return Ok(());
        }
        let limits = self.per_key(action);
        let clock = DefaultClock::default();
        if let Some(session) = session
            && let Err(not_until) = limits.session.check_key(&session.to_string())
        {
            return Err(refuse(
                action.name(),
                "session",
                not_until.wait_time_from(clock.now()),
                audience,
            ));
        }
        if let Err(not_until) = limits.address.check_key(&address) {
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
                "admin_failures",
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
        match self.admin_failures.check_key(&address) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                self.blocked().insert(address, Instant::now() + wait);
                tracing::warn!(%address, "admin credentials guessed too often: address blocked");
                Err(refuse("admin_failures", "address", wait, audience))
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
        for limits in [&self.cart, &self.checkout, &self.token, &self.connect] {
            limits.session.retain_recent();
            limits.session.shrink_to_fit();
            limits.address.retain_recent();
            limits.address.shrink_to_fit();
        }
        self.admin_failures.retain_recent();
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
        Rates {
            cart: PerClient {
                session: rate,
                address: Rate::default_of("5/min"),
            },
            admin_failures: Rate::default_of("2/min"),
            ..Rates::default()
        }
    }

    #[test]
    fn a_session_over_its_rate_is_refused_with_a_wait() {
        let limits = Limits::new(&rates("2/min"));
        let here = IpAddr::from([192, 0, 2, 1]);
        let check = |session| limits.check(Action::Cart, here, Some(session), Audience::Page);
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
                .check(Action::Checkout, here, Some("a"), Audience::Page)
                .is_ok()
        );
        assert!(
            limits
                .check(
                    Action::Cart,
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
        let limits = Limits::new(&Rates {
            enabled: false,
            ..rates("1/h")
        });
        let here = IpAddr::from([127, 0, 0, 1]);
        for _ in 0..100 {
            assert!(
                limits
                    .check(Action::Cart, here, Some("a"), Audience::Page)
                    .is_ok()
            );
            assert!(limits.admin_failed(here, Audience::Api).is_ok());
        }
        assert_eq!(seconds(Duration::from_millis(1)), 1);
        assert_eq!(seconds(Duration::ZERO), 1);
        assert_eq!(seconds(Duration::from_secs(30)), 30);
    }
}
