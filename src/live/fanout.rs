//! Who hears what. Every event of this node reaches the one loop in [`run`]: inventory moves
//! and releases and cart changes (the inventory bus, fed by this node and, through the cluster
//! replicator, by the others), presence changes (coalesced), and two clocks (server figures,
//! token renewal). This file decides which topic gets which fragment; channels only subscribe
//! to these topics and translate client messages. A broadcast is rendered once from this node's
//! cache and serialized once for all its subscribers (see `hub`).
//!
//! A pair sells ([`Event::StockChanged`]):
//! - admins: the size's row of the inventory table (`admin:cart_tracker` `stock_change`), and
//!   the carted-pairs panel re-rendered with the next presence flush (it shows stock);
//! - shoppers on the product, only when the level changes or is `out`: `stock_change` with the
//!   re-rendered size button (`product:<id>`);
//! - carts showing the pair as an ended hold, when it sells out or comes back: each cart
//!   channel re-renders its panel with the warning (`item:<id>`, handled in the channel's
//!   `handle_info`). A pair held for a shopper cannot sell out under them.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, sleep_until};

use super::Live;
use super::presence::{Diff, FLUSH_EVERY};
use crate::domain::cart_line::EndedHold;
use crate::domain::draw::Standing;
use crate::domain::hold::Hold;
use crate::domain::line::LineFigures;
use crate::domain::presence::Counts;
use crate::domain::{Cart, Item, ItemId, Product, ProductId};
use crate::html::announce;
use crate::html::fragments::draw::{self, DrawPanel, Mine};
use crate::html::fragments::{admin, admin_orders, admin_sales, cart, product};
use crate::inventory::{Event, OrderFilter, PlacedOrder, Published};

/// Admins' topic: presence, counts, stock rows, server figures.
pub const ADMIN_TOPIC: &str = "admin:cart_tracker";
/// Every open cart channel and admin channel: time for a fresh token.
pub const TOKEN_REFRESH_TOPIC: &str = "token_refresh";

/// A product page's size selector.
pub fn product_topic(product_id: ProductId) -> String {
    format!("product:{product_id}")
}

/// An item going out of (or back into) stock, for the carts holding it.
pub fn item_topic(item_id: ItemId) -> String {
    format!("item:{item_id}")
}

/// Cart changes, for every tab of the cart.
pub fn cart_updates_topic(cart_id: &str) -> String {
    format!("{CART_UPDATES_PREFIX}{cart_id}")
}

/// What every cart's updates topic starts with.
pub const CART_UPDATES_PREFIX: &str = "cart_updates:";

/// How often open cart and admin channels get a fresh token (socket tokens live a day, admin
/// tokens 12 hours).
const TOKEN_REFRESH_EVERY: Duration = Duration::from_secs(6 * 3600);
const FIGURES_EVERY: Duration = Duration::from_secs(1);

pub fn spawn(live: &Arc<Live>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(Arc::clone(live)))
}

async fn run(live: Arc<Live>) {
    let mut events = live.inventory.subscribe();
    let mut figures = tokio::time::interval(FIGURES_EVERY);
    // A late tick is not made up with a burst: the chart is pushed at most once a second.
    figures.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sales_dirty = false;
    let mut last_pushes = live.hub.pushes();
    let mut tokens =
        tokio::time::interval_at(Instant::now() + TOKEN_REFRESH_EVERY, TOKEN_REFRESH_EVERY);
    // Presence diffs are coalesced: after a flush the next waits until `flush_at`.
    let mut flush_at = Instant::now();
    let mut flush_due = true;
    let draw_panels = super::draw_admin::Pushes::default();
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(Published { event, .. }) => {
                    sales_dirty |= record_sales(&live, &event);
                    on_event(&live, &event);
                    draw_panels.on_event(&live, &event);
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "fan-out fell behind; re-pushing every product");
                    resend_all_products(&live);
                }
                Err(RecvError::Closed) => break,
            },
            diff = live.presence.next_diff(), if flush_due => {
                on_presence(&live, diff);
                flush_due = false;
                flush_at = Instant::now() + FLUSH_EVERY;
            }
            () = sleep_until(flush_at), if !flush_due => flush_due = true,
            _ = figures.tick() => {
                let pushes = live.hub.pushes();
                let per_second = pushes.saturating_sub(last_pushes);
                live.pushes_per_second.store(per_second, std::sync::atomic::Ordering::Relaxed);
                on_figures(&live, per_second);
                last_pushes = pushes;
                on_sales_tick(&live, std::mem::take(&mut sales_dirty));
            }
            _ = tokens.tick() => {
                live.hub.broadcast(TOKEN_REFRESH_TOPIC, "refresh", json!({}));
            }
        }
    }
}

