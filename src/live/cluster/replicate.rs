//! What a node says to the others and what it does with what they say, whatever the adapter:
//! its own inventory changes and cart changes (never what it received: the book's
//! `being_replicated?`), its presence deltas with heartbeats (the design of Phoenix.Tracker: a
//! node owns its entries, a silent node's entries are dropped, a (re)joining node gets
//! everyone's state), which carts it holds open (for buses that route them), requests between
//! nodes, and a resync from the database whenever the feed (re)connects or a gap shows.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use super::NodeEvent;
use super::chunk::chunk_entries;
use super::wire::Message;
use crate::domain::figures::NodeFigures;
use crate::inventory::{Event, Published};
use crate::live::Live;
use crate::live::fanout::CART_UPDATES_PREFIX;
use crate::live::presence::{Diff, Entries};

/// How often this node's presence changes are shipped.
const SHIP_EVERY: Duration = Duration::from_millis(100);

pub fn spawn(live: &Arc<Live>, down_after: Duration) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(forward_local_events(Arc::clone(live))),
        tokio::spawn(ship_presence(Arc::clone(live), down_after)),
        tokio::spawn(follow_carts(Arc::clone(live))),
        tokio::spawn(receive(Arc::clone(live))),
    ]
}

/// A heartbeat often enough that a node is declared down only after several missed ones.
fn heartbeat_every(down_after: Duration) -> Duration {
    (down_after / 3).clamp(Duration::from_millis(100), Duration::from_secs(2))
}

/// Presence entries per message: half a payload, so a message never outgrows one.
fn entries_budget(live: &Live) -> usize {
    (live.cluster.adapter().max_payload() / 2).min(64 * 1024)
}

async fn forward_local_events(live: Arc<Live>) {
    let mut events = live.inventory.subscribe();
    loop {
        match events.recv().await {
            Ok(Published { event, local: true }) => live.cluster.publish(match event {
                Event::Released { product_id } => Message::Released {
                    product: product_id,
                },
                Event::ProductChanged { product_id } => Message::Product {
                    product: product_id,
                },
                Event::StockChanged(change) => Message::Stock {
                    item: change.item_id,
                    count: change.new_count,
                    version: change.version,
                },
                Event::CartChanged {
                    cart_id,
                    serialized,
                    origin,
                } => Message::Cart {
                    cart: cart_id,
                    serialized,
                    origin,
                },
                Event::SessionsEnded { ids } => Message::SessionsEnded { ids },
                Event::HoldsChanged { holder } => Message::Holds { holder },
                Event::OrderChanged { order_id, holder } => Message::Order {
                    order: order_id,
                    holder,
                },
                Event::DrawEntry {
                    product_id,
                    holder,
                    standing,
                } => Message::Draw {
                    product: product_id,
                    holder,
                    standing,
                },
                Event::DrawMade { product_id } => Message::DrawMade {
                    product: product_id,
                },
                // Never local: each node reads the lines itself.
                Event::LineMoved { .. } => continue,
            }),
            Ok(_) => {}
            Err(RecvError::Lagged(missed)) => {
                // What fell out of the buffer was never said: the others reload instead.
                tracing::warn!(missed, "cluster forwarder fell behind; peers will reload");
                live.cluster.publish(Message::Reload);
            }
            Err(RecvError::Closed) => break,
        }
    }
}

async fn ship_presence(live: Arc<Live>, down_after: Duration) {
    let mut ship = tokio::time::interval(SHIP_EVERY);
    let heartbeat = heartbeat_every(down_after);
    let mut last_heartbeat = tokio::time::Instant::now();
    loop {
        ship.tick().await;
        if let Some(diff) = live.presence.take_outgoing() {
            let budget = entries_budget(&live);
            let joins = chunk_entries(diff.joins, budget, |joins, _| Message::Presence {
                joins,
                leaves: Entries::new(),
            });
            let leaves = chunk_entries(diff.leaves, budget, |leaves, _| Message::Presence {
                joins: Entries::new(),
                leaves,
            });
            for message in joins.into_iter().chain(leaves) {
                live.cluster.publish(message);
            }
        }
        if last_heartbeat.elapsed() >= heartbeat {
            last_heartbeat = tokio::time::Instant::now();
            let figures = live.figures(live.pushes_per_second.load(Ordering::Relaxed));
            live.cluster.publish(Message::Heartbeat {
                sockets: figures.sockets,
                channels: figures.channels,
                pushes: figures.pushes_per_second,
                feed: live.cluster.status().as_str().to_string(),
            });
            for node in live.presence.expire(down_after) {
                tracing::warn!(%node, "node went silent: its shoppers left");
            }
        }
    }
}

