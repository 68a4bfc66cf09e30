//! Environment -> typed `Config`, Heroku style. Each bad variable is one clear error naming it.
//! Simple variables are read by clap ([`Settings`], also flags of `sneakers serve`); the ones
//! that depend on each other (the database, its secrets, the admin login) are read here, and
//! their parts live in `database.rs` and `secrets.rs`.

pub mod database;
pub mod limits;
pub mod mail;
pub mod redis;
pub mod secrets;

use std::net::IpAddr;
use std::time::Duration;

use clap::Parser;

pub use self::redis::RedisTarget;
pub use database::{DEFAULT_PG_POOL_SIZE, DEFAULT_SQLITE_FILE, Database, PgTarget, SslMode};
use limits::*;
pub use limits::{Connections, LimitedAction, Per, Rate, Rates, TrustedProxies};
pub use mail::{MailSettings, Smtp};
use secrets::LocalSecrets;

pub const DEFAULT_PORT: u16 = 4000;
const DAY_MS: u64 = 24 * 3600 * 1000;
/// A week unused: a shopper who comes back for next week's drop is still signed in.
pub const DEFAULT_SESSION_IDLE_MS: u64 = 7 * DAY_MS;
/// A month, then a fresh sign-in, however busy.
pub const DEFAULT_SESSION_MAX_AGE_MS: u64 = 30 * DAY_MS;
const MIN_SECRET_LEN: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{var} is required when DATABASE_URL is PostgreSQL ({hint})")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var} is invalid: {reason}")]
    Invalid { var: String, reason: String },
    #[error("cannot use the local secrets file {path}: {reason}")]
    LocalSecrets { path: String, reason: String },
}