fn on_event(live: &Live, event: &Event) {
    match event {
        Event::Released { product_id } => {
            let payload = live.inventory.read(|c| {
                c.product(*product_id).map(|p| {
                    let mut payload = released_payload(p);
                    payload["announce"] = announce::released(p).into();
                    payload["announce_key"] = announce::release_key(p).into();
                    payload
                })
            });
            if let Some(payload) = payload {
                live.hub
                    .broadcast(&product_topic(*product_id), "released", payload);
            }
            // The dashboard's row loses its release button.
            if live.hub.subscriber_count(ADMIN_TOPIC) > 0 {
                let row = live.inventory.read(|c| {
                    c.product(*product_id)
                        .map(|p| admin::product_row(p, Utc::now()).into_string())
                });
                if let Some(html) = row {
                    let payload = json!({ "product_id": product_id, "html": html });
                    live.hub.broadcast(ADMIN_TOPIC, "released", payload);
                }
            }
        }
        Event::ProductChanged { product_id } => on_product_changed(live, *product_id),
        Event::StockChanged(change) => {
            if live.hub.subscriber_count(ADMIN_TOPIC) > 0 {
                let html = live.inventory.read(|c| {
                    c.item(change.item_id)
                        .map(|(_, i)| admin::item_row(i).into_string())
                });
                if let Some(html) = html {
                    let payload = json!({ "item_id": change.item_id, "html": html });
                    live.hub.broadcast(ADMIN_TOPIC, "stock_change", payload);
                }
                // The carted-pairs panel shows stock too: the next flush re-renders it.
                live.presence.touch();
            }
            if change.announce() {
                // The join's state carries no words: only a change is said aloud.
                let payload = live.inventory.read(|c| {
                    let product = c.product(change.product_id)?;
                    let item = product.item(change.item_id)?;
                    let mut payload = size_payload(product, item);
                    payload["announce"] =
                        announce::stock_change(product, item, change.old_level).into();
                    payload["announce_key"] = announce::item_key(item).into();
                    Some(payload)
                });
                if let Some(payload) = payload {
                    live.hub
                        .broadcast(&product_topic(change.product_id), "stock_change", payload);
                }
            }
            if change.old_level.is_out() || change.new_level.is_out() {
                let payload = json!({ "item_id": change.item_id });
                live.hub
                    .broadcast(&item_topic(change.item_id), "availability", payload);
            }
        }
        Event::CartChanged {
            cart_id,
            serialized,
            origin,
        } => {
            let payload = json!({ "serialized": serialized, "origin": origin });
            live.hub
                .broadcast(&cart_updates_topic(cart_id), "cart_updated", payload);
        }
        // Whatever was opened under an ended session closes (its clients reconnect as guests).
        Event::SessionsEnded { ids } => live.signed_in.end(ids),
        // The shopper's tabs re-read their holds (countdowns, a pair gone back).
        Event::HoldsChanged { holder } => {
            live.hub
                .broadcast(&cart_updates_topic(holder), "holds_changed", json!({}));
        }
        // The shopper's pages show the order's state; the dashboard lists orders.
        Event::OrderChanged { order_id, holder } => {
            live.hub.broadcast(
                &cart_updates_topic(holder),
                "order_changed",
                json!({ "order_id": order_id }),
            );
        }
        // The shopper's tabs show their entry's new standing (their own render of it).
        Event::DrawEntry {
            product_id,
            holder,
            standing,
        } => {
            if let Some(payload) = draw_payload(live, *product_id, holder, standing) {
                live.hub
                    .broadcast(&cart_updates_topic(holder), "draw", payload);
            }
        }
        // Every page of the product: the window line says so and the draw is published.
        Event::DrawMade { product_id } => {
            let html = live.inventory.read(|c| {
                let product = c.product(*product_id)?;
                let draw = live.inventory.draw(*product_id)?;
                Some(draw::window_line(product, draw.window, true, Utc::now()).into_string())
            });
            if let Some(html) = html {
                let payload = json!({ "product_id": product_id, "html": html });
                live.hub
                    .broadcast(&product_topic(*product_id), "draw_made", payload);
            }
        }
        // The tabs of each shopper whose place changed look it up (on their cart's topic:
        // shoppers not in the line hear nothing).
        Event::LineMoved {
            product_id,
            holders,
        } => {
            for holder in holders {
                live.hub.broadcast(
                    &cart_updates_topic(holder),
                    "line_moved",
                    json!({ "product_id": product_id }),
                );
            }
        }
    }
}

