//! What a client may do and how long the store waits for it: connection hygiene (timeouts, a
//! cap on connections per address, which proxies are believed) and rate limits. The value
//! types parse from the environment; the defaults are the constants below, shared by clap and
//! by [`Connections::default`]/[`Rates::default`] so they are written once.
//!
//! The defaults are meant for a drop where many real shoppers share one address (a campus or
//! office NAT, a mobile carrier's CGNAT): per-session limits are tight (a person clicks a few
//! times a second at most), per-address limits are about twenty such people at full speed, so
//! one address can neither lock out its neighbours nor flood the store.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;

pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_BODY_TIMEOUT_MS: u64 = 10_000;
/// Browsers open up to six connections per host, plus a socket per tab.
pub const DEFAULT_CONNECTIONS_PER_ADDRESS: u32 = 500;
pub const DEFAULT_CACHE_CHECK_MS: u64 = 5_000;
/// An IPv6 subscriber gets a /64 (RFC 6177) and can pick any address in it at will.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

/// `N/unit` or `N/Munit` (`30/min`, `120/10s`, `1000/h`): at most N at once, and N more each
/// period. Governor's terms: a burst of N, one cell back every period / N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub per: Duration,
}

impl Rate {
    /// The built-in defaults above, which parse.
    pub fn default_of(text: &str) -> Rate {
        text.parse()
            .expect("the built-in rate defaults are written in the accepted form")
    }

    /// The time for one of the N to come back.
    pub fn replenish_one(&self) -> Duration {
        self.per / self.count.get()
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Rate, String> {
        let bad = || format!("{text:?} is not a rate like 30/min, 120/10s or 1000/h");
        let (count, period) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let count = NonZeroU32::new(count)
            .filter(|c| c.get() <= 1_000_000)
            .ok_or_else(|| format!("{text:?}: the count must be 1 to 1000000"))?;
        let period = period.trim();
        let digits = period.bytes().take_while(u8::is_ascii_digit).count();
        let (times, unit) = period.split_at(digits);
        let times: u64 = if times.is_empty() {
            1
        } else {
            times.parse().map_err(|_| bad())?
        };
        let unit = match unit {
            "s" | "sec" => Duration::from_secs(1),
            "m" | "min" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        if !(1..=24 * 3600).contains(&times) {
            return Err(format!("{text:?}: the period must be 1 s to 24 h"));
        }
        let per = unit * times as u32;
        if per > Duration::from_secs(24 * 3600) {
            return Err(format!("{text:?}: the period must be 1 s to 24 h"));
        }
        Ok(Rate { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.count, self.per.as_secs())
    }
}

/// `RATE_LIMIT`: `on` (default) or `off` (load tests from loopback, where every client shares
/// 127.0.0.1).
pub fn parse_switch(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err(format!("{text:?}: use on or off")),
    }
}

/// `TRUSTED_PROXIES`: addresses or networks (`10.0.0.0/8, 127.0.0.1`) whose `X-Forwarded-For`
/// names the client. Default none: the TCP peer is the client. Behind a platform's router
/// ([`TrustedProxies::platform_router`]) every peer is the router.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    platform_router: bool,
}

impl TrustedProxies {
    /// A Heroku-style router (`DYNO` set, no `TRUSTED_PROXIES`): its addresses are not known
    /// in advance and nothing but the router can reach the app, so every peer is the router,
    /// and the one hop it appends to `X-Forwarded-For` (the address it was reached from) is
    /// the client. Hops before it are the client's own say-so.
    pub fn platform_router() -> TrustedProxies {
        TrustedProxies {
            nets: Vec::new(),
            platform_router: true,
        }
    }

    pub fn is_platform_router(&self) -> bool {
        self.platform_router
    }

    /// Whether `address` is a proxy whose `X-Forwarded-For` is believed.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.platform_router || self.nets.iter().any(|net| net.contains(&address))
    }

    /// No proxy is believed: the peer is the client.
    pub fn is_empty(&self) -> bool {
        !self.platform_router && self.nets.is_empty()
    }
}

/// An IPv4 client reached over an IPv6 socket is still that IPv4 address.
pub fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// What per-address limits count: an IPv4 client's address, an IPv6 client's network (its
/// first `ipv6_prefix` bits), since one IPv6 subscriber holds a whole /64 or more.
pub fn client_network(address: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match canonical(address) {
        IpAddr::V6(v6) => {
            let bits = u32::from(ipv6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
        v4 => v4,
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(text: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let net = match part.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => part.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    format!("{part:?} is not an address or a network like 10.0.0.0/8")
                })?,
            };
            nets.push(net);
        }
        Ok(TrustedProxies {
            nets,
            platform_router: false,
        })
    }
}

