//! Boots the real store in-process on an ephemeral port, on SQLite or PostgreSQL.

use sneakers::domain::ItemId;
use std::sync::Arc;
use std::time::Duration;

use sneakers::cli::AdminClient;
use sneakers::config::{AdminCredentials, Config, Connections, Database, Rates};
use sneakers::error_chain::ErrorChain;
use sneakers::inventory::Inventory;
use sneakers::store::{self, Db};
use sneakers::web::wire::{InventoryJson, ItemJson, ProductJson};
use sneakers::{App, start};

use crate::pg;

pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "test-admin-password";
pub const SECRET: &str = "test-secret-key-base-test-secret-key-base-test-secret-key-base-0123";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per backend, as two tests.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        })*
    };
}

pub struct TestApp {
    pub app: Option<App>,
    pub url: String,
    pub http: reqwest::Client,
    pub admin: AdminClient,
    /// A pool of the test's own on the store's database, to check what was really written.
    pub db: Db,
    /// The configuration of a server [`TestApp::stop`]ped, to start it again.
    stopped: Option<Config>,
    _dir: tempfile::TempDir,
}

pub fn test_config(database: Database) -> Config {
    Config {
        host: [127, 0, 0, 1].into(),
        port: 0,
        database,
        redis: None,
        secret_key_base: SECRET.into(),
        admin: AdminCredentials {
            username: ADMIN_USER.into(),
            password: ADMIN_PASSWORD.into(),
            generated: false,
        },
        node_name: "test-node".into(),
        socket_idle_timeout: Duration::from_secs(60),
        longpoll_window: Duration::from_secs(10),
        presence_down_after: Duration::from_secs(15),
        shutdown_spread: Duration::from_millis(200),
        cache_check: Duration::from_secs(5),
        line_admission: Duration::from_secs(600),
        line_grace: Duration::from_secs(120),
        session_idle: Duration::from_secs(3600),
        session_max_age: Duration::from_secs(24 * 3600),
        hold: Duration::from_secs(600),
        stripe: None,
        mail: Default::default(),
        connections: Connections::default(),
        rates: Rates::default(),
    }
}

/// `RATE_LIMIT=off`, for load tests: hundreds of clients on 127.0.0.1 are one address.
pub fn unlimited(config: &mut Config) {
    config.rates.enabled = false;
    config.connections.per_address = None;
}

/// Migrates and seeds the database at `url`: done once per test binary and backend, for the
/// template every test's database is copied from.
pub async fn migrate_and_seed(url: &str) {
    let database = Database::parse(Some(url)).unwrap_or_else(|e| panic!("{e}"));
    store::migrate::run(&database)
        .await
        .unwrap_or_else(|e| panic!("migrate: {}", ErrorChain(&e)));
    let db = Db::connect(&database)
        .await
        .unwrap_or_else(|e| panic!("connect: {}", ErrorChain(&e)));
    store::seed::run(&db, false)
        .await
        .unwrap_or_else(|e| panic!("seed: {}", ErrorChain(&e)));
}

/// The seeded SQLite store's bytes, made once per test binary.
static SQLITE_TEMPLATE: tokio::sync::OnceCell<Vec<u8>> = tokio::sync::OnceCell::const_new();

