//! The live layer: Phoenix V2 sockets, channels, the pubsub hub. It turns inventory events into
//! pushes and channel messages into inventory calls; the business rules stay below it.

pub mod channels;
pub mod cluster;
pub mod hub;
pub mod presence;
pub mod protocol;
pub mod socket;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;

use crate::domain::token::Tokens;
use crate::inventory::{Inventory, InventoryEvent};
use channels::{admin, cart, product};
use hub::Hub;
use presence::Presence;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicI64, Ordering};

/// Who is on the other end of a socket, as its token proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    Shopper { cart_id: String },
    Admin,
}

pub struct Live {
    pub hub: Hub,
    pub inventory: Arc<Inventory>,
    pub tokens: Arc<Tokens>,
    pub idle_timeout: Duration,
    /// Cancelled when the node shuts down: sockets close with 1012 and clients reconnect.
    pub shutdown: tokio_util::sync::CancellationToken,
    pub presence: Presence,
    pub node_name: String,
    /// Open sockets and joined channels on this node, for the admin's server panel.
    pub sockets: AtomicI64,
    pub channels: AtomicI64,
    /// The cluster feed (none with an embedded database).
    pub feed: cluster::Feed,
    /// Sockets close at random moments within this window on shutdown, not all at once.
    pub shutdown_spread: Duration,
}

impl Live {
    pub fn new(
        inventory: Arc<Inventory>,
        tokens: Arc<Tokens>,
        config: &crate::config::Config,
    ) -> Arc<Live> {
        let idle_timeout = config.socket_idle_timeout;
        let node_name = config.node_name.as_str();
        Arc::new(Live {
            hub: Hub::default(),
            inventory,
            tokens,
            idle_timeout,
            shutdown: tokio_util::sync::CancellationToken::new(),
            presence: Presence::new(node_name),
            node_name: node_name.to_string(),
            sockets: AtomicI64::new(0),
            channels: AtomicI64::new(0),
            feed: cluster::Feed::default(),
            shutdown_spread: config.shutdown_spread,
        })
    }

    /// Turns every inventory event into pushes, for as long as the inventory lives.
    pub fn spawn_event_pump(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let live = Arc::clone(self);
        let mut events = live.inventory.subscribe();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(published) => live.on_inventory_event(&published.event),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "live pump fell behind; re-pushing every product");
                        live.resend_all_products();
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        })
    }

    /// What open pages see when the inventory changes: rendered once from this node's cache,
    /// serialized once, queued for every subscriber.
    pub fn on_inventory_event(&self, event: &InventoryEvent) {
        match event {
            InventoryEvent::Released { product_id } => {
                let payload = self
                    .inventory
                    .read(|c| c.product(*product_id).map(product::released_payload));
                if let Some(payload) = payload {
                    self.hub
                        .broadcast(&product::topic(*product_id), "released", payload);
                }
                // The dashboard's row loses its release button.
                if self.hub.subscriber_count(admin::TOPIC) > 0 {
                    let row = self.inventory.read(|c| {
                        c.product(*product_id).map(|p| {
                            crate::html::fragments::admin::product_row(p, chrono::Utc::now())
                                .into_string()
                        })
                    });
                    if let Some(html) = row {
                        self.hub.broadcast(
                            admin::TOPIC,
                            "released",
                            json!({ "product_id": product_id, "html": html }),
                        );
                    }
                }
            }
            InventoryEvent::StockChanged(change) => {
                self.push_admin_stock(change.item_id);
                // Shoppers hear only of level changes (and of every `out`).
                if !change.announce() {
                    return;
                }
                let payload = self.inventory.read(|c| {
                    c.product(change.product_id)
                        .and_then(|p| product::stock_change_payload(p, change))
                });
                if let Some(payload) = payload {
                    self.hub
                        .broadcast(&product::topic(change.product_id), "stock_change", payload);
                }
                // Carts holding the pair re-render when it sells out or comes back.
                if change.old_level.is_out() || change.new_level.is_out() {
                    self.hub.broadcast(
                        &cart::item_topic(change.item_id),
                        "availability",
                        json!({ "item_id": change.item_id }),
                    );
                }
            }
        }
    }

    /// Admins watch every size's stock: the row is re-rendered, and carted counts refreshed.
    fn push_admin_stock(&self, item_id: crate::domain::ItemId) {
        if self.hub.subscriber_count(admin::TOPIC) == 0 {
            return;
        }
        let html = self.inventory.read(|c| {
            c.item(item_id)
                .map(|(_, i)| crate::html::fragments::admin::item_row(i).into_string())
        });
        if let Some(html) = html {
            self.hub.broadcast(
                admin::TOPIC,
                "stock_change",
                json!({ "item_id": item_id, "html": html }),
            );
        }
        // The carted-pairs panel shows stock too; the flusher re-renders it at most 10 times a
        // second, so no need to work out here whether this pair is in anyone's cart.
        self.presence.touch();
    }

    /// Presence diffs for admins, coalesced: one push per `FLUSH_EVERY` at most, each with
    /// the counts re-rendered.
    pub fn spawn_presence_flusher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let live = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let diff = live.presence.next_diff().await;
                if live.hub.subscriber_count(admin::TOPIC) > 0 {
                    let mut payload = diff.to_json();
                    payload["html"] = Value::String(admin::counts_html(&live));
                    live.hub.broadcast(admin::TOPIC, "presence_diff", payload);
                }
                tokio::time::sleep(presence::FLUSH_EVERY).await;
            }
        })
    }

    /// Server figures for admins, once a second while any admin watches.
    pub fn spawn_server_figures(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let live = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            let mut last_pushes = live.hub.pushes();
            loop {
                ticker.tick().await;
                let pushes = live.hub.pushes();
                let figures = crate::html::fragments::admin::ServerFigures {
                    sockets: live.sockets.load(Ordering::Relaxed),
                    channels: live.channels.load(Ordering::Relaxed),
                    pushes_per_second: pushes.saturating_sub(last_pushes),
                };
                last_pushes = pushes;
                if live.hub.subscriber_count(admin::TOPIC) > 0 {
                    let html = crate::html::fragments::admin::server(figures, &live.node_name)
                        .into_string();
                    live.hub
                        .broadcast(admin::TOPIC, "server", json!({ "html": html }));
                }
            }
        })
    }

    /// Tells every tab of a cart (on this node) that it changed. `origin` is the channel that
    /// made the change (0 for a plain form post), which already has the new state.
    pub fn cart_changed(&self, cart_id: &str, serialized: &Value, origin: u64) {
        self.hub.broadcast(
            &cart::updates_topic(cart_id),
            "cart_updated",
            json!({ "serialized": serialized, "origin": origin }),
        );
        // Tabs on other nodes too.
        self.feed.send(cluster::Message::Cart {
            cart: cart_id.to_string(),
            serialized: serialized.as_str().unwrap_or_default().to_string(),
            origin,
        });
    }

    /// Long-lived pages get a fresh socket token well before theirs expires.
    pub fn spawn_token_refresh(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let live = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                live.hub
                    .broadcast(cart::TOKEN_REFRESH_TOPIC, "refresh", json!({}));
            }
        })
    }

    fn resend_all_products(&self) {
        let payloads: Vec<_> = self.inventory.read(|c| {
            c.products()
                .filter(|p| p.released)
                .map(|p| (p.id, product::released_payload(p)))
                .collect()
        });
        for (id, payload) in payloads {
            self.hub.broadcast(&product::topic(id), "released", payload);
        }
    }
}
