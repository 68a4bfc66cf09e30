//! Sneakers: a live sneaker-drop store.
//!
//! Wiring: config -> store -> inventory -> web. Layers import downwards only:
//! web -> inventory -> store -> domain.

pub mod cli;
pub mod config;
pub mod domain;
pub mod html;
pub mod inventory;
pub mod live;
pub mod store;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Config, Database};
use crate::inventory::{Inventory, InventoryError};
use crate::live::Live;
use crate::store::seed::SeedOutcome;
use crate::store::{Db, StoreError};
use crate::web::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// How often open cart channels get a fresh socket token (tokens live a day).
const TOKEN_REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

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
/// inventory cache, starts the scheduler and serves HTTP.
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
    let inventory = Inventory::load(db).await?;
    let tokens = Arc::new(domain::token::Tokens::new(&config.secret_key_base));
    let live = Live::new(Arc::clone(&inventory), Arc::clone(&tokens), &config);
    let mut background = vec![
        live.spawn_event_pump(),
        live.spawn_token_refresh(TOKEN_REFRESH_EVERY),
        live.spawn_presence_flusher(),
        live.spawn_server_figures(),
        inventory::scheduler::spawn(Arc::clone(&inventory)),
    ];
    if let Database::Postgres(target) = &config.database {
        background.extend(live::cluster::spawn(
            &live,
            inventory.db().clone(),
            live::cluster::ClusterConfig {
                target: target.clone(),
                down_after: config.presence_down_after,
            },
        ));
    }
    raise_open_files_limit();
    web::metrics::install();

    let addr = SocketAddr::new(config.host, config.port);
    let listener = bind(addr).map_err(|source| StartError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    let router = web::router::router(AppState {
        cookie_key: web::session::cookie_key(&config.secret_key_base),
        config: Arc::clone(&config),
        inventory: Arc::clone(&inventory),
        live: Arc::clone(&live),
        tokens,
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    tracing::info!(%addr, node = %config.node_name, database = %config.database.describe(), "serving");
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
        self.leave_cluster().await;
        self.sockets_closed().await;
        for task in &self.background {
            task.abort();
        }
        match (&mut self.server).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "server stopped with an error"),
            Err(error) => tracing::warn!(%error, "server task failed"),
        }
    }

    /// Serves until the task ends (it only ends on shutdown or a fatal error).
    pub async fn wait(mut self) -> std::io::Result<()> {
        self.leave_cluster().await;
        self.sockets_closed().await;
        let result = (&mut self.server)
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        for task in &self.background {
            task.abort();
        }
        result
    }

    /// Upgraded sockets are not part of the HTTP server's graceful shutdown: wait for them to
    /// close (they do so within the shutdown spread) before the process goes.
    async fn sockets_closed(&self) {
        let deadline = tokio::time::Instant::now()
            + self.config.shutdown_spread
            + std::time::Duration::from_secs(2);
        while self.live.sockets.load(std::sync::atomic::Ordering::Relaxed) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    async fn leave_cluster(&self) {
        if self.config.database.is_postgres() {
            live::cluster::say_goodbye(self.inventory.db(), &self.config.node_name).await;
        }
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