/// A copy of the seeded SQLite store at `path`.
async fn seeded_sqlite(path: &std::path::Path) {
    let bytes = SQLITE_TEMPLATE
        .get_or_init(|| async {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
            let file = dir.path().join("template.db");
            migrate_and_seed(&format!("sqlite://{}", file.display())).await;
            // Every connection is closed: SQLite has folded its WAL into the file.
            std::fs::read(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
        })
        .await;
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// A seeded database of its own for one test.
pub async fn seeded_database(backend: Backend, dir: &tempfile::TempDir) -> Database {
    match backend {
        Backend::Sqlite => {
            let path = dir.path().join("sneakers.db");
            seeded_sqlite(&path).await;
            Database::Sqlite { path }
        }
        Backend::Postgres => {
            let url = pg::seeded_database("sslmode=disable").await;
            Database::parse(Some(&url)).unwrap_or_else(|e| panic!("{e}"))
        }
    }
}

impl TestApp {
    /// A seeded store.
    pub async fn start(backend: Backend) -> TestApp {
        TestApp::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
        init_test_log();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let database = seeded_database(backend, &dir).await;
        let db = Db::connect(&database)
            .await
            .unwrap_or_else(|e| panic!("connect: {}", ErrorChain(&e)));
        let mut config = test_config(database);
        tweak(&mut config);
        let app = start(config)
            .await
            .unwrap_or_else(|e| panic!("start: {}", ErrorChain(&e)));
        let url = app.url();
        TestApp {
            admin: AdminClient::new(&url, ADMIN_USER, ADMIN_PASSWORD)
                .unwrap_or_else(|e| panic!("admin client: {e}")),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_else(|e| panic!("http client: {e}")),
            url,
            app: Some(app),
            db,
            stopped: None,
            _dir: dir,
        }
    }

    /// Stops the server (open sockets are closed with 1012, service restart) and starts it again
    /// on the same port with the same configuration and database, as a deploy does.
    pub async fn restart(&mut self) {
        let app = self
            .app
            .take()
            .unwrap_or_else(|| panic!("the app was stopped"));
        let mut config = Config::clone(&app.config);
        config.port = app.addr.port();
        app.shutdown().await;
        let app = start(config)
            .await
            .unwrap_or_else(|e| panic!("restart: {e}"));
        assert_eq!(
            app.url(),
            self.url,
            "the restarted server keeps its address"
        );
        self.app = Some(app);
    }

    /// Stops the server (sockets closed, the port shut) until [`TestApp::start_again`].
    pub async fn stop(&mut self) {
        let app = self
            .app
            .take()
            .unwrap_or_else(|| panic!("the app was stopped"));
        let mut config = Config::clone(&app.config);
        config.port = app.addr.port();
        app.shutdown().await;
        self.stopped = Some(config);
    }

    /// Starts the server stopped by [`TestApp::stop`] again, on the same port and database.
    pub async fn start_again(&mut self) {
        let config = self
            .stopped
            .take()
            .unwrap_or_else(|| panic!("the app was not stopped"));
        let app = start(config)
            .await
            .unwrap_or_else(|e| panic!("start again: {e}"));
        assert_eq!(app.url(), self.url, "the server comes back at its address");
        self.app = Some(app);
    }

    pub fn inventory(&self) -> &Arc<Inventory> {
        match &self.app {
            Some(app) => &app.inventory,
            None => panic!("the app was stopped"),
        }
    }

    pub fn live(&self) -> &Arc<sneakers::live::Live> {
        match &self.app {
            Some(app) => &app.live,
            None => panic!("the app was stopped"),
        }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    pub async fn inventory_json(&self) -> InventoryJson {
        self.admin
            .inventory()
            .await
            .unwrap_or_else(|e| panic!("inventory: {e}"))
    }

    pub async fn product(&self, released: bool) -> ProductJson {
        self.inventory_json()
            .await
            .products
            .into_iter()
            .find(|p| p.released == released)
            .unwrap_or_else(|| panic!("no product with released={released}"))
    }

    pub async fn item(&self, item_id: ItemId) -> ItemJson {
        self.inventory_json()
            .await
            .products
            .into_iter()
            .flat_map(|p| p.items)
            .find(|i| i.id == item_id)
            .unwrap_or_else(|| panic!("no item {item_id}"))
    }

    /// Brings an item of a released product to exactly `count` pairs through the admin API.
    pub async fn set_stock(&self, item_id: ItemId, count: i32) {
        let now = self.item(item_id).await.available_count;
        let result = match now.cmp(&count) {
            std::cmp::Ordering::Greater => self.admin.sell(item_id, now - count).await.map(|_| ()),
            std::cmp::Ordering::Less => self.admin.restock(item_id, count - now).await.map(|_| ()),
            std::cmp::Ordering::Equal => Ok(()),
        };
        result.unwrap_or_else(|e| panic!("set stock of {item_id} to {count}: {e}"));
        assert_eq!(self.item(item_id).await.available_count, count);
    }

    /// The inventory cache holds exactly what the database holds.
    pub async fn assert_cache_matches_db(&self) {
        let fresh = sneakers::domain::Catalog::new(
            store::catalog::load(&self.db)
                .await
                .unwrap_or_else(|e| panic!("load: {e}")),
        );
        let cached = self.inventory().read(|c| c.clone());
        assert_eq!(
            cached, fresh,
            "the inventory cache differs from the database"
        );
    }
}

/// The pairs of `item` left, as the database (not a node's cache) holds them.
pub async fn pairs_left(db: &Db, item: ItemId) -> i32 {
    store::catalog::stock(db, item)
        .await
        .unwrap_or_else(|e| panic!("stock: {e}"))
        .map(|(count, _)| count)
        .unwrap_or_else(|| panic!("no item {item}"))
}

/// `TEST_LOG=sneakers=debug cargo test ...` shows the server's tracing in tests.
pub fn init_test_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
    });
}

/// The `data-level` of `#item-<id>` on a page, if the page shows that size.
pub fn level_on_page(html: &str, item_id: ItemId) -> Option<String> {
    let at = html.find(&format!("id=\"item-{item_id}\""))?;
    let rest = &html[at..];
    let tag_end = rest.find('>')?;
    let tag = &rest[..tag_end];
    let start = tag.find("data-level=\"")? + "data-level=\"".len();
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_string())
}
