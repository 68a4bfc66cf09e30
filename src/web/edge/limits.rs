//! Rate limits at the HTTP edge: the node's [`Limiter`] (shared with the live layer, so a cart
//! change costs the same over a form, a socket or LongPoll), its refusals turned into 429 with
//! `Retry-After` in the store's words ([`Refused::RateLimited`]).

use std::net::IpAddr;
use std::sync::Arc;

use super::error::{Audience, Refusal, Refused};
use crate::config::LimitedAction;
use crate::rate_limit::{Limited, Limiter};

pub struct Limits {
    limiter: Arc<Limiter>,
}

fn refusal(limited: Limited, audience: Audience) -> Refusal {
    Refused::RateLimited {
        retry_after: limited.retry_after_secs(),
    }
    .to(audience)
}

impl Limits {
    pub fn new(limiter: Arc<Limiter>) -> Limits {
        Limits { limiter }
    }

    /// One more `action` by this session (if it has one) from this address (see
    /// [`Limiter::check`]). Check the request's own validity (CSRF) first: a request refused
    /// for anything should spend no budget.
    pub fn check(
        &self,
        action: LimitedAction,
        address: IpAddr,
        session: Option<&str>,
        audience: Audience,
    ) -> Result<(), Refusal> {
        self.limiter
            .check(action, address, session)
            .map_err(|limited| refusal(limited, audience))
    }

    /// [`Limits::check`] answering the budget that ran out, for a route that says so in its
    /// own words (and answers 429 with `Retry-After` itself).
    pub fn spend(
        &self,
        action: LimitedAction,
        address: IpAddr,
        session: Option<&str>,
    ) -> Result<(), Limited> {
        self.limiter.check(action, address, session)
    }

    /// A request that is several actions at once, charged to all their budgets or to none
    /// (see [`Limiter::check_all`]).
    pub fn check_all(
        &self,
        actions: &[LimitedAction],
        address: IpAddr,
        session: Option<&str>,
        audience: Audience,
    ) -> Result<(), Refusal> {
        self.limiter
            .check_all(actions, address, session)
            .map_err(|limited| refusal(limited, audience))
    }

    /// One more login for `mailbox` from this address, by a browser whose device cookie for
    /// that mailbox has this nonce, if any (see [`Limiter::check_login`]).
    pub fn check_login(
        &self,
        address: IpAddr,
        mailbox: &str,
        device: Option<&str>,
        audience: Audience,
    ) -> Result<(), Refusal> {
        self.limiter
            .check_login(address, mailbox, device)
            .map_err(|limited| refusal(limited, audience))
    }

    /// Whether this address may try admin credentials now.
    pub fn admin_allowed(&self, address: IpAddr, audience: Audience) -> Result<(), Refusal> {
        self.limiter
            .admin_allowed(address)
            .map_err(|limited| refusal(limited, audience))
    }

    /// Records wrong credentials; past the limit the address is blocked for a while.
    pub fn admin_failed(&self, address: IpAddr, audience: Audience) -> Result<(), Refusal> {
        self.limiter
            .admin_failed(address)
            .map_err(|limited| refusal(limited, audience))
    }

    /// Brings `/metrics`' count of the limiter's keys up to now.
    pub fn record_keys(&self) {
        self.limiter.record_keys();
    }
}