/// Tells the adapter which carts this node holds open (a cart's tabs subscribe to its updates
/// topic), so a bus that routes cart messages brings this node only those.
async fn follow_carts(live: Arc<Live>) {
    let Some(mut changes) = live.hub.watch(CART_UPDATES_PREFIX) else {
        tracing::error!("the hub's topics are watched twice; carts are not followed");
        return;
    };
    while let Some((topic, occupied)) = changes.recv().await {
        if let Some(cart_id) = topic.strip_prefix(CART_UPDATES_PREFIX) {
            live.cluster.adapter().follow_cart(cart_id, occupied);
        }
    }
}

fn send_state(live: &Live) {
    let entries = live.presence.local_entries();
    let budget = entries_budget(live);
    for message in chunk_entries(entries, budget, |entries, first| Message::State {
        entries,
        first,
    }) {
        live.cluster.publish(message);
    }
}

async fn reload(live: &Live, why: &str) {
    if let Err(error) = live.inventory.reload().await {
        tracing::warn!(error = %crate::error_chain::ErrorChain(&error), why, "cache reload failed");
    }
}

async fn receive(live: Arc<Live>) {
    let mut events = live.cluster.adapter().subscribe();
    while let Some(event) = events.recv().await {
        match event {
            NodeEvent::Connected => {
                // A logout said while the feed was down was not heard.
                live.inventory.forget_cached_sessions();
                reload(&live, "after (re)connecting").await;
                live.cluster.publish(Message::Hello);
                send_state(&live);
            }
            NodeEvent::Resumed => {
                tracing::info!("cluster feed back; nothing was lost meanwhile");
            }
            NodeEvent::Gap => {
                tracing::warn!("messages were lost on the cluster feed: reloading the catalog");
                reload(&live, "after a gap in the feed").await;
            }
            NodeEvent::Received { node, messages } => apply(&live, &node, messages).await,
        }
    }
}

/// Applies what another node said.
async fn apply(live: &Arc<Live>, node: &str, messages: Vec<Message>) {
    let unknown = live.presence.heard_from(node);
    let mut resync = false;
    for message in messages {
        match message {
            Message::Stock {
                item,
                count,
                version,
            } => resync |= !live.inventory.apply_replicated_stock(item, count, version),
            Message::Released { product } => live.inventory.apply_replicated_release(product),
            Message::Product { product } => {
                if let Err(error) = live.inventory.apply_replicated_product(product).await {
                    tracing::warn!(error = %crate::error_chain::ErrorChain(&error), %product, "cannot read an edited product");
                    resync = true;
                }
            }
            Message::Cart {
                cart,
                serialized,
                origin,
            } => live
                .inventory
                .apply_replicated_cart(cart, serialized, origin),
            Message::Holds { holder } => live
                .inventory
                .apply_replicated(Event::HoldsChanged { holder }),
            Message::Order { order, holder } => {
                live.inventory.apply_replicated(Event::OrderChanged {
                    order_id: order,
                    holder,
                })
            }
            Message::Draw {
                product,
                holder,
                standing,
            } => live
                .inventory
                .apply_replicated_draw(product, holder, standing),
            Message::DrawMade { product } => {
                let live = Arc::clone(live);
                tokio::spawn(
                    async move { live.inventory.apply_replicated_draw_made(product).await },
                );
            }
            Message::Presence { joins, leaves } => {
                live.presence.apply_remote(node, Diff { joins, leaves })
            }
            Message::State { entries, first } => {
                live.presence.apply_remote_state(node, entries, first)
            }
            Message::Heartbeat {
                sockets,
                channels,
                pushes,
                feed,
            } => live.cluster.peers.heard(
                node,
                NodeFigures {
                    sockets,
                    channels,
                    pushes_per_second: pushes,
                },
                feed,
            ),
            Message::Relay {
                to,
                service,
                id,
                reply,
                last,
                data,
            } => {
                if to == live.cluster.node() {
                    let adapter = live.cluster.adapter();
                    live.cluster
                        .requests
                        .on_piece(adapter, node, &service, id, reply, last, &data);
                }
            }
            Message::SessionsEnded { ids } => live.inventory.apply_replicated_sessions_ended(ids),
            Message::Hello => send_state(live),
            Message::Bye => live.presence.drop_node(node),
            Message::Reload => {
                tracing::warn!(%node, "a node lost some of what it had to say");
                resync = true;
            }
        }
    }
    if unknown {
        // A node we did not know (new, or we restarted): ask for everyone's state.
        live.cluster.publish(Message::Hello);
    }
    if resync {
        tracing::warn!("a gap in the cluster feed (or an unknown item): reloading the catalog");
        reload(live, "after a gap").await;
    }
}