/// How the HTTP server treats connections.
#[derive(Clone, Debug)]
pub struct Connections {
    /// A request head not complete this long after the connection became ready for it (also
    /// an idle keep-alive connection) is closed.
    pub header_read_timeout: Duration,
    /// A request body not complete this long after its handler starts reading is refused.
    pub body_timeout: Duration,
    /// Open connections from one address; `None` when `RATE_LIMIT=off`.
    pub per_address: Option<u32>,
    pub trusted_proxies: TrustedProxies,
    /// IPv6 clients are counted per network of this many leading bits, for the connection cap
    /// and every per-address rate limit (see [`client_network`]).
    pub ipv6_prefix: u8,
}

impl Default for Connections {
    fn default() -> Connections {
        Connections {
            header_read_timeout: Duration::from_millis(DEFAULT_HEADER_READ_TIMEOUT_MS),
            body_timeout: Duration::from_millis(DEFAULT_BODY_TIMEOUT_MS),
            per_address: Some(DEFAULT_CONNECTIONS_PER_ADDRESS),
            trusted_proxies: TrustedProxies::default(),
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
        }
    }
}

/// Every rate-limited action. Its budgets (what each is counted per), their variables and their
/// defaults are written here and nowhere else: adding an action is a variant and its row in
/// [`LimitedAction::budgets`]; the config, the limiters and the README check follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LimitedAction {
    /// `POST /cart/items` and removals.
    Cart,
    /// `POST /checkout`.
    Checkout,
    /// `GET /session/token`.
    Token,
    /// Socket connects (shopper: session = the token's cart; admin: per address only).
    Connect,
    /// Shopper logins: per address, and per mailbox tried (the "session" key is the email's
    /// canonical form) or, from a browser holding a device cookie for that mailbox, per device
    /// instead (`domain::device`): a stranger's guesses do not lock the owner's browser out.
    Login,
    /// Joining a waiting line: per account (the "session" key is the account's cart id) and
    /// per address (one address cannot take a crowd's places).
    Line,
    /// Signups: per address (fake accounts come from few addresses), and per mailbox tried
    /// (the "session" key is the canonical email; each signup mails it).
    Signup,
    /// Wrong admin credentials, per address.
    AdminFailures,
    /// Events one socket may send.
    SocketEvents,
    /// Card submissions (each may reach the payment provider).
    Payment,
    /// Draw entries and withdrawals: per account (the "session" key is the account's cart
    /// id) and per address (one address cannot enter a crowd of accounts in a draw).
    Entry,
    /// Deliveries to the payment provider's webhook, per address (a flood is refused before
    /// any signature is checked).
    Webhook,
}

/// What one budget is counted per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Per {
    /// The shopper's session (its cart id), or what stands for it (the email a login tries).
    Session,
    /// The client's address.
    Address,
    /// A browser that signed in before, by its device cookie's nonce (`domain::device`).
    Device,
    /// One socket.
    Socket,
}

/// One budget of an action: what it is counted per, the end of its variable's name (empty:
/// the action's name alone), its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub per: Per,
    suffix: &'static str,
    default: &'static str,
}

impl LimitedAction {
    pub const ALL: [LimitedAction; 12] = [
        LimitedAction::Cart,
        LimitedAction::Checkout,
        LimitedAction::Token,
        LimitedAction::Connect,
        LimitedAction::Login,
        LimitedAction::Line,
        LimitedAction::Signup,
        LimitedAction::AdminFailures,
        LimitedAction::SocketEvents,
        LimitedAction::Payment,
        LimitedAction::Entry,
        LimitedAction::Webhook,
    ];