/// The simple variables. Each field's name is its variable's, so clap's messages name it.
#[derive(clap::Args, Debug, Clone)]
pub struct Settings {
    /// HTTP port.
    #[arg(long = "port", env = "PORT", default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long = "host", env = "HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,
    /// This node's name [default: $DYNO, else hostname-pid].
    #[arg(long = "node-name", env = "NODE_NAME", value_name = "NODE_NAME")]
    pub node_name: Option<String>,
    /// Set by the platform (Heroku's dyno name).
    #[arg(long = "dyno", env = "DYNO", value_name = "DYNO", hide = true)]
    pub dyno: Option<String>,
    /// A socket silent this long is closed (1 s to 1 h).
    #[arg(long = "socket-idle-timeout-ms", env = "SOCKET_IDLE_TIMEOUT_MS",
          value_name = "SOCKET_IDLE_TIMEOUT_MS", default_value_t = 60_000,
          value_parser = clap::value_parser!(u64).range(1_000..=3_600_000))]
    pub socket_idle_timeout_ms: u64,
    /// A longpoll request waits this long for something to say before answering 204; a
    /// session not polled for 1.5 times this is dropped (100 ms to 2 min).
    #[arg(long = "longpoll-window-ms", env = "LONGPOLL_WINDOW_MS",
          value_name = "LONGPOLL_WINDOW_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=120_000))]
    pub longpoll_window_ms: u64,
    /// Another node silent this long has its shoppers dropped (0.5 s to 10 min).
    #[arg(long = "presence-down-ms", env = "PRESENCE_DOWN_MS", value_name = "PRESENCE_DOWN_MS",
          default_value_t = 15_000, value_parser = clap::value_parser!(u64).range(500..=600_000))]
    pub presence_down_ms: u64,
    /// On shutdown, sockets close at random moments within this window (1 ms to 2 min).
    #[arg(long = "shutdown-spread-ms", env = "SHUTDOWN_SPREAD_MS",
          value_name = "SHUTDOWN_SPREAD_MS", default_value_t = 3_000,
          value_parser = clap::value_parser!(u64).range(1..=120_000))]
    pub shutdown_spread_ms: u64,
    /// Each node compares its cache with the database this often and heals what differs
    /// (100 ms to 10 min).
    #[arg(long = "cache-check-ms", env = "CACHE_CHECK_MS", value_name = "CACHE_CHECK_MS",
          default_value_t = DEFAULT_CACHE_CHECK_MS,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub cache_check_ms: u64,
    /// An admitted shopper may cart a lined drop's pairs this long (10 s to 1 day).
    #[arg(long = "line-admission-ms", env = "LINE_ADMISSION_MS", value_name = "LINE_ADMISSION_MS",
          default_value_t = 600_000,
          value_parser = clap::value_parser!(u64).range(10_000..=86_400_000))]
    pub line_admission_ms: u64,
    /// A waiting shopper whose pages are all closed keeps the place this long once the line
    /// moves (10 s to 1 day).
    #[arg(long = "line-grace-ms", env = "LINE_GRACE_MS", value_name = "LINE_GRACE_MS",
          default_value_t = 120_000,
          value_parser = clap::value_parser!(u64).range(10_000..=86_400_000))]
    pub line_grace_ms: u64,
    /// A signed-in session unused this long is over (1 s to 90 days).
    #[arg(long = "session-idle-ms", env = "SESSION_IDLE_MS", value_name = "SESSION_IDLE_MS",
          default_value_t = DEFAULT_SESSION_IDLE_MS,
          value_parser = clap::value_parser!(u64).range(1_000..=90 * DAY_MS))]
    pub session_idle_ms: u64,
    /// A signed-in session is over this long after sign-in, however much it is used (1 s to
    /// 1 year).
    #[arg(long = "session-max-age-ms", env = "SESSION_MAX_AGE_MS", value_name = "SESSION_MAX_AGE_MS",
          default_value_t = DEFAULT_SESSION_MAX_AGE_MS,
          value_parser = clap::value_parser!(u64).range(1_000..=365 * DAY_MS))]
    pub session_max_age_ms: u64,
    /// A pair added to a cart is held for the shopper this long; starting checkout extends it
    /// once (1 s to 1 day).
    #[arg(long = "hold-ms", env = "HOLD_MS", value_name = "HOLD_MS", default_value_t = 600_000,
          value_parser = clap::value_parser!(u64).range(1_000..=86_400_000))]
    pub hold_ms: u64,
    /// A request head must arrive within this; also how long an idle keep-alive connection
    /// stays open (500 ms to 2 min).
    #[arg(long = "header-read-timeout-ms", env = "HEADER_READ_TIMEOUT_MS",
          value_name = "HEADER_READ_TIMEOUT_MS", default_value_t = DEFAULT_HEADER_READ_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(500..=120_000))]
    pub header_read_timeout_ms: u64,
    /// A request body must arrive within this once its handler reads it (500 ms to 2 min).
    #[arg(long = "body-timeout-ms", env = "BODY_TIMEOUT_MS", value_name = "BODY_TIMEOUT_MS",
          default_value_t = DEFAULT_BODY_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(500..=120_000))]
    pub body_timeout_ms: u64,
    /// Open connections one client address may hold (1 to 100000).
    #[arg(long = "max-connections-per-address", env = "MAX_CONNECTIONS_PER_ADDRESS",
          value_name = "MAX_CONNECTIONS_PER_ADDRESS", default_value_t = DEFAULT_CONNECTIONS_PER_ADDRESS,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_connections_per_address: u32,
    /// Connections each node's PostgreSQL pool opens at most (1 to 1000), besides the
    /// cluster's LISTEN connection on the NOTIFY bus.
    #[arg(long = "database-pool-size", env = "DATABASE_POOL_SIZE", value_name = "DATABASE_POOL_SIZE",
          default_value_t = DEFAULT_PG_POOL_SIZE as u32,
          value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub database_pool_size: u32,
    /// Proxies whose X-Forwarded-For names the client: addresses or networks, comma-separated
    /// [default: none; with DYNO set, the platform's router].
    #[arg(
        long = "trusted-proxies",
        env = "TRUSTED_PROXIES",
        value_name = "TRUSTED_PROXIES",
        default_value = "",
        hide_default_value = true
    )]
    pub trusted_proxies: TrustedProxies,
    /// IPv6 clients are counted per network of this prefix length (16 to 128) for the
    /// per-address limits and the connection cap.
    #[arg(long = "client-ipv6-prefix", env = "CLIENT_IPV6_PREFIX", value_name = "CLIENT_IPV6_PREFIX",
          default_value_t = DEFAULT_IPV6_PREFIX,
          value_parser = clap::value_parser!(u8).range(16..=128))]
    pub client_ipv6_prefix: u8,
    /// `off` turns every rate limit and the per-address connection cap off (load tests from
    /// loopback).
    #[arg(long = "rate-limit", env = "RATE_LIMIT", value_name = "RATE_LIMIT", default_value = "on",
          action = clap::ArgAction::Set,
          value_parser = parse_switch)]
    pub rate_limit: bool,
}

