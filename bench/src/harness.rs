//! The servers a bench runs against: a running one (`--url`), or store processes it spawns (a
//! fresh SQLite file, or `--database-url` PostgreSQL, reset and seeded first, one process per
//! node), or the floor server. Spawned servers are stopped at the end, whatever happened, and
//! what they wrote to stderr is shown.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use clap::Args;
use serde::Deserialize;
use sneakers::config::Database;

use crate::error::BenchError;
use crate::http::{Admin, http_client};
use crate::procs::{self, Shared, Spawned};
use crate::report::note;

/// How long a spawned node may take to report its cluster feed live.
const FEED_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the store under test comes from (shared by every bench).
#[derive(Args, Debug, Clone, Default, PartialEq)]
pub struct ServerArgs {
    /// Bench this running store instead of spawning one; admin credentials come from
    /// ADMIN_USERNAME/ADMIN_PASSWORD (or the local SQLite store's secrets file), its database
    /// from DATABASE_URL.
    #[arg(long)]
    pub url: Option<String>,
    /// The running server's process id, to read its CPU and memory (with --url).
    #[arg(long, requires = "url")]
    pub pid: Option<u32>,
    /// Spawn the store against this PostgreSQL database instead of a fresh SQLite file. The
    /// database is reset and seeded first (`sneakers seed --reset`): everything in it is lost.
    #[arg(long, value_name = "postgres://...", conflicts_with = "url")]
    pub database_url: Option<String>,
    /// The spawned nodes' cluster bus on this Redis (`REDIS_URL`) instead of NOTIFY.
    #[arg(long, value_name = "redis://...", requires = "database_url")]
    pub redis_url: Option<String>,
}

impl ServerArgs {
    /// Which bus spawned nodes use, for reports.
    pub fn bus(&self) -> &'static str {
        match (&self.database_url, &self.redis_url) {
            (_, Some(_)) => "Redis",
            (Some(_), None) => "NOTIFY",
            (None, None) => "none",
        }
    }
}

/// One server under test.
pub struct Node {
    /// `a`, `b`, ... with several nodes; empty with one.
    pub name: String,
    /// `http://host:port`.
    pub base: String,
    pub pid: Option<u32>,
    /// `None`: the floor server, which has no admin.
    pub admin: Option<Admin>,
    /// The store's database, for benches that check what was written (`None` for the floor).
    pub database: Option<Database>,
}