    /// The metrics label (`sneakers_rate_limited_total{limit}`) and the middle of the
    /// variables' names.
    pub fn name(self) -> &'static str {
        match self {
            LimitedAction::Cart => "cart",
            LimitedAction::Checkout => "checkout",
            LimitedAction::Token => "token",
            LimitedAction::Connect => "connect",
            LimitedAction::Login => "login",
            LimitedAction::Line => "line",
            LimitedAction::Signup => "signup",
            LimitedAction::AdminFailures => "admin_failures",
            LimitedAction::SocketEvents => "socket_events",
            LimitedAction::Payment => "payment",
            LimitedAction::Entry => "entry",
            LimitedAction::Webhook => "webhook",
        }
    }

    /// The defaults are meant for a drop where many real shoppers share one address (see the
    /// module's notes): tight per session, about twenty people at full speed per address.
    pub fn budgets(self) -> &'static [Budget] {
        use Per::{Address, Device, Session, Socket};
        match self {
            LimitedAction::Cart => &[
                Budget {
                    per: Session,
                    suffix: "SESSION",
                    default: "30/min",
                },
                Budget {
                    per: Address,
                    suffix: "ADDRESS",
                    default: "600/min",
                },
            ],
            LimitedAction::Checkout => &[
                Budget {
                    per: Session,
                    suffix: "SESSION",
                    default: "10/min",
                },
                Budget {
                    per: Address,
                    suffix: "ADDRESS",
                    default: "300/min",
                },
            ],
            LimitedAction::Token => &[
                Budget {
                    per: Session,
                    suffix: "SESSION",
                    default: "20/min",
                },
                Budget {
                    per: Address,
                    suffix: "ADDRESS",
                    default: "600/min",
                },
            ],
            // A deploy makes every tab reconnect within a few seconds: the burst is that crowd.
            LimitedAction::Connect => &[
                Budget {
                    per: Session,
                    suffix: "SESSION",
                    default: "30/min",
                },
                Budget {
                    per: Address,
                    suffix: "ADDRESS",
                    default: "1200/min",
                },
            ],
            // Per mailbox tried, from a browser that holds no device cookie of it (anyone's
            // guesses share it); per device cookie (one browser's own, the owner's usually);
            // per address, whoever is tried.
            LimitedAction::Login => &[
                Budget {
                    per: Session,
                    suffix: "ACCOUNT",
                    default: "10/min",
                },
                Budget {
                    per: Device,
                    suffix: "DEVICE",
                    default: "10/min",
                },
                Budget {
                    per: Address,
                    suffix: "ADDRESS",
                    default: "60/min",
                },
            ],
            // A shopper joins a few lines before a drop; a campus NAT holds a few dozen.
            LimitedAction::Line => &[
                Budget {
                    per: Session,
                    suffix: "ACCOUNT",
                    default: "10/min",
                },
                Budget {
                    per: Address,
                    suffix: "ADDRESS",
                    default: "60/min",
                },
            ],
            // A person signs up once; a campus NAT holds a few dozen people signing up for one
            // drop in an hour. A mailbox gets a few mails an hour at most, whoever asks.
            LimitedAction::Signup => &[
                Budget {
                    per: Session,
                    suffix: "EMAIL",
                    default: "3/h",
                },
                Budget {
                    per: Address,
                    suffix: "ADDRESS",
                    default: "30/h",
                },
            ],
            LimitedAction::AdminFailures => &[Budget {
                per: Address,
                suffix: "",
                default: "10/min",
            }],
            // A page joins its cart and up to a hundred product topics at once: the burst
            // covers that.
            LimitedAction::SocketEvents => &[Budget {
                per: Socket,
                suffix: "",
                default: "120/10s",
            }],
            // A person retries a declined card a few times; card testing bots try hundreds.
            LimitedAction::Payment => &[
                Budget {
                    per: Session,
                    suffix: "SESSION",
                    default: "10/min",
                },
                Budget {
                    per: Address,
                    suffix: "ADDRESS",
                    default: "300/min",
                },
            ],
            // A person enters a draw once, and withdraws and enters again a few times at most;
            // a campus NAT holds a few dozen entrants in a minute.
            LimitedAction::Entry => &[
                Budget {
                    per: Session,
                    suffix: "ACCOUNT",
                    default: "5/min",
                },
                Budget {
                    per: Address,
                    suffix: "ADDRESS",
                    default: "60/min",
                },
            ],
            // Stripe delivers from a few addresses, in bursts after an outage.
            LimitedAction::Webhook => &[Budget {
                per: Address,
                suffix: "",
                default: "600/min",
            }],
        }
    }

    /// `RATE_LIMIT_<ACTION>[_<KEY>]`.
    pub fn env_key(self, budget: &Budget) -> String {
        let action = self.name().to_ascii_uppercase();
        if budget.suffix.is_empty() {
            format!("RATE_LIMIT_{action}")
        } else {
            format!("RATE_LIMIT_{action}_{}", budget.suffix)
        }
    }
}

/// Rate limits; `enabled: false` is `RATE_LIMIT=off`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rates {
    pub enabled: bool,
    rates: BTreeMap<(LimitedAction, Per), Rate>,
}

