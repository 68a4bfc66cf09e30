//! The servers a bench runs against: a running one (`--url`), or store processes it spawns (a
//! fresh SQLite file, or `--database-url` PostgreSQL, reset and seeded first, one process per
//! node), or the baseline server. Spawned servers are stopped at the end, whatever happened, and
//! what they wrote to stderr is shown.

use std::future::Future;
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use super::bench_error;
use super::http::{Admin, http_client};
use super::server::{self, Shared, Spawned};
use crate::cli::CliError;
use crate::config::Database;

/// How long a spawned node may take to report its cluster feed live.
const FEED_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the server under test comes from (shared by every bench).
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// Bench this running server instead of spawning one; admin credentials come from
    /// ADMIN_USERNAME/ADMIN_PASSWORD.
    #[arg(long)]
    pub url: Option<String>,
    /// The running server's process id, to read its CPU and memory (with --url).
    #[arg(long, requires = "url")]
    pub pid: Option<u32>,
    /// Spawn the store against this PostgreSQL database instead of a fresh SQLite file. The
    /// database is reset and seeded first (`sneakers seed --reset`): everything in it is lost.
    #[arg(long, value_name = "postgres://...", conflicts_with = "url")]
    pub database_url: Option<String>,
}

/// One server under test.
pub struct Node {
    /// `a`, `b`, ... with several nodes; empty with one.
    pub name: String,
    /// `http://host:port`.
    pub base: String,
    pub pid: Option<u32>,
    /// `None`: the baseline server, which has no admin.
    pub admin: Option<Admin>,
}

impl Node {
    /// The admin side, for a bench that needs the store.
    pub fn admin(&self) -> Result<&Admin, CliError> {
        self.admin
            .as_ref()
            .ok_or_else(|| bench_error("this bench needs the store, not the baseline server"))
    }

    /// `node a` (several nodes) or `server` (one), for reports.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            "server".to_string()
        } else {
            format!("node {}", self.name)
        }
    }
}

pub struct Harness {
    pub nodes: Vec<Node>,
    spawned: Vec<Spawned>,
    /// What runs, for the first line of a report.
    pub what: String,
}

impl Harness {
    /// `nodes` store processes (more than one needs PostgreSQL), or the `--url` server.
    pub async fn start(args: &ServerArgs, nodes: usize) -> Result<Harness, CliError> {
        if let Some(url) = &args.url {
            if nodes > 1 {
                return Err(bench_error(
                    "several nodes are spawned by the bench; --url names one server",
                ));
            }
            let base = url.trim_end_matches('/').to_string();
            let node = Node {
                name: String::new(),
                admin: Some(Admin::from_env(&base)?),
                base,
                pid: args.pid,
            };
            return Ok(Harness {
                nodes: vec![node],
                spawned: Vec::new(),
                what: "the store".into(),
            });
        }
        let postgres = match &args.database_url {
            Some(url) => {
                let database = Database::parse(Some(url))?;
                if !database.is_postgres() {
                    return Err(bench_error(format!(
                        "--database-url must be a postgres:// URL, not {}",
                        database.describe()
                    )));
                }
                let said = server::seed(url).await?;
                println!("seed --reset: {said}");
                Some((url.as_str(), database.describe()))
            }
            None if nodes > 1 => {
                return Err(bench_error(
                    "several nodes share one PostgreSQL database: pass --database-url postgres://...",
                ));
            }
            None => None,
        };
        let shared = Shared::random();
        let mut spawned = Vec::with_capacity(nodes);
        let mut started = Vec::with_capacity(nodes);
        for index in 0..nodes {
            let name = if nodes > 1 {
                char::from(b'a' + (index % 26) as u8).to_string()
            } else {
                String::new()
            };
            let process = Spawned::store(
                postgres.as_ref().map(|(url, _)| *url),
                (!name.is_empty()).then_some(name.as_str()),
                &shared,
            )
            .await?;
            started.push(Node {
                admin: Some(Admin::new(&process.url, shared.credentials.clone())?),
                base: process.url.clone(),
                pid: process.pid,
                name,
            });
            spawned.push(process);
        }
        if postgres.is_some() {
            for node in &started {
                wait_for_feed(node).await?;
            }
        }
        let what = match (&postgres, nodes) {
            (None, _) => "a spawned store (fresh SQLite)".to_string(),
            (Some((_, db)), 1) => format!("a spawned store on {db}"),
            (Some((_, db)), n) => format!("{n} spawned nodes on {db}"),
        };
        Ok(Harness {
            nodes: started,
            spawned,
            what,
        })
    }

