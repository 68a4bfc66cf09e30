//! The live layer: Phoenix V2 sockets, channels, the pubsub hub, presence and the cluster.
//! `fanout` turns the node's events into pushes; channels turn client messages into inventory
//! calls; the business rules stay below, in `inventory` and `domain`.

pub mod channels;
pub mod cluster;
pub mod draw_admin;
pub mod fanout;
pub mod flood;
pub mod hub;
pub mod join_state;
pub mod lines;
pub mod longpoll;
pub mod outbox;
pub mod presence;
pub mod protocol;
pub mod session;
pub mod signed_in;
pub mod socket;
pub mod violation;
pub mod wake_flag;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio_util::task::TaskTracker;

use crate::config::{LimitedAction, Per};
use crate::domain::account::SignedIn;
use crate::domain::figures::NodeFigures;
use crate::domain::sales::SalesSeries;
use crate::domain::token::Tokens;
use crate::html::fragments::admin::{BusView, NodeRow};
use crate::inventory::Inventory;
use cluster::{Adapter, Cluster};
use hub::Hub;
use presence::Presence;

/// Who is on the other end of a socket, as its token proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    Shopper {
        cart_id: String,
        /// Signed in: the account, as it was when the socket connected.
        account: Option<Arc<SignedIn>>,
    },
    Admin,
}

pub struct Live {
    pub hub: Hub,
    pub inventory: Arc<Inventory>,
    pub tokens: Arc<Tokens>,
    pub presence: Presence,
    /// What product joins push, encoded once per version of the catalog's shown state.
    pub join_states: join_state::JoinStates,
    /// This node's name, how it hears the others (nobody with an embedded database), the
    /// requests between nodes, and the others' figures.
    pub cluster: Cluster,
    pub idle_timeout: Duration,
    /// Events one socket may send (`None`: no limit, `RATE_LIMIT=off`).
    pub socket_events: Option<crate::config::Rate>,
    /// The node's rate limits, shared with HTTP: a cart change costs the same on every
    /// transport.
    pub limiter: Arc<crate::rate_limit::Limiter>,
    /// Cancelled when the node shuts down: sockets close with 1012 and clients reconnect.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Sockets close at random moments within this window on shutdown, not all at once.
    pub shutdown_spread: Duration,
    /// Every open socket's task (and longpoll session's), so shutdown can wait for them.
    pub sockets: TaskTracker,
    /// This node's longpoll sessions (Phoenix's LongPoll transport).
    pub longpoll: Arc<longpoll::LongPolls>,
    /// Joined channels on this node, for the admin's server panel.
    pub channels: AtomicI64,
    /// Pairs sold per second (this node's sales and the others', as the bus brings them), for
    /// the admin's chart; `fanout` feeds it and pushes it.
    pub sales: std::sync::Mutex<SalesSeries>,
    /// Pushes this node made in the last second (`fanout` measures it).
    pub pushes_per_second: std::sync::atomic::AtomicU64,
    /// Connections opened under a signed-in session, closed when it ends.
    pub signed_in: signed_in::SignedInConnections,
}

impl Live {
    pub fn new(
        inventory: Arc<Inventory>,
        tokens: Arc<Tokens>,
        adapter: Arc<dyn Adapter>,
        limiter: Arc<crate::rate_limit::Limiter>,
        config: &crate::config::Config,
    ) -> Arc<Live> {
        let cluster = Cluster::new(adapter, &config.node_name, config.presence_down_after);
        let longpoll = Arc::new(longpoll::LongPolls::new(config.longpoll_window));
        longpoll::LongPolls::serve_relayed(&longpoll, &cluster);
        Arc::new(Live {
            hub: Hub::default(),
            inventory,
            tokens,
            presence: Presence::new(&config.node_name),
            join_states: join_state::JoinStates::default(),
            cluster,
            idle_timeout: config.socket_idle_timeout,
            socket_events: config
                .rates
                .enabled
                .then(|| config.rates.get(LimitedAction::SocketEvents, Per::Socket))
                .flatten(),
            limiter,
            shutdown: tokio_util::sync::CancellationToken::new(),
            shutdown_spread: config.shutdown_spread,
            sockets: TaskTracker::new(),
            longpoll,
            channels: AtomicI64::new(0),
            sales: std::sync::Mutex::new(SalesSeries::new()),
            pushes_per_second: std::sync::atomic::AtomicU64::new(0),
            signed_in: signed_in::SignedInConnections::default(),
        })
    }

    /// The sales series, read or fed; a poisoned lock (a panic mid-update) still holds counts
    /// that are only ever added to, so it is used as is.
    pub fn with_sales<T>(&self, f: impl FnOnce(&mut SalesSeries) -> T) -> T {
        let mut sales = self.sales.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut sales)
    }

    /// Every node for the admin's cluster panel: this one first, then the others (a silent one
    /// marked down).
    pub fn cluster_rows(&self) -> Vec<NodeRow> {
        self.cluster.peers.rows(NodeRow {
            name: self.cluster.node().to_string(),
            figures: self.figures(self.pushes_per_second.load(Ordering::Relaxed)),
            feed: self.cluster.status().as_str().to_string(),
            up: true,
            this: true,
        })
    }

    /// Which bus, and whether this node hears it, for the admin's cluster panel.
    pub fn bus_view(&self) -> BusView {
        BusView {
            kind: self.cluster.bus().as_str(),
            connected: self.cluster.connected(),
        }
    }

    /// This node's figures for the admin's server panel.
    pub fn figures(&self, pushes_per_second: u64) -> NodeFigures {
        NodeFigures {
            sockets: self.sockets.len() as i64,
            channels: self.channels.load(Ordering::Relaxed),
            pushes_per_second,
        }
    }
}
