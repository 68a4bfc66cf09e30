//! Environment -> typed `Config`, Heroku style. Each bad variable is one clear error naming it.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::Rng;
use rand::distr::Alphanumeric;

pub const DEFAULT_PORT: u16 = 4000;
pub const DEFAULT_SQLITE_FILE: &str = "sneakers.db";
const MIN_SECRET_LEN: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{var} is required when DATABASE_URL is PostgreSQL ({hint})")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("cannot use the local secrets file {path}: {reason}")]
    LocalSecrets { path: String, reason: String },
}

#[derive(Clone, Debug)]
pub struct Config {
    pub host: IpAddr,
    pub port: u16,
    pub database: Database,
    pub secret_key_base: String,
    pub admin: AdminCredentials,
    pub node_name: String,
    /// A socket silent this long is closed.
    pub socket_idle_timeout: Duration,
    /// Another node silent this long has its shoppers dropped from presence.
    pub presence_down_after: Duration,
    /// On shutdown, sockets are closed at random moments within this window.
    pub shutdown_spread: Duration,
}

#[derive(Clone, Debug)]
pub struct AdminCredentials {
    pub username: String,
    pub password: String,
    /// Generated and kept beside the SQLite file: worth printing at start.
    pub generated: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    Sqlite { path: PathBuf },
    Postgres(PgTarget),
}