/// Reads [`Settings`] from the environment alone.
#[derive(Parser)]
struct FromEnv {
    #[command(flatten)]
    settings: Settings,
}

impl Settings {
    pub fn from_env() -> Result<Settings, ConfigError> {
        FromEnv::try_parse_from(["sneakers"])
            .map(|parsed| parsed.settings)
            .map_err(|error| settings_error(&error))
    }
}

/// A clap refusal of a setting as one line naming its variable (value names are the
/// variables' names).
pub fn settings_error(error: &clap::Error) -> ConfigError {
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let reason = first.strip_prefix("error: ").unwrap_or(first).to_string();
    let var = match error.get(clap::error::ContextKind::InvalidArg) {
        Some(clap::error::ContextValue::String(arg)) => arg
            .split_once('<')
            .and_then(|(_, rest)| rest.split_once('>'))
            .map_or_else(|| arg.clone(), |(name, _)| name.to_string()),
        _ => "a setting".to_string(),
    };
    ConfigError::Invalid { var, reason }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub host: IpAddr,
    pub port: u16,
    pub database: Database,
    /// The cluster's bus on Redis (`None`: NOTIFY on PostgreSQL, or none with SQLite).
    pub redis: Option<RedisTarget>,
    pub secret_key_base: String,
    pub admin: AdminCredentials,
    pub node_name: String,
    /// A socket silent this long is closed.
    pub socket_idle_timeout: Duration,
    /// A longpoll request waits this long for frames; 1.5 of it unpolled ends a session.
    pub longpoll_window: Duration,
    /// Another node silent this long has its shoppers dropped from presence.
    pub presence_down_after: Duration,
    /// On shutdown, sockets are closed at random moments within this window.
    pub shutdown_spread: Duration,
    /// How often the cache is compared with the database.
    pub cache_check: Duration,
    /// How long an admitted shopper may cart a lined drop's pairs.
    pub line_admission: Duration,
    /// How long a waiting shopper who left keeps the place.
    pub line_grace: Duration,
    /// A signed-in session unused this long is over.
    pub session_idle: Duration,
    /// A signed-in session is over this long after sign-in.
    pub session_max_age: Duration,
    /// How long a carted pair is held.
    pub hold: Duration,
    /// Stripe, when its keys are set; `None`: the built-in test gateway takes payments.
    pub stripe: Option<StripeSettings>,
    /// Where mail goes (`SMTP_URL`, `MAIL_FROM`, `PUBLIC_URL`).
    pub mail: MailSettings,
    pub connections: Connections,
    pub rates: Rates,
}

/// `STRIPE_SECRET_KEY`, `STRIPE_PUBLISHABLE_KEY`, `STRIPE_WEBHOOK_SECRET` (all three, or none)
/// and `STRIPE_API_BASE`.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeSettings {
    pub secret_key: String,
    pub publishable_key: String,
    pub webhook_secret: String,
    pub api_base: String,
}

impl std::fmt::Debug for StripeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeSettings")
            .field("publishable_key", &self.publishable_key)
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

const STRIPE_KEYS: [&str; 3] = [
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
];

