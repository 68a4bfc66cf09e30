//! Start and stop one node: config -> store -> inventory -> live -> web, its background tasks,
//! and a shutdown that lets checkouts finish and sockets close before the process goes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Config, Database};
use crate::domain::token::Tokens;
use crate::inventory::{self, Inventory, InventoryError};
use crate::live::cluster::{self, Adapter};
use crate::live::{self, Live};
use crate::payments::Payments;
use crate::rate_limit::Limiter;
use crate::store::seed::SeedOutcome;
use crate::store::{self, Db, StoreError};
use crate::web::{self, AppState};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Redis(#[from] cluster::redis::RedisBusError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running store. Dropping it does not stop it; call [`App::shutdown`].
pub struct App {
    pub addr: SocketAddr,
    pub inventory: Arc<Inventory>,
    pub live: Arc<Live>,
    pub config: Arc<Config>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    background: Vec<JoinHandle<()>>,
}

/// Opens the database (migrating it; an embedded store is seeded on first run), loads the
/// inventory cache, starts the background tasks and serves HTTP.
pub async fn start(config: Config) -> Result<App, StartError> {
    let config = Arc::new(config);
    let applied = store::migrate::run(&config.database).await?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "database migrated");
    }
    let db = Db::connect(&config.database).await?;
    if let Database::Sqlite { .. } = config.database
        && let SeedOutcome::Seeded {
            products, items, ..
        } = store::seed::run(&db, false).await?
    {
        tracing::info!(products, items, "seeded the demo catalog");
    }
    let mut background = Vec::new();
    let adapter: Arc<dyn Adapter> = match (&config.database, &config.redis) {
        (Database::Postgres(_), Some(redis)) => {
            let (adapter, tasks) = cluster::redis::Redis::start(redis, &config.node_name)?;
            background.extend(tasks);
            adapter
        }
        (Database::Postgres(target), None) => {
            let (adapter, tasks) =
                cluster::postgres::Postgres::start(db.clone(), target, &config.node_name);
            background.extend(tasks);
            adapter
        }
        (Database::Sqlite { .. }, _) => Arc::new(cluster::local::Local),
    };
    let line_times = inventory::line::LineTimes {
        admission: config.line_admission,
        grace: config.line_grace,
    };
    let session_policy = crate::domain::session::SessionPolicy {
        idle: config.session_idle,
        max_age: config.session_max_age,
    };
    let payments = match &config.stripe {
        Some(stripe) => {
            tracing::info!(api = %stripe.api_base, "payments: Stripe");
            Payments::Stripe(crate::payments::Stripe::new(stripe))
        }
        None => {
            tracing::info!("payments: the built-in test gateway (no STRIPE_* keys set)");
            Payments::Test(crate::payments::TestGateway::new(db.clone()))
        }
    };
    let mail_sender = crate::mail::Sender::new(&config.mail);
    tracing::info!(via = mail_sender.describe(), "mail");
    let mailing = inventory::accounts::Mailing {
        public_url: config.mail.public_url.clone().unwrap_or_default(),
        wake: Arc::default(),
    };
    let mail_wake = Arc::clone(&mailing.wake);
    background.push(crate::mail::deliver::spawn(
        db.clone(),
        mail_sender,
        mail_wake,
    ));
    let inventory = Inventory::load(
        db,
        line_times,
        session_policy,
        payments,
        config.hold,
        mailing,
    )
    .await?;
    // Holds that expired while no node swept (this one was down) end now.
    inventory.sweep_holds().await?;
    inventory.refresh_lines().await?;
    inventory.refresh_draws().await?;
    let tokens = Arc::new(Tokens::new(&config.secret_key_base));
    let limiter = Arc::new(Limiter::new(&config.rates, config.connections.ipv6_prefix));
    let live = Live::new(
        Arc::clone(&inventory),
        Arc::clone(&tokens),
        adapter,
        Arc::clone(&limiter),
        &config,
    );
    background.push(live::fanout::spawn(&live));
    background.push(live::lines::spawn(&live));
    background.extend(cluster::replicate::spawn(&live, config.presence_down_after));
    background.push(inventory::scheduler::spawn(Arc::clone(&inventory)));
    background.push(inventory::line::spawn(Arc::clone(&inventory)));
    background.push(inventory::draws::spawn(
        Arc::clone(&inventory),
        config.node_name.clone(),
    ));
    background.push(inventory::sessions::spawn_purge(Arc::clone(&inventory)));
    background.push(inventory::holds::spawn_sweeper(Arc::clone(&inventory)));
    background.push(inventory::payments::spawn_reconciler(Arc::clone(
        &inventory,
    )));
    background.push(inventory::heal::spawn(
        Arc::clone(&inventory),
        config.cache_check,
    ));
    background.push(limiter.spawn_forgetting());
    background.push(crate::heap::spawn());
    raise_open_files_limit();
    background.push(web::routes::metrics::install());

    let addr = SocketAddr::new(config.host, config.port);
    let listener = bind(addr).map_err(|source| StartError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    let router = web::router::router(AppState {
        cookie_key: web::edge::session::cookie_key(&config.secret_key_base),
        config: Arc::clone(&config),
        inventory: Arc::clone(&inventory),
        live: Arc::clone(&live),
        tokens,
        pages: Arc::default(),
        limits: Arc::new(web::edge::limits::Limits::new(limiter)),
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let connections = config.connections.clone();
    let server = tokio::spawn(web::edge::serve::serve(
        listener,
        router,
        connections,
        async {
            let _ = stopped.await;
        },
    ));
    let bus = live.cluster.bus().as_str();
    tracing::info!(%addr, node = %config.node_name, database = %config.database.describe(), bus, "serving");
    Ok(App {
        addr,
        inventory,
        live,
        config,
        stop: Some(stop),
        server,
        background,
    })
}

impl App {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, tells sockets to reconnect elsewhere (spread over a few seconds),
    /// lets in-flight requests (checkouts) finish, leaves the cluster, stops background tasks.
    pub async fn shutdown(mut self) {
        self.stop();
        if let Err(error) = self.wait().await {
            tracing::warn!(%error, "server stopped with an error");
        }
    }

    /// Serves until the server stops (on [`App::stop`] or a fatal error), then winds down.
    pub async fn wait(mut self) -> std::io::Result<()> {
        let server = async {
            (&mut self.server)
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)))
        };
        // In-flight requests (checkouts) finish while sockets close over the shutdown spread.
        let (served, ()) = tokio::join!(server, sockets_closed(&self.live, &self.config));
        self.live.cluster.leave().await;
        for task in &self.background {
            task.abort();
        }
        served
    }

    /// Asks the server to stop, without waiting.
    pub fn stop(&mut self) {
        // Open sockets would hold a graceful shutdown forever: tell them to reconnect elsewhere.
        self.live.shutdown.cancel();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Upgraded sockets are not part of the HTTP server's graceful shutdown: wait for them to close
/// (they do so within the shutdown spread) before the process goes.
async fn sockets_closed(live: &Live, config: &Config) {
    let sockets = &live.sockets;
    sockets.close();
    let limit = config.shutdown_spread + Duration::from_secs(2);
    if tokio::time::timeout(limit, sockets.wait()).await.is_err() {
        tracing::warn!(open = sockets.len(), "sockets still open at shutdown");
    }
}

/// tokio's default backlog (128) overflows when a crowd reconnects at once (after a deploy):
/// the dropped connects retry a second later. Ask for the kernel's usual maximum instead.
const LISTEN_BACKLOG: u32 = 4096;

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Every socket is a file descriptor: take the hard limit, and say how many shoppers fit.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(
            open_files = limit,
            sockets = limit.saturating_sub(100),
            "open-files limit raised; about this many sockets fit on this node"
        ),
        Err(error) => tracing::warn!(%error, "cannot raise the open-files limit"),
    }
}