impl Node {
    /// The admin side, for a bench that needs the store.
    pub fn admin(&self) -> Result<&Admin, BenchError> {
        self.admin
            .as_ref()
            .ok_or_else(|| BenchError::Usage("this bench needs the store, not the floor".into()))
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
    /// `nodes` store processes of `server_bin` (more than one needs PostgreSQL), or the `--url`
    /// store.
    pub async fn store(
        server_bin: Option<&Path>,
        args: &ServerArgs,
        nodes: usize,
    ) -> Result<Harness, BenchError> {
        Harness::store_with(server_bin, args, nodes, Vec::new()).await
    }

    /// [`Harness::store`], with these variables set on every spawned store.
    pub async fn store_with(
        server_bin: Option<&Path>,
        args: &ServerArgs,
        nodes: usize,
        env: Vec<(String, String)>,
    ) -> Result<Harness, BenchError> {
        if let Some(url) = &args.url {
            return attach(url, args.pid, nodes);
        }
        let server_bin = procs::server_binary(server_bin)?;
        let postgres = match &args.database_url {
            Some(url) => {
                let database = Database::parse(Some(url))?;
                if !database.is_postgres() {
                    return Err(BenchError::Usage(format!(
                        "--database-url must be a postgres:// URL, not {}",
                        database.describe()
                    )));
                }
                let said = procs::seed(&server_bin, url).await?;
                note(format!("seed --reset: {said}"));
                Some((url.as_str(), database))
            }
            None if nodes > 1 => {
                return Err(BenchError::Usage(
                    "several nodes share one PostgreSQL database: pass --database-url postgres://..."
                        .into(),
                ));
            }
            None => None,
        };
        let mut env = env;
        if let Some(redis) = &args.redis_url {
            env.push(("REDIS_URL".to_string(), redis.clone()));
        }
        let shared = Shared {
            env,
            ..Shared::random()
        };
        let mut harness = Harness {
            nodes: Vec::with_capacity(nodes),
            spawned: Vec::with_capacity(nodes),
            what: match (&postgres, nodes) {
                (None, _) => "a spawned store (fresh SQLite)".to_string(),
                (Some((_, db)), 1) => {
                    format!("a spawned store on {} (bus: {})", db.describe(), args.bus())
                }
                (Some((_, db)), n) => {
                    format!(
                        "{n} spawned nodes on {} (bus: {})",
                        db.describe(),
                        args.bus()
                    )
                }
            },
        };
        for index in 0..nodes {
            let name = if nodes > 1 {
                char::from(b'a' + (index % 26) as u8).to_string()
            } else {
                String::new()
            };
            let started = Spawned::store(
                &server_bin,
                postgres.as_ref().map(|(url, _)| *url),
                (!name.is_empty()).then_some(name.as_str()),
                &shared,
            )
            .await;
            // Stop the nodes already up if a later one fails.
            let process = match started {
                Ok(process) => process,
                Err(error) => return harness.finish(Err(error)).await,
            };
            let database = match (&postgres, &process.sqlite) {
                (Some((_, db)), _) => Some(db.clone()),
                (None, Some(path)) => Some(Database::Sqlite { path: path.clone() }),
                (None, None) => None,
            };
            let admin = Admin::new(&process.url, shared.credentials.clone());
            harness.nodes.push(Node {
                base: process.url.clone(),
                pid: process.pid,
                name,
                admin: admin.as_ref().ok().cloned(),
                database,
            });
            harness.spawned.push(process);
            if let Err(error) = admin {
                return harness.finish(Err(error)).await;
            }
        }
        if postgres.is_some() {
            for node in &harness.nodes {
                if let Err(error) = wait_for_feed(node).await {
                    return harness.finish(Err(error)).await;
                }
            }
        }
        Ok(harness)
    }

    /// The bare floor server, spawned from this program.
    pub async fn floor() -> Result<Harness, BenchError> {
        let process = Spawned::floor().await?;
        let node = Node {
            name: String::new(),
            base: process.url.clone(),
            pid: process.pid,
            admin: None,
            database: None,
        };
        Ok(Harness {
            nodes: vec![node],
            spawned: vec![process],
            what: "the floor (bare axum broadcast, spawned)".into(),
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
    pub async fn finish<T>(self, mut outcome: Result<T, BenchError>) -> Result<T, BenchError> {
        let several = self.spawned.len() > 1;
        for (mut spawned, node) in self.spawned.into_iter().zip(&self.nodes) {
            let label = if several {
                node.label()
            } else {
                "server".to_string()
            };
            if let Err(error) = &outcome
                && !matches!(error, BenchError::Interrupted)
                && let Some(status) = spawned.exited()
            {
                outcome = Err(BenchError::Unexpected(format!(
                    "the {label} under test exited ({status}); {error}"
                )));
            }
            let (count, last) = spawned.warnings();
            spawned.stop().await;
            if count > 0 {
                note(format!("{label} stderr: {count} line(s); the last:"));
                for line in last.iter().rev().take(5).rev() {
                    note(format!("  {line}"));
                }
            }
        }
        outcome
    }
}

/// The `--url` store.
fn attach(url: &str, pid: Option<u32>, nodes: usize) -> Result<Harness, BenchError> {
    if nodes > 1 {
        return Err(BenchError::Usage(
            "several nodes are spawned by the bench; --url names one server".into(),
        ));
    }
    let base = url.trim_end_matches('/').to_string();
    // Its database, as the store itself would find it (for benches that check it).
    let database = Database::parse(std::env::var("DATABASE_URL").ok().as_deref())?;
    let node = Node {
        name: String::new(),
        admin: Some(Admin::from_env(&base)?),
        base,
        pid,
        database: Some(database),
    };
    Ok(Harness {
        nodes: vec![node],
        spawned: Vec::new(),
        what: "the store".into(),
    })
}

/// Runs a bench step until it ends or Ctrl-C.
pub async fn interruptible<T>(
    step: impl Future<Output = Result<T, BenchError>>,
) -> Result<T, BenchError> {
    tokio::select! {
        outcome = step => outcome,
        _ = tokio::signal::ctrl_c() => Err(BenchError::Interrupted),
    }
}

/// A node on PostgreSQL trusts events only once its LISTEN connection is up: wait for that.
async fn wait_for_feed(node: &Node) -> Result<(), BenchError> {
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
    Err(BenchError::Unexpected(format!(
        "{} never reported its cluster feed live within {} s ({last})",
        node.label(),
        FEED_TIMEOUT.as_secs()
    )))
}