    /// The bare WebSocket server: spawned, or the `--url` one.
    pub async fn baseline(args: &ServerArgs) -> Result<Harness, CliError> {
        if let Some(url) = &args.url {
            let node = Node {
                name: String::new(),
                base: url.trim_end_matches('/').to_string(),
                pid: args.pid,
                admin: None,
            };
            return Ok(Harness {
                nodes: vec![node],
                spawned: Vec::new(),
                what: "the baseline server".into(),
            });
        }
        let process = Spawned::baseline().await?;
        let node = Node {
            name: String::new(),
            base: process.url.clone(),
            pid: process.pid,
            admin: None,
        };
        Ok(Harness {
            nodes: vec![node],
            spawned: vec![process],
            what: "a spawned baseline server".into(),
        })
    }

    /// `http://... (pid 42)`, one per node.
    pub fn addresses(&self) -> String {
        let list: Vec<String> = self
            .nodes
            .iter()
            .map(|node| {
                let pid = node
                    .pid
                    .map_or_else(|| "pid unknown".to_string(), |p| format!("pid {p}"));
                let name = if node.name.is_empty() {
                    String::new()
                } else {
                    format!("{} ", node.name)
                };
                format!("{name}{} ({pid})", node.base)
            })
            .collect();
        list.join(", ")
    }

    /// Stops what was spawned and shows what it wrote to stderr; a failed bench whose server
    /// died says so.
    pub async fn finish<T>(self, mut outcome: Result<T, CliError>) -> Result<T, CliError> {
        let several = self.spawned.len() > 1;
        for (mut spawned, node) in self.spawned.into_iter().zip(&self.nodes) {
            let label = if several {
                node.label()
            } else {
                "server".to_string()
            };
            if let Err(error) = &outcome
                && let Some(status) = spawned.exited()
            {
                let who = if several {
                    label.clone()
                } else {
                    "the server".into()
                };
                outcome = Err(bench_error(format!(
                    "{who} under test exited ({status}); {}",
                    error.to_string().trim_start_matches("bench: ")
                )));
            }
            let (count, last) = spawned.warnings();
            spawned.stop().await;
            if count > 0 {
                println!("{label} stderr: {count} line(s); the last:");
                for line in last.iter().rev().take(5).rev() {
                    println!("  {line}");
                }
            }
        }
        outcome
    }
}

/// Runs a bench until it ends or Ctrl-C.
pub async fn interruptible<T>(
    bench: impl Future<Output = Result<T, CliError>>,
) -> Result<T, CliError> {
    tokio::select! {
        outcome = bench => outcome,
        _ = tokio::signal::ctrl_c() => Err(bench_error("interrupted")),
    }
}

/// A node on PostgreSQL trusts events only once its LISTEN connection is up: wait for that.
async fn wait_for_feed(node: &Node) -> Result<(), CliError> {
    #[derive(Deserialize)]
    struct Health {
        cluster: String,
    }
    let http = http_client(Duration::from_secs(5))?;
    let url = format!("{}/healthz", node.base);
    let deadline = tokio::time::Instant::now() + FEED_TIMEOUT;
    let mut last = String::from("no answer");
    while tokio::time::Instant::now() < deadline {
        if let Ok(response) = http.get(&url).send().await {
            match response.json::<Health>().await {
                Ok(health) if health.cluster == "live" => return Ok(()),
                Ok(health) => last = format!("cluster {}", health.cluster),
                Err(e) => last = e.to_string(),
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(bench_error(format!(
        "{} never reported its cluster feed live within {} s ({last})",
        node.label(),
        FEED_TIMEOUT.as_secs()
    )))
}
