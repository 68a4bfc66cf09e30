//! The command line: `sneakers serve | migrate | seed | release | sell | restock | product |
//! sell-random`, and `bench`, which hands over to the load tools' own binary.
//! Commands that move inventory go through a running server's admin API, so open pages see them.

mod bench;
mod client;
mod products;
mod sell_random;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::{Config, ConfigError, Database, Settings};
use crate::domain::ItemId;
use crate::store::seed::SeedOutcome;
use crate::store::{self, Db, StoreError};
pub use client::{AdminClient, ClientError};

#[derive(Parser, Debug)]
#[command(name = "sneakers", version, about = "A live sneaker-drop store")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

// Parsed once at start: the size of its biggest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the store (the default); also reads DATABASE_URL, SECRET_KEY_BASE and
    /// ADMIN_USERNAME/ADMIN_PASSWORD from the environment.
    Serve(Settings),
    /// Apply pending database migrations.
    Migrate,
    /// Load the demo catalog into an empty store.
    Seed {
        /// Delete every product, item and order first.
        #[arg(long)]
        reset: bool,
    },
    /// Release a product now (through the running server).
    Release {
        /// Product id or SKU.
        product: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Sell pairs of an item (through the running server), as a checkout would.
    Sell {
        item_id: ItemId,
        #[arg(long, default_value_t = 1)]
        count: i32,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Add pairs to an item (through the running server).
    Restock {
        item_id: ItemId,
        count: i32,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Import products from a file or export them to one (JSON, or CSV one size a row).
    Product {
        #[command(subcommand)]
        command: products::ProductCommand,
    },
    /// The mock buyer: sells random in-stock pairs of released products.
    SellRandom(sell_random::SellRandomArgs),
    /// Load generators (the `sneakers-bench` binary): fan-out latency, checkout storm, shoppers.
    #[command(disable_help_flag = true)]
    Bench(bench::BenchArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// The running server [default: http://localhost:$PORT]. Admin credentials come from
    /// ADMIN_USERNAME/ADMIN_PASSWORD, or the local SQLite store's secrets file.
    #[arg(long)]
    pub url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Start(#[from] crate::StartError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{0}")]
    Usage(String),
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("bench: {0}")]
    Bench(String),
}

fn init_logging() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("sneakers=info,tower_http=warn,warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    init_logging();
    let Some(command) = cli.command else {
        return serve(Settings::from_env()?).await;
    };
    match command {
        Command::Serve(settings) => serve(settings).await,
        Command::Migrate => {
            let database = Database::parse(std::env::var("DATABASE_URL").ok().as_deref())?;
            let applied = store::migrate::run(&database).await?;
            println!(
                "{}: {} migration(s) applied",
                database.describe(),
                applied.len()
            );
            Ok(())
        }
        Command::Seed { reset } => {
            let database = Database::parse(std::env::var("DATABASE_URL").ok().as_deref())?;
            store::migrate::run(&database).await?;
            let db = Db::connect(&database).await?;
            match store::seed::run(&db, reset).await? {
                SeedOutcome::Seeded {
                    products,
                    items,
                    pairs,
                } => println!(
                    "Seeded {products} products, {items} sizes, {pairs} pairs into {}",
                    database.describe()
                ),
                SeedOutcome::AlreadySeeded { products } => println!(
                    "{} already holds {products} products; nothing seeded (use --reset to start over)",
                    database.describe()
                ),
            }
            Ok(())
        }
        Command::Release { product, server } => {
            let client = AdminClient::from_env(server.url)?;
            let reply = client.release(&product).await?;
            let name = reply.name.as_deref().unwrap_or("product");
            if reply.already_released {
                println!("{name} (#{}) was already released", reply.product_id);
            } else {
                println!("Released {name} (#{})", reply.product_id);
            }
            Ok(())
        }
        Command::Sell {
            item_id,
            count,
            server,
        } => {
            let client = AdminClient::from_env(server.url)?;
            let stock = client.sell(item_id, count).await?;
            println!(
                "Sold {count} pair(s) of item {item_id}: {} left ({})",
                stock.available_count, stock.level
            );
            Ok(())
        }
        Command::Restock {
            item_id,
            count,
            server,
        } => {
            let client = AdminClient::from_env(server.url)?;
            let stock = client.restock(item_id, count).await?;
            println!(
                "Restocked item {item_id} with {count} pair(s): {} available ({})",
                stock.available_count, stock.level
            );
            Ok(())
        }
        Command::Product { command } => products::run(command).await,
        Command::SellRandom(args) => sell_random::run(args).await,
        Command::Bench(args) => bench::run(args),
    }
}

async fn serve(settings: Settings) -> Result<(), CliError> {
    let config = Config::new(settings, |key| std::env::var(key).ok())?;
    let admin = config.admin.clone();
    let database = config.database.clone();
    let mut app = crate::start(config).await?;
    let shown = if app.addr.ip().is_unspecified() {
        format!("http://localhost:{}", app.addr.port())
    } else {
        app.url()
    };
    println!("Sneakers is live at {shown}");
    if admin.generated {
        let kept = match &database {
            Database::Sqlite { path } => format!(" (kept in {}.secrets)", path.display()),
            Database::Postgres(_) => String::new(),
        };
        println!(
            "Admin: {shown}/admin  user: {}  password: {}{kept}",
            admin.username, admin.password
        );
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    app.stop();
    app.wait().await.map_err(CliError::Serve)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