impl StripeSettings {
    /// Stripe's variables: all three keys or none (the test gateway); one alone is a mistake
    /// worth stopping for, not a store that silently takes test payments.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<StripeSettings>, ConfigError> {
        let keys: Vec<Option<String>> = STRIPE_KEYS.iter().map(|k| get(k)).collect();
        if keys.iter().all(Option::is_none) {
            return Ok(None);
        }
        if let Some(missing) = STRIPE_KEYS.iter().zip(&keys).find(|(_, v)| v.is_none()) {
            return Err(ConfigError::Invalid {
                var: missing.0.to_string(),
                reason: "is required when any STRIPE_* key is set (set all three, or none for \
                         the built-in test gateway)"
                    .into(),
            });
        }
        let [secret, publishable, webhook] = [0, 1, 2].map(|i| keys[i].clone().unwrap_or_default());
        let checks = [
            (STRIPE_KEYS[0], &secret, ["sk_", "rk_"]),
            (STRIPE_KEYS[1], &publishable, ["pk_", "pk_"]),
            (STRIPE_KEYS[2], &webhook, ["whsec_", "whsec_"]),
        ];
        for (var, value, prefixes) in checks {
            if !prefixes.iter().any(|p| value.starts_with(p)) {
                return Err(ConfigError::Invalid {
                    var: var.to_string(),
                    reason: format!("must start with {}", prefixes[0]),
                });
            }
        }
        let api_base = get("STRIPE_API_BASE").unwrap_or_else(|| "https://api.stripe.com".into());
        if !(api_base.starts_with("https://") || api_base.starts_with("http://"))
            || api_base.contains(char::is_whitespace)
        {
            return Err(ConfigError::Invalid {
                var: "STRIPE_API_BASE".into(),
                reason: format!("{api_base:?} is not an http(s) address"),
            });
        }
        Ok(Some(StripeSettings {
            secret_key: secret,
            publishable_key: publishable,
            webhook_secret: webhook,
            api_base,
        }))
    }
}

#[derive(Clone, Debug)]
pub struct AdminCredentials {
    pub username: String,
    pub password: String,
    /// Generated and kept beside the SQLite file: worth printing at start.
    pub generated: bool,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::new(Settings::from_env()?, |key| std::env::var(key).ok())
    }

    /// `lookup` stands for the environment (the database URL and secrets), so tests can pass
    /// their own.
    pub fn new(
        settings: Settings,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let mut database = Database::parse(get("DATABASE_URL").as_deref())?;
        if let Database::Postgres(target) = &mut database {
            target.pool_size = settings.database_pool_size as usize;
        }
        let redis = get("REDIS_URL")
            .map(|raw| RedisTarget::parse(&raw))
            .transpose()?;
        if redis.is_some() && !database.is_postgres() {
            return Err(ConfigError::Invalid {
                var: "REDIS_URL".into(),
                reason: "the Redis bus joins nodes that share one PostgreSQL; with SQLite each \
                         node has its own store: set DATABASE_URL to PostgreSQL or unset REDIS_URL"
                    .into(),
            });
        }
        // Made (and written beside the database) only when the environment lacks a secret.
        let local = match &database {
            Database::Sqlite { path }
                if get("SECRET_KEY_BASE").is_none() || get("ADMIN_PASSWORD").is_none() =>
            {
                Some(LocalSecrets::load_or_create(path)?)
            }
            _ => None,
        };
        let secret_key_base = match (get("SECRET_KEY_BASE"), &local) {
            (Some(secret), _) => secret,
            (None, Some(local)) => local.secret_key_base.clone(),
            (None, None) => {
                return Err(ConfigError::Missing {
                    var: "SECRET_KEY_BASE",
                    hint: "64 or more random characters, e.g. `openssl rand -base64 48`",
                });
            }
        };
        if secret_key_base.len() < MIN_SECRET_LEN {
            return Err(ConfigError::Invalid {
                var: "SECRET_KEY_BASE".into(),
                reason: format!(
                    "must be at least {MIN_SECRET_LEN} characters, got {}",
                    secret_key_base.len()
                ),
            });
        }
        let admin = match (get("ADMIN_USERNAME"), get("ADMIN_PASSWORD"), &local) {
            (username, Some(password), _) => AdminCredentials {
                username: username.unwrap_or_else(|| "admin".into()),
                password,
                generated: false,
            },
            (Some(_), None, None) | (None, None, None) => {
                return Err(ConfigError::Missing {
                    var: if get("ADMIN_USERNAME").is_some() {
                        "ADMIN_PASSWORD"
                    } else {
                        "ADMIN_USERNAME and ADMIN_PASSWORD"
                    },
                    hint: "the admin dashboard and API use HTTP Basic auth",
                });
            }
            (username, None, Some(local)) => AdminCredentials {
                username: username.unwrap_or_else(|| "admin".into()),
                password: local.admin_password.clone(),
                generated: true,
            },
        };
        let rates = Rates::from_lookup(settings.rate_limit, get)
            .map_err(|(var, reason)| ConfigError::Invalid { var, reason })?;
        let stripe = StripeSettings::from_lookup(get)?;
        let mail = MailSettings::from_lookup(get)?;
        // On a Heroku-style platform only its router reaches the app, from addresses nobody
        // lists: without TRUSTED_PROXIES its appended X-Forwarded-For hop names the client.
        let trusted_proxies = if settings.dyno.is_some() && settings.trusted_proxies.is_empty() {
            TrustedProxies::platform_router()
        } else {
            settings.trusted_proxies
        };
        let node_name = settings
            .node_name
            .or(settings.dyno)
            .unwrap_or_else(default_node_name);
        Ok(Config {
            host: settings.host,
            port: settings.port,
            database,
            redis,
            secret_key_base,
            admin,
            node_name,
            socket_idle_timeout: Duration::from_millis(settings.socket_idle_timeout_ms),
            longpoll_window: Duration::from_millis(settings.longpoll_window_ms),
            presence_down_after: Duration::from_millis(settings.presence_down_ms),
            shutdown_spread: Duration::from_millis(settings.shutdown_spread_ms),
            cache_check: Duration::from_millis(settings.cache_check_ms),
            line_admission: Duration::from_millis(settings.line_admission_ms),
            line_grace: Duration::from_millis(settings.line_grace_ms),
            session_idle: Duration::from_millis(settings.session_idle_ms),
            session_max_age: Duration::from_millis(settings.session_max_age_ms),
            hold: Duration::from_millis(settings.hold_ms),
            stripe,
            mail,
            connections: Connections {
                header_read_timeout: Duration::from_millis(settings.header_read_timeout_ms),
                body_timeout: Duration::from_millis(settings.body_timeout_ms),
                per_address: settings
                    .rate_limit
                    .then_some(settings.max_connections_per_address),
                trusted_proxies,
                ipv6_prefix: settings.client_ipv6_prefix,
            },
            rates,
        })
    }
}

