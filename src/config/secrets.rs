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
