//! What can stop a bench, one variant per kind of cause, each with a message that says what to do.

use std::path::PathBuf;

use sneakers::cli::ClientError;
use sneakers::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(
        "cannot find the store's binary at {}: `cargo build --release` builds it beside \
         sneakers-bench, or pass --server-bin <path>",
        path.display()
    )]
    NoServerBinary { path: PathBuf },
    #[error("{what} did not start: {reason}")]
    Spawn { what: String, reason: String },
    /// Options that do not go together, or a setting the bench cannot use.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store's admin API (through `sneakers::cli::AdminClient`).
    #[error(transparent)]
    Admin(#[from] ClientError),
    /// Another HTTP call the bench makes (tokens, pages, the floor's trigger).
    #[error("{0}")]
    Http(String),
    /// Sockets that could not connect, join, or stay open.
    #[error("{0}")]
    Clients(String),
    #[error("open files: {0}")]
    OpenFiles(String),
    #[error("database check: {0}")]
    Database(String),
    /// The server under test changed under the bench (stock moved by someone else, ...).
    #[error("{0}")]
    Unexpected(String),
    #[error("interrupted")]
    Interrupted,
    /// The bench ran, and what it measured is wrong (an oversold item, a missing order, ...).
    #[error("wrong result: {0}")]
    Wrong(String),
}

/// reqwest's own message hides the cause ("error sending request"); the innermost error names it.
pub fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