impl Database {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Database::Postgres(_))
    }

    /// For logs and errors: never shows a password.
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite { path } => format!("SQLite {}", path.display()),
            Database::Postgres(target) => format!("PostgreSQL {}", target.redacted()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    /// libpq's default: TLS when the server offers it.
    Prefer,
    /// Encrypted, certificate not verified (what Heroku's `sslmode=require` means).
    Require,
    /// Encrypted and the certificate verified against `sslrootcert` or the web PKI roots.
    VerifyFull,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgTarget {
    /// The URL without the TLS parameters, which we handle ourselves.
    pub url: String,
    pub ssl_mode: SslMode,
    pub root_cert: Option<PathBuf>,
}

impl PgTarget {
    pub fn parse(raw: &str) -> Result<PgTarget, String> {
        let (base, query) = raw.split_once('?').unwrap_or((raw, ""));
        let mut kept = Vec::new();
        let mut ssl_mode = SslMode::Prefer;
        let mut root_cert = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => {
                    ssl_mode = match value {
                        "disable" => SslMode::Disable,
                        "allow" | "prefer" => SslMode::Prefer,
                        "require" => SslMode::Require,
                        // verify-ca is checked as strictly as verify-full.
                        "verify-ca" | "verify-full" => SslMode::VerifyFull,
                        other => {
                            return Err(format!(
                                "sslmode={other} is not one of disable, prefer, require, verify-full"
                            ));
                        }
                    }
                }
                "sslrootcert" => root_cert = Some(PathBuf::from(value)),
                _ => kept.push(pair),
            }
        }
        let url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        url.parse::<tokio_postgres::Config>()
            .map_err(|e| format!("not a PostgreSQL URL ({e})"))?;
        Ok(PgTarget {
            url,
            ssl_mode,
            root_cert,
        })
    }

    pub fn redacted(&self) -> String {
        redact_password(&self.url)
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

impl Database {
    pub fn parse(raw: Option<&str>) -> Result<Database, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            var: "DATABASE_URL",
            reason,
        };
        let raw = match raw.map(str::trim) {
            None | Some("") => {
                return Ok(Database::Sqlite {
                    path: PathBuf::from(DEFAULT_SQLITE_FILE),
                });
            }
            Some(raw) => raw,
        };
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return PgTarget::parse(raw)
                .map(Database::Postgres)
                .map_err(invalid);
        }
        let path = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"));
        match path {
            Some(path) if !path.is_empty() => Ok(Database::Sqlite {
                path: PathBuf::from(path),
            }),
            _ => Err(invalid(format!(
                "expected postgres://…, postgresql://… or sqlite://<file>, got {:?}",
                redact_password(raw)
            ))),
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|key| std::env::var(key).ok())
    }

    /// `lookup` stands for the environment, so tests can pass their own.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let port = match get("PORT") {
            None => DEFAULT_PORT,
            Some(raw) => raw.trim().parse().map_err(|_| ConfigError::Invalid {
                var: "PORT",
                reason: format!("expected a port number 0-65535, got {raw:?}"),
            })?,
        };
        let host = match get("HOST") {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(raw) => raw.trim().parse().map_err(|_| ConfigError::Invalid {
                var: "HOST",
                reason: format!("expected an IP address such as 0.0.0.0, got {raw:?}"),
            })?,
        };
        let database = Database::parse(get("DATABASE_URL").as_deref())?;
        let millis = |var: &'static str, default: u64| match get(var) {
            None => Ok(Duration::from_millis(default)),
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
                _ => Err(ConfigError::Invalid {
                    var,
                    reason: format!("expected milliseconds > 0, got {raw:?}"),
                }),
            },
        };
        let socket_idle_timeout = millis("SOCKET_IDLE_TIMEOUT_MS", 60_000)?;
        let presence_down_after = millis("PRESENCE_DOWN_MS", 15_000)?;
        let shutdown_spread = millis("SHUTDOWN_SPREAD_MS", 3_000)?;

        let local = match &database {
            Database::Sqlite { path } => Some(LocalSecrets::load_or_create(path)?),
            Database::Postgres(_) => None,
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
                var: "SECRET_KEY_BASE",
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
        let node_name = get("NODE_NAME")
            .or_else(|| get("DYNO"))
            .unwrap_or_else(default_node_name);
        Ok(Config {
            host,
            port,
            database,
            secret_key_base,
            admin,
            node_name,
            socket_idle_timeout,
            presence_down_after,
            shutdown_spread,
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

pub fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// With SQLite and no secrets in the environment, the store makes its own once and keeps them
/// beside the database file, so sessions and the admin password survive restarts.
struct LocalSecrets {
    secret_key_base: String,
    admin_password: String,
}

impl LocalSecrets {
    fn path_for(db: &Path) -> PathBuf {
        let mut name = db.as_os_str().to_owned();
        name.push(".secrets");
        PathBuf::from(name)
    }

    fn load_or_create(db: &Path) -> Result<LocalSecrets, ConfigError> {
        let path = Self::path_for(db);
        let error = |reason: String| ConfigError::LocalSecrets {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let value = |key: &str| {
                    text.lines()
                        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
                        .map(|v| v.trim().to_string())
                        .filter(|v| !v.is_empty())
                };
                match (value("SECRET_KEY_BASE"), value("ADMIN_PASSWORD")) {
                    (Some(secret_key_base), Some(admin_password)) => Ok(LocalSecrets {
                        secret_key_base,
                        admin_password,
                    }),
                    _ => Err(error(
                        "it lacks SECRET_KEY_BASE or ADMIN_PASSWORD; delete it to make a new one"
                            .into(),
                    )),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secrets = LocalSecrets {
                    secret_key_base: random_token(64),
                    admin_password: random_token(20),
                };
                let text = format!(
                    "# Made by sneakers for the local SQLite store. Keep it private.\nSECRET_KEY_BASE={}\nADMIN_PASSWORD={}\n",
                    secrets.secret_key_base, secrets.admin_password
                );
                write_private(&path, &text).map_err(|e| error(e.to_string()))?;
                Ok(secrets)
            }
            Err(e) => Err(error(e.to_string())),
        }
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(move |k| vars.get(k).cloned())
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
    fn bad_values_name_their_variable() {
        let bad = [
            ("PORT", "eighty"),
            ("DATABASE_URL", "mysql://localhost/shop"),
            ("DATABASE_URL", "postgres://h/db?sslmode=sometimes"),
            ("SOCKET_IDLE_TIMEOUT_MS", "0"),
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

    #[test]
    fn sslmodes_parse() {
        let mode = |url: &str| PgTarget::parse(url).map(|t| t.ssl_mode);
        assert_eq!(mode("postgres://h/db"), Ok(SslMode::Prefer));
        assert_eq!(
            mode("postgres://h/db?sslmode=disable"),
            Ok(SslMode::Disable)
        );
        assert_eq!(
            mode("postgres://h/db?sslmode=verify-full&sslrootcert=/ca.pem"),
            Ok(SslMode::VerifyFull)
        );
        let target = PgTarget::parse("postgres://h/db?application_name=x&sslmode=require").ok();
        assert_eq!(
            target.map(|t| t.url),
            Some("postgres://h/db?application_name=x".into())
        );
    }
}
