//! What a node says to the others and what it does with what they say, whatever the adapter:
//! its own inventory changes and cart changes (never what it received: the book's
//! `being_replicated?`), its presence deltas with heartbeats (the design of Phoenix.Tracker: a
//! node owns its entries, a silent node's entries are dropped, a (re)joining node gets
//! everyone's state), and a resync from the database whenever the feed (re)connects or a gap
//! shows.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use super::NodeEvent;
use super::wire::{Message, chunk_entries};
use crate::html::fragments::admin::ServerFigures;
use crate::inventory::{Event, Published};
use crate::live::Live;
use crate::live::longpoll::LongPolls;
use crate::live::presence::{Diff, Entries};

/// How often this node's presence changes are shipped.
const SHIP_EVERY: Duration = Duration::from_millis(100);

pub fn spawn(live: &Arc<Live>, down_after: Duration) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(forward_local_events(Arc::clone(live))),
        tokio::spawn(ship_presence(Arc::clone(live), down_after)),
        tokio::spawn(receive(Arc::clone(live))),
    ]
}

/// A heartbeat often enough that a node is declared down only after several missed ones.
fn heartbeat_every(down_after: Duration) -> Duration {
    (down_after / 3).clamp(Duration::from_millis(100), Duration::from_secs(2))
}

async fn forward_local_events(live: Arc<Live>) {
    let mut events = live.inventory.subscribe();
    loop {
        match events.recv().await {
            Ok(Published { event, local: true }) => live.cluster.publish(match event {
                Event::Released { product_id } => Message::Released {
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
                // Never local: each node reads the lines itself.
                Event::LineMoved { .. } => continue,
            }),
            Ok(_) => {}
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "cluster forwarder fell behind; peers will resync");
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
            let joins = chunk_entries(diff.joins, |joins, _| Message::Presence {
                joins,
                leaves: Entries::new(),
            });
            let leaves = chunk_entries(diff.leaves, |leaves, _| Message::Presence {
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

fn send_state(live: &Live) {
    let entries = live.presence.local_entries();
    for message in chunk_entries(entries, |entries, first| Message::State { entries, first }) {
        live.cluster.publish(message);
    }
}

async fn receive(live: Arc<Live>) {
    let mut events = live.cluster.subscribe();
    while let Some(event) = events.recv().await {
        match event {
            NodeEvent::Connected => {
                if let Err(error) = live.inventory.reload().await {
                    tracing::warn!(error = %crate::error_chain::ErrorChain(&error), "cache reload after (re)connecting failed");
                }
                live.cluster.publish(Message::Hello);
                send_state(&live);
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
            Message::Cart {
                cart,
                serialized,
                origin,
            } => live
                .inventory
                .apply_replicated_cart(cart, serialized, origin),
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
            } => live.heard_heartbeat(
                node,
                ServerFigures {
                    sockets,
                    channels,
                    pushes_per_second: pushes,
                },
                feed,
            ),
            Message::Relay {
                to,
                id,
                reply,
                last,
                data,
            } => {
                if to == live.node_name {
                    LongPolls::on_relay(live, node, id, reply, last, &data);
                }
            }
            Message::Hello => send_state(live),
            Message::Bye => live.presence.drop_node(node),
        }
    }
    if unknown {
        // A node we did not know (new, or we restarted): ask for everyone's state.
        live.cluster.publish(Message::Hello);
    }
    if resync {
        tracing::warn!("a gap in the cluster feed (or an unknown item): reloading the catalog");
        if let Err(error) = live.inventory.reload().await {
            tracing::warn!(error = %crate::error_chain::ErrorChain(&error), "cache reload after a gap failed");
        }
    }
}
