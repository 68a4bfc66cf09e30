//! `REDIS_URL`: the cluster's bus on Redis instead of PostgreSQL's NOTIFY. `redis://` is plain
//! TCP; `rediss://` is TLS whose certificate is not verified (as `sslmode=require`): Heroku's
//! Key-Value Store, like other platforms' Redis, presents a self-signed one.

use super::ConfigError;

#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// What the Redis client opens (for `rediss://`, with its `#insecure` mark).
    pub url: String,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTarget")
            .field("url", &self.redacted())
            .finish()
    }
}

impl RedisTarget {
    pub fn parse(raw: &str) -> Result<RedisTarget, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            var: "REDIS_URL".into(),
            reason,
        };
        let raw = raw.trim();
        let url = if raw.starts_with("rediss://") {
            match raw.split_once('#') {
                None => format!("{raw}#insecure"),
                Some((_, "insecure")) => raw.to_string(),
                Some((_, other)) => {
                    return Err(invalid(format!("unknown fragment #{other}")));
                }
            }
        } else if raw.starts_with("redis://") {
            raw.to_string()
        } else {
            return Err(invalid(format!(
                "expected redis://… or rediss://…, got {:?}",
                redact(raw)
            )));
        };
        ::redis::IntoConnectionInfo::into_connection_info(url.as_str())
            .map_err(|e| invalid(format!("not a Redis URL ({e})")))?;
        Ok(RedisTarget { url })
    }

    /// For logs and errors: never shows a password.
    pub fn redacted(&self) -> String {
        redact(&self.url)
    }
}

fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_urls_parse_and_hide_their_password() {
        let plain = RedisTarget::parse("redis://127.0.0.1:6379/2").map(|t| t.url);
        assert_eq!(plain.ok().as_deref(), Some("redis://127.0.0.1:6379/2"));
        let heroku = RedisTarget::parse("rediss://:p4ss@ec2-1-2-3-4.compute.example:25070");
        let heroku = heroku.ok();
        assert_eq!(
            heroku.as_ref().map(|t| t.url.as_str()),
            Some("rediss://:p4ss@ec2-1-2-3-4.compute.example:25070#insecure")
        );
        assert!(heroku.is_some_and(|t| !t.redacted().contains("p4ss")));
        for bad in ["http://x", "redis://", "rediss://h:1#verify"] {
            let err = RedisTarget::parse(bad).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.starts_with("REDIS_URL")),
                "{bad}: {err:?}"
            );
        }
    }
}