fn default_node_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "node".into());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The simple variables become flags (what clap reads from the environment the same
    /// way), the others the lookup.
    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut args = vec!["sneakers".to_string()];
        let mut rest: HashMap<String, String> = HashMap::new();
        for (k, v) in vars {
            match *k {
                "PORT"
                | "HOST"
                | "NODE_NAME"
                | "DYNO"
                | "SOCKET_IDLE_TIMEOUT_MS"
                | "PRESENCE_DOWN_MS"
                | "SHUTDOWN_SPREAD_MS"
                | "CACHE_CHECK_MS"
                | "SESSION_IDLE_MS"
                | "SESSION_MAX_AGE_MS"
                | "HEADER_READ_TIMEOUT_MS"
                | "BODY_TIMEOUT_MS"
                | "MAX_CONNECTIONS_PER_ADDRESS"
                | "TRUSTED_PROXIES"
                | "DATABASE_POOL_SIZE"
                | "CLIENT_IPV6_PREFIX"
                | "HOLD_MS"
                | "RATE_LIMIT" => {
                    args.push(format!("--{}={v}", k.to_lowercase().replace('_', "-")))
                }
                _ => {
                    rest.insert(k.to_string(), v.to_string());
                }
            }
        }
        let settings = FromEnv::try_parse_from(args)
            .map_err(|e| settings_error(&e))?
            .settings;
        Config::new(settings, move |k| rest.get(k).cloned())
    }

    const PG: &str = "postgres://u:secret@db.example.com:5432/shop?sslmode=require";
    const SECRET: &str = "0123456789012345678901234567890123456789012345678901234567890123";

    #[test]
    fn postgres_requires_secret_and_admin_credentials() {
        let err = config(&[("DATABASE_URL", PG)]).err();
        assert!(matches!(
            err,
            Some(ConfigError::Missing {
                var: "SECRET_KEY_BASE",
                ..
            })
        ));
        let err = config(&[("DATABASE_URL", PG), ("SECRET_KEY_BASE", SECRET)]).err();
        assert!(err.is_some_and(|e| {
            e.to_string()
                .starts_with("ADMIN_USERNAME and ADMIN_PASSWORD")
        }));
        let ok = config(&[
            ("DATABASE_URL", PG),
            ("SECRET_KEY_BASE", SECRET),
            ("ADMIN_USERNAME", "boss"),
            ("ADMIN_PASSWORD", "pw"),
            ("DYNO", "web.2"),
        ]);
        let ok = ok.ok();
        assert_eq!(ok.as_ref().map(|c| c.node_name.as_str()), Some("web.2"));
        assert_eq!(ok.as_ref().map(|c| c.port), Some(DEFAULT_PORT));
        match ok.map(|c| c.database) {
            Some(Database::Postgres(target)) => {
                assert_eq!(target.ssl_mode, SslMode::Require);
                assert_eq!(target.url, "postgres://u:secret@db.example.com:5432/shop");
                assert_eq!(
                    target.redacted(),
                    "postgres://u:***@db.example.com:5432/shop"
                );
            }
            other => panic!("expected PostgreSQL, got {other:?}"),
        }
    }

    #[test]
    fn the_postgres_pool_size_is_a_variable() {
        let base = [
            ("DATABASE_URL", PG),
            ("SECRET_KEY_BASE", SECRET),
            ("ADMIN_USERNAME", "boss"),
            ("ADMIN_PASSWORD", "pw"),
        ];
        let pool = |vars: &[(&str, &str)]| match config(vars).map(|c| c.database) {
            Ok(Database::Postgres(target)) => Some(target.pool_size),
            _ => None,
        };
        assert_eq!(pool(&base), Some(DEFAULT_PG_POOL_SIZE));
        let mut sized = base.to_vec();
        sized.push(("DATABASE_POOL_SIZE", "20"));
        assert_eq!(pool(&sized), Some(20));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let bad = [
            ("PORT", "eighty"),
            ("DATABASE_URL", "mysql://localhost/shop"),
            ("DATABASE_URL", "postgres://h/db?sslmode=sometimes"),
            ("SOCKET_IDLE_TIMEOUT_MS", "0"),
            ("SOCKET_IDLE_TIMEOUT_MS", "18446744073709551615"),
            ("SOCKET_IDLE_TIMEOUT_MS", "soon"),
            ("PRESENCE_DOWN_MS", "100"),
            ("SHUTDOWN_SPREAD_MS", "86400000"),
            ("HOST", "localhost:80"),
            ("CACHE_CHECK_MS", "0"),
            ("CACHE_CHECK_MS", "86400000"),
            ("SESSION_IDLE_MS", "999"),
            ("SESSION_MAX_AGE_MS", "soon"),
            ("HEADER_READ_TIMEOUT_MS", "99999999999"),
            ("BODY_TIMEOUT_MS", "10"),
            ("MAX_CONNECTIONS_PER_ADDRESS", "0"),
            ("TRUSTED_PROXIES", "10.0.0.0/99"),
            ("DATABASE_POOL_SIZE", "0"),
            ("DATABASE_POOL_SIZE", "many"),
            ("CLIENT_IPV6_PREFIX", "8"),
            ("CLIENT_IPV6_PREFIX", "129"),
            ("RATE_LIMIT", "sometimes"),
            ("REDIS_URL", "memcached://cache:11211"),
            // A Redis bus joins nodes of one PostgreSQL, never SQLite stores.
            ("REDIS_URL", "redis://127.0.0.1:6379/0"),
            ("RATE_LIMIT_CART_SESSION", "lots"),
            ("RATE_LIMIT_SOCKET_EVENTS", "0/s"),
            ("HOLD_MS", "10"),
        ];
        for (var, value) in bad {
            let err = config(&[
                (var, value),
                ("SECRET_KEY_BASE", SECRET),
                ("ADMIN_PASSWORD", "x"),
            ])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
            assert!(err.starts_with(var), "{var}={value}: {err}");
        }
        let err = config(&[("DATABASE_URL", PG), ("SECRET_KEY_BASE", "short")]).err();
        assert!(err.is_some_and(|e| e.to_string().starts_with("SECRET_KEY_BASE is invalid")));
    }

    #[test]
    fn limits_default_on_and_one_switch_turns_them_off() {
        let base = [("SECRET_KEY_BASE", SECRET), ("ADMIN_PASSWORD", "x")];
        let on = config(&base).ok();
        assert_eq!(on.as_ref().map(|c| c.rates.clone()), Some(Rates::default()));
        assert_eq!(
            on.as_ref().and_then(|c| c.connections.per_address),
            Connections::default().per_address
        );
        assert!(on.is_some_and(|c| c.connections.trusted_proxies.is_empty()));
        let off = config(&[base[0], base[1], ("RATE_LIMIT", "off")]).ok();
        assert!(off.is_some_and(|c| !c.rates.enabled && c.connections.per_address.is_none()));
        let tuned = config(&[
            base[0],
            base[1],
            ("RATE_LIMIT_CART_SESSION", "5/10s"),
            ("TRUSTED_PROXIES", "10.0.0.0/8"),
        ])
        .ok();
        assert_eq!(
            tuned
                .as_ref()
                .and_then(|c| c.rates.get(LimitedAction::Cart, Per::Session))
                .map(|r| r.to_string()),
            Some("5/10s".to_string())
        );
        assert!(tuned.is_some_and(|c| {
            c.connections
                .trusted_proxies
                .contains(IpAddr::from([10, 2, 3, 4]))
        }));
    }

    #[test]
    fn on_a_dyno_the_platform_router_names_the_client_unless_proxies_are_listed() {
        let base = [("SECRET_KEY_BASE", SECRET), ("ADMIN_PASSWORD", "x")];
        let dyno = config(&[base[0], base[1], ("DYNO", "web.1")]).ok();
        assert!(dyno.is_some_and(|c| c.connections.trusted_proxies.is_platform_router()));
        let listed = config(&[
            base[0],
            base[1],
            ("DYNO", "web.1"),
            ("TRUSTED_PROXIES", "10.0.0.0/8"),
        ])
        .ok();
        assert!(listed.is_some_and(|c| {
            let proxies = &c.connections.trusted_proxies;
            !proxies.is_platform_router() && !proxies.contains(IpAddr::from([11, 0, 0, 1]))
        }));
        let elsewhere = config(&base).ok();
        assert!(elsewhere.is_some_and(|c| !c.connections.trusted_proxies.is_platform_router()));
    }

    #[test]
    fn stripe_takes_all_three_keys_or_none() {
        let base = [("SECRET_KEY_BASE", SECRET), ("ADMIN_PASSWORD", "x")];
        assert!(config(&base).is_ok_and(|c| c.stripe.is_none() && c.hold.as_secs() == 600));
        let keys = [
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_PUBLISHABLE_KEY", "pk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
        ];
        let all = config(&[base[0], base[1], keys[0], keys[1], keys[2]]).ok();
        let stripe = all.and_then(|c| c.stripe);
        assert_eq!(
            stripe.as_ref().map(|s| s.api_base.as_str()),
            Some("https://api.stripe.com")
        );
        assert!(
            !format!("{stripe:?}").contains("sk_test_1"),
            "secrets stay out of logs"
        );
        let err = config(&[base[0], base[1], keys[0], keys[2]]).err();
        assert!(err.is_some_and(|e| e.to_string().starts_with("STRIPE_PUBLISHABLE_KEY")));
        let local = config(&[
            base[0],
            base[1],
            keys[0],
            keys[1],
            keys[2],
            ("STRIPE_API_BASE", "http://127.0.0.1:8420"),
        ])
        .ok();
        assert_eq!(
            local.and_then(|c| c.stripe).map(|s| s.api_base),
            Some("http://127.0.0.1:8420".to_string())
        );
        let err = config(&[
            base[0],
            base[1],
            keys[0],
            keys[1],
            keys[2],
            ("STRIPE_API_BASE", "localhost"),
        ])
        .err();
        assert!(err.is_some_and(|e| e.to_string().starts_with("STRIPE_API_BASE")));
    }

    #[test]
    fn sqlite_generates_and_keeps_local_secrets() {
        let dir = tempfile::tempdir().ok();
        let db = dir
            .as_ref()
            .map(|d| d.path().join("shop.db"))
            .unwrap_or_default();
        let url = format!("sqlite://{}", db.display());
        let first = config(&[("DATABASE_URL", &url)]).ok();
        let second = config(&[("DATABASE_URL", &url)]).ok();
        let first = first.map(|c| (c.secret_key_base, c.admin.password, c.admin.generated));
        let second = second.map(|c| (c.secret_key_base, c.admin.password, c.admin.generated));
        assert!(first.as_ref().is_some_and(|f| f.2 && f.0.len() >= 64));
        assert_eq!(first, second);
    }
}
