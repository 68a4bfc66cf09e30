//! Real server processes for the multi-node tests: `sneakers serve` against one PostgreSQL,
//! their cluster on NOTIFY or on Redis ([`Bus`]; one suite runs on both with
//! [`on_both_buses!`]).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use sneakers::cli::AdminClient;
use sneakers::config::Database;
use sneakers::store::Db;

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, SECRET};
use crate::pg;

pub struct Node {
    child: Child,
    pub name: String,
    pub url: String,
    pub admin: AdminClient,
    pub http: reqwest::Client,
}

/// Which bus the nodes of a test share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bus {
    Notify,
    Redis,
}

/// Runs a multi-node test body once per bus, as two tests.
#[macro_export]
macro_rules! on_both_buses {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn notify() {
                super::$name($crate::nodes::Bus::Notify).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                super::$name($crate::nodes::Bus::Redis).await
            }
        })*
    };
}

/// One database (and on Redis, one Redis database) for a test's nodes.
pub struct Cluster {
    pub url: String,
    pub db: Db,
    /// `REDIS_URL` of its nodes, on Redis.
    pub redis: Option<String>,
}

impl Cluster {
    pub async fn new(bus: Bus) -> Cluster {
        let redis = (bus == Bus::Redis).then(crate::redis::fresh_url);
        Cluster::with_redis(redis).await
    }

    /// Nodes on Redis at `redis` (`None`: NOTIFY).
    pub async fn with_redis(redis: Option<String>) -> Cluster {
        let (url, db) = cluster_database().await;
        Cluster { url, db, redis }
    }

    pub async fn node(&self, name: &str) -> Node {
        self.node_with(name, &[]).await
    }

    /// A node of this cluster with more environment; waits until its feed is live.
    pub async fn node_with(&self, name: &str, env: &[(&str, &str)]) -> Node {
        let mut all: Vec<(&str, &str)> = env.to_vec();
        if let Some(redis) = &self.redis {
            all.push(("REDIS_URL", redis));
        }
        Node::start_with(&self.url, name, &all).await
    }
}

/// Two nodes, `a` and `b`, live on one fresh database and the bus.
pub async fn two_nodes(bus: Bus) -> (Cluster, Node, Node) {
    let cluster = Cluster::new(bus).await;
    let a = cluster.node("a").await;
    let b = cluster.node("b").await;
    (cluster, a, b)
}

/// A fresh, migrated and seeded PostgreSQL database; returns its URL and a pool on it.
pub async fn cluster_database() -> (String, Db) {
    let url = pg::seeded_database("sslmode=disable").await;
    let database = Database::parse(Some(&url)).unwrap_or_else(|e| panic!("{e}"));
    let db = Db::connect(&database)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (url, db)
}

impl Node {
    /// The item's count as this node's admin API shows it; `None` when the node does not
    /// answer or does not know the item.
    pub async fn available_count(&self, item: sneakers::domain::ItemId) -> Option<i32> {
        self.admin
            .inventory()
            .await
            .ok()?
            .products
            .into_iter()
            .flat_map(|p| p.items)
            .find(|i| i.id == item)
            .map(|i| i.available_count)
    }

    /// Starts a node with more environment; waits until its feed is live (PostgreSQL) or it
    /// answers (SQLite: no cluster feed).
    pub async fn start_with(database_url: &str, name: &str, env: &[(&str, &str)]) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sneakers"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("PORT", "0")
            .env("HOST", "127.0.0.1")
            .env("NODE_NAME", name)
            .env("SECRET_KEY_BASE", SECRET)
            .env("ADMIN_USERNAME", ADMIN_USER)
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("PRESENCE_DOWN_MS", "2000")
            .env("SHUTDOWN_SPREAD_MS", "300")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node {name}: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            // Keep draining so the node never blocks on a full pipe.
            for _ in lines {}
        });
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("node {name} did not start"));
        let url = first
            .strip_prefix("Sneakers is live at ")
            .unwrap_or_else(|| panic!("node {name} said {first:?}"))
            .to_string();
        let node = Node {
            child,
            name: name.to_string(),
            admin: AdminClient::new(&url, ADMIN_USER, ADMIN_PASSWORD)
                .unwrap_or_else(|e| panic!("admin client: {e}")),
            http: reqwest::Client::new(),
            url,
        };
        let feed = if database_url.starts_with("sqlite") {
            "local"
        } else {
            "live"
        };
        node.until_feed(feed).await;
        node
    }

    pub async fn health(&self) -> serde_json::Value {
        match self.http.get(format!("{}/healthz", self.url)).send().await {
            Ok(response) => response.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        }
    }

    /// Waits until `/healthz` reports the cluster feed as `status`.
    pub async fn until_feed(&self, status: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if self.health().await["cluster"] == status {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node {} never reported its feed {status}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn ws_url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.url.replacen("http", "ws", 1))
    }

    pub async fn socket_token(&self) -> (String, String) {
        crate::ws::socket_token(&self.http, &self.url).await
    }

    pub async fn admin_token(&self) -> String {
        crate::ws::admin_token(&self.http, &self.url).await
    }

    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status (or a failure after `grace`).
    pub fn terminate(&mut self, grace: Duration) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + grace;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if std::time::Instant::now() > deadline {
                self.kill_hard();
                panic!(
                    "node {} did not exit within {grace:?} of SIGTERM",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
