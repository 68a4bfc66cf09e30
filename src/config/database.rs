//! `DATABASE_URL`: an embedded SQLite file or a PostgreSQL server, with the TLS parameters
//! (`sslmode`, `sslrootcert`) read here because the store makes its TLS connections itself.

use std::path::PathBuf;

use super::ConfigError;

pub const DEFAULT_SQLITE_FILE: &str = "sneakers.db";

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

/// Connections a node's PostgreSQL pool opens at most (`DATABASE_POOL_SIZE`), besides the
/// cluster's `LISTEN` connection.
pub const DEFAULT_PG_POOL_SIZE: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgTarget {
    /// The URL without the TLS parameters, which we handle ourselves.
    pub url: String,
    pub ssl_mode: SslMode,
    pub root_cert: Option<PathBuf>,
    pub pool_size: usize,
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
            pool_size: DEFAULT_PG_POOL_SIZE,
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
            var: "DATABASE_URL".into(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
