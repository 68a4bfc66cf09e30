//! With SQLite and no secrets in the environment, the store makes its own once and keeps them
//! beside the database file (`<db>.secrets`, mode 600), so sessions and the admin password
//! survive restarts.

use std::path::{Path, PathBuf};

use rand::Rng;
use rand::distr::Alphanumeric;

use super::ConfigError;

pub fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// With SQLite and no secrets in the environment, the store makes its own once and keeps them
/// beside the database file, so sessions and the admin password survive restarts.
pub struct LocalSecrets {
    pub secret_key_base: String,
    pub admin_password: String,
}

impl LocalSecrets {
    fn path_for(db: &Path) -> PathBuf {
        let mut name = db.as_os_str().to_owned();
        name.push(".secrets");
        PathBuf::from(name)
    }

    pub fn load_or_create(db: &Path) -> Result<LocalSecrets, ConfigError> {
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
                if write_private(&path, &text).map_err(|e| error(e.to_string()))? {
                    Ok(secrets)
                } else {
                    // Another process made them first: theirs are the store's.
                    Self::load_or_create(db)
                }
            }
            Err(e) => Err(error(e.to_string())),
        }
    }
}

/// Writes the whole file under a temporary name, then links it into place: two stores starting
/// at once (or tests in parallel) never read a half-written file, and the second keeps the
/// first's secrets instead of failing.
fn write_private(path: &Path, text: &str) -> std::io::Result<bool> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.{}.tmp", std::process::id(), random_token(8)));
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_starting_at_once_share_one_set_of_secrets() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = dir.path().join("shop.db");
        let made: Vec<_> = std::thread::scope(|s| {
            let starts: Vec<_> = (0..8)
                .map(|_| s.spawn(|| LocalSecrets::load_or_create(&db)))
                .collect();
            starts
                .into_iter()
                .map(|t| t.join().expect("no panic").map(|l| l.secret_key_base))
                .collect()
        });
        let first = made[0].as_ref().ok().cloned();
        assert!(
            first.is_some(),
            "{:?}",
            made[0].as_ref().err().map(|e| e.to_string())
        );
        assert!(made.iter().all(|m| m.as_ref().ok() == first.as_ref()));
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("the directory reads")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("shop.db.secrets")]);
    }
}