/// An admin's edit: the product's open pages re-render what it shows (`product_changed`), or
/// learn it is gone (`product_removed`: archived, back to draft, deleted); carts holding its
/// pairs re-render their panels (a new price, a size gone).
fn on_product_changed(live: &Live, product_id: ProductId) {
    let now = Utc::now();
    let (event, html, items) = live.inventory.read(|c| match c.product(product_id) {
        Some(p) if p.listed() => (
            "product_changed",
            product::details(p, now).into_string(),
            p.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        ),
        found => (
            "product_removed",
            product::gone(product_id).into_string(),
            found.map_or_else(Vec::new, |p| p.items.iter().map(|i| i.id).collect()),
        ),
    });
    let payload = json!({ "product_id": product_id, "html": html });
    live.hub
        .broadcast(&product_topic(product_id), event, payload);
    for item in items {
        live.hub.broadcast(
            &item_topic(item),
            "product_changed",
            json!({ "item_id": item }),
        );
    }
}

/// Presence for admins: the Phoenix Presence diff, with every count re-rendered.
fn on_presence(live: &Live, diff: Diff) {
    if live.hub.subscriber_count(ADMIN_TOPIC) == 0 {
        return;
    }
    let mut payload = diff.to_json();
    payload["html"] = Value::String(counts_html(live, &live.presence.counts()));
    live.hub.broadcast(ADMIN_TOPIC, "presence_diff", payload);
}

fn on_figures(live: &Live, pushes_per_second: u64) {
    if live.hub.subscriber_count(ADMIN_TOPIC) == 0 {
        return;
    }
    let html = admin::server(live.figures(pushes_per_second), live.cluster.node()).into_string();
    live.hub
        .broadcast(ADMIN_TOPIC, "server", json!({ "html": html }));
    let html = admin::cluster(&live.cluster_rows(), live.bus_view()).into_string();
    live.hub
        .broadcast(ADMIN_TOPIC, "cluster", json!({ "html": html }));
}

/// Feeds the sales series; `true` when the chart or the bars changed. Every node hears every
/// sale (its own and, through the replicator, the others'), so each node's chart counts all.
fn record_sales(live: &Live, event: &Event) -> bool {
    let now = Utc::now().timestamp();
    match event {
        Event::Released { product_id } => {
            live.with_sales(|s| s.record_release(now, *product_id));
            true
        }
        // The bars show the product's name and sizes.
        Event::ProductChanged { .. } => true,
        Event::StockChanged(change) if change.new_count < change.old_count => {
            let pairs = u32::try_from(change.old_count - change.new_count)
                .expect("a drop between two i32 counts with new < old is positive");
            live.with_sales(|s| {
                s.record_sale(now, change.product_id, pairs);
                if change.new_count == 0 {
                    s.record_sold_out(now, change.item_id);
                }
            });
            true
        }
        // A restock moves the bars' "left" figure.
        Event::StockChanged(_) => true,
        Event::CartChanged { .. }
        | Event::SessionsEnded { .. }
        | Event::HoldsChanged { .. }
        | Event::DrawEntry { .. }
        | Event::DrawMade { .. } => false,
        // The latest orders show their states.
        Event::OrderChanged { .. } => true,
        // The bars show each line's length.
        Event::LineMoved { .. } => true,
    }
}

/// The chart and the bars, once a second while anything sold in the window (the chart
/// scrolls) or the bars moved.
fn on_sales_tick(live: &Arc<Live>, dirty: bool) {
    if live.hub.subscriber_count(ADMIN_TOPIC) == 0 {
        return;
    }
    if dirty {
        push_latest_orders(live);
    }
    let now = Utc::now().timestamp();
    if !dirty && !live.with_sales(|s| s.active(now)) {
        return;
    }
    live.hub.broadcast(
        ADMIN_TOPIC,
        "sales",
        json!({ "html": sales_html(live, now) }),
    );
}

/// How many orders the dashboard lists.
pub const LATEST_ORDERS: i64 = 15;

/// The orders table's rows, from the inventory's orders.
pub fn order_rows(orders: &[PlacedOrder]) -> Vec<admin_orders::OrderLine<'_>> {
    orders
        .iter()
        .map(|o| admin_orders::OrderLine {
            id: o.id,
            placed_at: o.placed_at,
            email: o.email.as_deref(),
            total_cents: o.total_cents,
            node: o.node.as_deref(),
            lines: &o.lines,
        })
        .collect()
}

/// Sales went on (here or on another node): the dashboard's latest orders again, read from the
/// database (every node's orders are there), at most once a second.
fn push_latest_orders(live: &Arc<Live>) {
    let live = Arc::clone(live);
    tokio::spawn(async move {
        match live
            .inventory
            .orders(OrderFilter::Latest, LATEST_ORDERS)
            .await
        {
            Ok(orders) => {
                let html = admin_orders::latest_orders(&order_rows(&orders)).into_string();
                live.hub
                    .broadcast(ADMIN_TOPIC, "orders", json!({ "html": html }));
            }
            Err(error) => {
                tracing::warn!(error = %crate::error_chain::ErrorChain(&error), "cannot read the latest orders");
            }
        }
    });
}