impl Rates {
    /// Each budget from its variable (through `lookup`), else its default. `Err` is the
    /// variable and why its value is refused.
    pub fn from_lookup(
        enabled: bool,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Rates, (String, String)> {
        let mut rates = BTreeMap::new();
        for action in LimitedAction::ALL {
            for budget in action.budgets() {
                let key = action.env_key(budget);
                let rate = match lookup(&key) {
                    Some(text) => text.parse().map_err(|reason| (key, reason))?,
                    None => Rate::default_of(budget.default),
                };
                rates.insert((action, budget.per), rate);
            }
        }
        Ok(Rates { enabled, rates })
    }

    /// The budget of `action` per `per`, if the action has one.
    pub fn get(&self, action: LimitedAction, per: Per) -> Option<Rate> {
        self.rates.get(&(action, per)).copied()
    }

    /// Changes one budget (tests tune one limit at a time).
    pub fn set(&mut self, action: LimitedAction, per: Per, rate: Rate) {
        self.rates.insert((action, per), rate);
    }

    /// These rates with one budget changed.
    pub fn with(mut self, action: LimitedAction, per: Per, rate: Rate) -> Rates {
        self.set(action, per, rate);
        self
    }
}

impl Default for Rates {
    fn default() -> Rates {
        Rates::from_lookup(true, |_| None).expect("the built-in defaults are valid rates")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_in_their_one_form() {
        let rate = |t: &str| t.parse::<Rate>();
        assert_eq!(
            rate("30/min").map(|r| (r.count.get(), r.per)),
            Ok((30, Duration::from_secs(60)))
        );
        assert_eq!(
            rate("120/10s").map(|r| (r.count.get(), r.per, r.replenish_one())),
            Ok((
                120,
                Duration::from_secs(10),
                Duration::from_millis(83) + Duration::from_nanos(333_333)
            ))
        );
        assert_eq!(
            rate(" 5 / h ").map(|r| r.per),
            Ok(Duration::from_secs(3600))
        );
        for bad in [
            "",
            "30",
            "0/min",
            "-1/s",
            "30/fortnight",
            "30/0s",
            "30/25h",
            "2000000/s",
            "x/s",
        ] {
            assert!(rate(bad).is_err(), "{bad:?}");
        }
        // Every default is a valid rate, and every budget has one.
        let rates = Rates::default();
        for action in LimitedAction::ALL {
            for budget in action.budgets() {
                assert!(rates.get(action, budget.per).is_some(), "{action:?}");
            }
        }
    }

    #[test]
    fn every_rate_variable_is_in_the_readme() {
        let readme = include_str!("../../README.md");
        for action in LimitedAction::ALL {
            for budget in action.budgets() {
                let key = action.env_key(budget);
                let short = key.trim_start_matches("RATE_LIMIT_");
                assert!(
                    readme.contains(&key) || readme.contains(&format!("`{short}`")),
                    "README.md does not document {key}"
                );
            }
        }
    }

    #[test]
    fn trusted_proxies_are_addresses_and_networks() {
        let proxies: TrustedProxies = "10.0.0.0/8, 127.0.0.1 ,::1".parse().unwrap_or_default();
        assert!(proxies.contains("10.1.2.3".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        assert!(
            proxies.contains(
                "::ffff:127.0.0.1"
                    .parse()
                    .unwrap_or(IpAddr::from([0, 0, 0, 0]))
            )
        );
        assert!(!proxies.contains("11.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        assert!("".parse::<TrustedProxies>().is_ok_and(|p| p.is_empty()));
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("router.example".parse::<TrustedProxies>().is_err());
        assert_eq!(parse_switch("OFF"), Ok(false));
        assert!(parse_switch("maybe").is_err());
    }

    #[test]
    fn ipv6_clients_are_counted_per_network() {
        let ip = |t: &str| t.parse::<IpAddr>().unwrap_or_else(|e| panic!("{t}: {e}"));
        let network = |t: &str, bits| client_network(ip(t), bits);
        assert_eq!(network("2001:db8:1:2:3:4:5:6", 64), ip("2001:db8:1:2::"));
        assert_eq!(network("2001:db8:1:2:3:4:5:6", 48), ip("2001:db8:1::"));
        assert_eq!(
            network("2001:db8:1:2:3:4:5:6", 128),
            ip("2001:db8:1:2:3:4:5:6")
        );
        assert_eq!(network("2001:db8::1", 0), ip("::"));
        // IPv4, plain or mapped, is its own address.
        assert_eq!(network("192.0.2.7", 64), ip("192.0.2.7"));
        assert_eq!(network("::ffff:192.0.2.7", 64), ip("192.0.2.7"));
    }
}