/// Each waiting line's figures: waiting, let in, rate.
pub fn line_lengths(live: &Live) -> std::collections::HashMap<ProductId, LineFigures> {
    live.inventory.read_lines(|lines| {
        lines
            .lines
            .iter()
            .map(|(id, line)| (*id, line.figures()))
            .collect()
    })
}

/// `#admin-sales-chart` and `#admin-sell-through`, rendered from the series and the cache.
pub fn sales_html(live: &Live, now: i64) -> String {
    let lines = line_lengths(live);
    live.with_sales(|series| {
        live.inventory.read(|catalog| {
            let mut html = admin_sales::sales_chart(series, catalog, now).into_string();
            html.push_str(&admin_sales::sell_through(series, catalog, &lines).into_string());
            html
        })
    })
}

/// After a lag nobody knows what was missed: every released product's selector again.
fn resend_all_products(live: &Live) {
    let payloads: Vec<_> = live.inventory.read(|c| {
        c.products()
            .filter(|p| p.released)
            .map(|p| (p.id, released_payload(p)))
            .collect()
    });
    for (id, payload) in payloads {
        live.hub.broadcast(&product_topic(id), "released", payload);
    }
}

// ---- Payloads: what the broadcasts above carry and joins push as the current state ----------

/// `released` `{product_id, html}`: the size selector (no CSRF token: the frame is shared).
/// The broadcast adds `announce`, the words a screen reader says.
pub fn released_payload(product: &Product) -> Value {
    json!({
        "product_id": product.id,
        "html": product::sizes(product, Utc::now(), None).into_string(),
    })
}

/// `stock_change` `{product_id, item_id, level, html}`: one re-rendered size button (the
/// broadcast adds `announce` and its `announce_key`).
pub fn size_payload(product: &Product, item: &Item) -> Value {
    json!({
        "product_id": product.id,
        "item_id": item.id,
        "level": item.level(),
        "html": product::size_button(item).into_string(),
    })
}

/// The lines of a cart: its holds, then its ended holds, from this node's cache.
pub fn cart_lines(live: &Live, holds: &[Hold], ended: &[EndedHold]) -> Vec<cart::CartLine> {
    live.inventory
        .read(|catalog| cart::cart_lines(catalog, holds, ended))
}

/// `cart` `{html, serialized, count, holds}`: what cart pushes and `add_item`/`remove_item`
/// replies carry. The cart is what the shopper holds (the database's word) and the warnings of
/// holds that ended in it; `serialized` is its signed copy, `count` the pairs held, `holds`
/// each held pair's end `[{item_id, expires_at}]` (Unix ms). The CSRF token is the session's,
/// so every tab of a cart renders the same panel.
pub fn cart_payload(live: &Live, cart_id: &str, lines: &[cart::CartLine]) -> Value {
    let mut copy = Cart::default();
    for line in lines {
        // One of each pair, a cart's worth at most: a full copy only means a page looks it up.
        let _ = copy.add(line.item_id);
    }
    let csrf = live.tokens.csrf_for(cart_id);
    let ends: Vec<Value> = lines
        .iter()
        .filter(|l| !l.ended)
        .map(|l| json!({ "item_id": l.item_id, "expires_at": l.held_until_ms }))
        .collect();
    json!({
        "html": cart::cart_panel(lines, Some(&csrf)).into_string(),
        "serialized": copy.serialize(&live.tokens.cart, cart_id, Utc::now().timestamp_millis()),
        "count": cart::held_count(lines),
        "holds": ends,
    })
}

/// `draw` `{product_id, standing, html, announce?}`: the shopper's part of a draw panel
/// (`#draw-<id>-mine`) for their new standing.
fn draw_payload(live: &Live, product_id: ProductId, holder: &str, code: &str) -> Option<Value> {
    let standing = Standing::from_code(code)?;
    let draw = live.inventory.draw(product_id)?;
    let csrf = live.tokens.csrf_for(holder);
    let card_fields = live.inventory.payments().browser_keys().is_none();
    live.inventory.read(|c| {
        let product = c.product(product_id)?;
        let panel = DrawPanel {
            window: draw.window,
            drawn: draw.secret.is_some(),
            signed_in: true,
            mine: Some(Mine::standing(standing)),
            csrf: Some(&csrf),
            card_fields,
            email: "",
        };
        let mut payload = json!({
            "product_id": product_id,
            "standing": code,
            "html": draw::mine_block(product, &panel, Utc::now()).into_string(),
        });
        if let Some(words) = announce::draw_result(product, standing) {
            payload["announce"] = words.into();
        }
        Some(payload)
    })
}

/// Every count fragment of the dashboard, rendered from `counts` and the cache.
pub fn counts_html(live: &Live, counts: &Counts) -> String {
    live.inventory
        .read(|catalog| admin::counts(counts, catalog))
        .into_string()
}
