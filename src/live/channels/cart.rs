//! `cart:<cart_id>`: a shopper's cart, shared by all their tabs (on any node). A carted pair is
//! held for the shopper, so the cart is what the database says the shopper holds; the signed
//! token the client keeps is a copy, and only says whether there is anything to look up at
//! join. `add_item` takes a hold, `remove_item` gives it back; the database's part runs off the
//! connection's task (`Ctx::spawn_work`) and the reply follows when it is done. Every change,
//! from any tab or node, and a hold ending, makes the tabs read the holds again and push the
//! panel with each hold's end. A hold that ends unpaid stays in the panel as a warning, and the
//! tab follows its pair (`item:<id>`) to mark it sold out or back; each such move is said once
//! (`domain::cart_line`), in the words of `html::announce`.

use chrono::Utc;
use serde_json::{Value, json};

use super::{Ctx, HandleResult, Refusal, WORK_TOPIC};
use std::sync::Arc;

use crate::config::LimitedAction;
use crate::domain::account::{Ordered, SignedIn};
use crate::domain::cart::CartTokenError;
use crate::domain::cart::MAX_ITEMS;
use crate::domain::cart_line::{self, EndedHold, Standing};
use crate::domain::hold::Hold;
use crate::domain::order::OrderState;
use crate::domain::{Cart, CartError, ItemId, ProductId, Shopper};
use crate::error_chain::ErrorChain;
use crate::html::announce;
use crate::html::fragments::cart::{CartLine, cart_of};
use crate::html::fragments::line::queue_panel;
use crate::html::fragments::order_state::order_state;
use crate::inventory::holds::HoldError;
use crate::live::fanout::{
    TOKEN_REFRESH_TOPIC, cart_lines, cart_payload, cart_updates_topic, item_topic,
};
use crate::live::hub::Broadcast;
use crate::live::{Identity, Live};

pub struct CartChannel {
    cart_id: String,
    /// Signed in: the account (its cart is saved for its other browsers).
    account: Option<Arc<SignedIn>>,
    /// What the shopper holds, oldest first, as last read from the database.
    holds: Vec<Hold>,
    /// The holds that ended unpaid in the cart, as last read.
    ended: Vec<EndedHold>,
    /// How each line stood in the last panel this tab was sent: what a new one says moved.
    shown: Vec<(ItemId, Standing)>,
    /// Numbers this channel's reads of the holds, so a read that answers after a newer one
    /// is dropped.
    reads: u64,
    /// This tab in presence, once joined.
    presence_ref: Option<String>,
    /// Tells this channel's own change apart from other tabs' when it comes back.
    origin: u64,
}

/// Pages are paths; a longer one is cut, not refused.
const MAX_PAGE_LEN: usize = 200;

impl CartChannel {
    pub fn route(rest: &str, identity: &Identity) -> Result<CartChannel, Refusal> {
        match identity {
            Identity::Shopper { cart_id, account } if cart_id == rest => Ok(CartChannel {
                cart_id: cart_id.clone(),
                account: account.clone(),
                holds: Vec::new(),
                ended: Vec::new(),
                shown: Vec::new(),
                reads: 0,
                presence_ref: None,
                origin: rand::random(),
            }),
            _ => Err("unauthorized"),
        }
    }

    pub fn join(&mut self, ctx: &mut Ctx, payload: &Value) -> Result<Value, Value> {
        if self.session_ended(ctx) {
            // Its socket is closing too: nothing of the account is handed out meanwhile.
            return Err(json!({ "reason": "unauthorized" }));
        }
        let now = Utc::now().timestamp_millis();
        let signer = &ctx.live.tokens.cart;
        let given = payload["serialized"].as_str().filter(|t| !t.is_empty());
        // Another shopper's genuine cart (a copied cookie) is refused outright; a broken one
        // is an empty cart, as on the pages.
        let given = match given.map(|t| Cart::read(t, signer, &self.cart_id, now)) {
            Some(Err(CartTokenError::Foreign)) => {
                return Err(json!({
                    "reason": "foreign_cart",
                    "message": CartTokenError::Foreign.to_string(),
                }));
            }
            Some(read) => read.unwrap_or_default(),
            None => Cart::default(),
        };
        // A signed-in cart starts from the account's copy: another browser may have changed it
        // since this one's cookie was written.
        let saved = self.account.as_ref().and_then(|a| a.cart_token.as_deref());
        let copy = match saved {
            Some(saved) => Cart::deserialize(Some(saved), signer, &self.cart_id, now),
            None => given,
        };
        ctx.subscribe_info(&cart_updates_topic(&self.cart_id));
        ctx.subscribe_info(TOKEN_REFRESH_TOPIC);
        let page: String = payload["page"]
            .as_str()
            .unwrap_or("/")
            .chars()
            .take(MAX_PAGE_LEN)
            .collect();
        self.presence_ref = Some(ctx.live.presence.track(&self.cart_id, &page, Vec::new()));
        if copy.is_empty() {
            // Nothing carted: nothing to look up (most visitors, and every reconnect storm).
            self.after_join(ctx);
        } else {
            // The join's pushes follow the read, in the order a client expects.
            self.read_holds(ctx, Then::Join);
        }
        Ok(json!({}))
    }

    /// The join's pushes: the cart, the lines the shopper stands in, a fresh token.
    fn after_join(&mut self, ctx: &mut Ctx) {
        let lines = cart_lines(ctx.live, &self.holds, &self.ended);
        // The state as it is: nothing is news to a page that just joined.
        self.shown = standings(&lines);
        ctx.push("cart", &cart_payload(ctx.live, &self.cart_id, &lines));
        // The lines this shopper stands in; later moves come on the cart's own topic.
        let joined = ctx
            .live
            .inventory
            .read_lines(|lines| lines.joined(&self.cart_id));
        for product_id in joined {
            self.push_place(ctx, product_id);
        }
        // A page may reconnect with a day-old token: hand it a fresh one right away.
        let now = Utc::now().timestamp_millis();
        ctx.push(
            "new_token",
            &json!({ "token": ctx.live.tokens.socket.sign(&self.subject(), now) }),
        );
    }

    /// Reads the shopper's holds off the connection's task; [`CartChannel::holds_read`] takes
    /// the answer.
    fn read_holds(&mut self, ctx: &mut Ctx, then: Then) {
        self.reads += 1;
        let (read, inventory, holder) = (
            self.reads,
            Arc::clone(&ctx.live.inventory),
            self.cart_id.clone(),
        );
        ctx.spawn_work("holds_read", async move {
            let holds = current(inventory.cart_of(&holder).await);
            json!({ "read": read, "then": then.as_str(), "holds": holds })
        });
    }

    pub fn handle_in(&mut self, ctx: &mut Ctx, event: &str, payload: &Value) -> HandleResult {
        if matches!(event, "add_item" | "remove_item") {
            // The same budgets as the cart's forms: a socket is no way around them.
            let limiter = &ctx.live.limiter;
            if let Err(limited) =
                limiter.check(LimitedAction::Cart, ctx.address, Some(&self.cart_id))
            {
                return HandleResult::Reply(Err(json!({
                    "error": "rate_limited",
                    "message": "That was a lot of changes in a short time. Wait a moment and try again.",
                    "retry_after": limited.retry_after_secs(),
                })));
            }
        }
        let item = match event {
            "add_item" | "remove_item" => item_id(payload),
            _ => return HandleResult::UnknownEvent,
        };
        let item = match item.and_then(|id| match event {
            "add_item" => self.may_hold(ctx, id).map(|()| id),
            _ => Ok(id),
        }) {
            Ok(id) => id,
            Err(error) => return HandleResult::Reply(Err(refusal(error.code(), &error))),
        };
        let (inventory, shopper) = (Arc::clone(&ctx.live.inventory), self.shopper());
        let msg_ref = ctx.msg_ref.map(str::to_string);
        if event == "add_item" {
            ctx.spawn_work("added", async move {
                let outcome = match inventory.hold(&shopper, item).await {
                    Ok(_) => Ok(()),
                    Err(error) => Err(refused(&error)),
                };
                let holds = current(inventory.cart_of(&shopper.cart_id).await);
                json!({ "msg_ref": msg_ref, "outcome": outcome.err(), "holds": holds })
            });
        } else {
            ctx.spawn_work("removed", async move {
                let holder = &shopper.cart_id;
                // A held pair goes back; an ended hold's warning is dismissed.
                let removed = match inventory.release_hold(holder, item).await {
                    Ok(false) => inventory.forget_ended(holder, item).await,
                    done => done,
                };
                let outcome = match removed {
                    Ok(true) => None,
                    Ok(false) => Some(refusal(CartError::NotFound.code(), &CartError::NotFound)),
                    Err(error) => {
                        tracing::warn!(error = %ErrorChain(&error), "cannot give a hold back");
                        Some(unavailable())
                    }
                };
                let holds = current(inventory.cart_of(holder).await);
                json!({ "msg_ref": msg_ref, "outcome": outcome, "holds": holds })
            });
        }
        HandleResult::NoReply
    }

    /// What this tab can tell without the database about holding `item_id`: the cart's room,
    /// the line, and (from the cache) the size and the limit per customer. The database has
    /// the last word on stock and the limit.
    fn may_hold(&self, ctx: &Ctx, item_id: ItemId) -> Result<(), CartError> {
        if self.holds.iter().any(|h| h.item_id == item_id) {
            // A hold that ended since is pushed to the tab at once (and read again).
            return Err(CartError::DuplicateItem);
        }
        if self.holds.len() >= MAX_ITEMS {
            return Err(CartError::Full);
        }
        let none = Ordered::new();
        let ordered = self.account.as_ref().map_or(&none, |a| &a.ordered);
        let inventory = &ctx.live.inventory;
        inventory.admission(item_id, &self.cart_id)?;
        let mut probe = cart_of(&self.holds);
        inventory.read(|catalog| probe.add_from(catalog, item_id, ordered))
    }

    /// A change's answer is back: the holds as they are now, and the reply.
    fn changed(&mut self, ctx: &mut Ctx, payload: &Value) {
        let msg_ref = payload["msg_ref"].as_str();
        if let Some((holds, ended)) = holds_from(&payload["holds"]) {
            self.reads += 1;
            self.holds = holds;
            self.ended = ended;
        }
        let reply = self.panel(ctx);
        match &payload["outcome"] {
            Value::Null => {
                self.follow_items(ctx);
                let serialized = reply["serialized"]
                    .as_str()
                    .expect("cart_payload carries the signed cart as a string");
                if let Some(account) = &self.account {
                    let signed_ms = Utc::now().timestamp_millis();
                    ctx.live.inventory.save_account_cart_soon(
                        account.id,
                        serialized.to_string(),
                        signed_ms,
                    );
                }
                ctx.live
                    .inventory
                    .cart_changed(&self.cart_id, serialized.to_string(), self.origin);
                ctx.reply(msg_ref, true, reply);
            }
            refused => ctx.reply(msg_ref, false, refused.clone()),
        }
    }

    pub fn handle_info(&mut self, ctx: &mut Ctx, message: &Broadcast) {
        if message.topic == WORK_TOPIC {
            match message.event.as_str() {
                "holds_read" => self.holds_read(ctx, &message.payload),
                "order_read" => push_order(ctx, &message.payload),
                _ => self.changed(ctx, &message.payload),
            }
            return;
        }
        if message.topic == TOKEN_REFRESH_TOPIC {
            if self.session_ended(ctx) {
                return;
            }
            let token = ctx
                .live
                .tokens
                .socket
                .sign(&self.subject(), Utc::now().timestamp_millis());
            ctx.push("new_token", &json!({ "token": token }));
            return;
        }
        match message.event.as_str() {
            // A draw entry's standing: rendered for this shopper already, passed on as it is.
            "draw" => ctx.push("draw", &message.payload),
            // An ended hold's pair sold out or came back: the cache knows, no read needed.
            "availability" => {
                let panel = self.panel(ctx);
                ctx.push("cart", &panel);
            }
            "line_moved" => {
                if let Some(product_id) = message.payload["product_id"]
                    .as_i64()
                    .and_then(|id| i32::try_from(id).ok())
                {
                    self.push_place(ctx, ProductId(product_id));
                }
            }
            // This tab's own change came back: it already knows.
            "cart_updated" if message.payload["origin"].as_u64() == Some(self.origin) => {}
            // An order moved: the holds (paid ones are gone), and its state for the pages
            // that show it.
            "order_changed" => {
                self.read_holds(ctx, Then::Push);
                if let Some(order_id) = message.payload["order_id"]
                    .as_i64()
                    .and_then(|id| i32::try_from(id).ok())
                {
                    self.read_order(ctx, order_id);
                }
            }
            // Another tab's change, a hold ended or extended: read them again.
            "cart_updated" | "holds_changed" => {
                self.read_holds(ctx, Then::Push);
            }
            _ => {}
        }
    }

    /// Reads the state of this cart's order `order_id` off the connection's task;
    /// [`push_order`] takes the answer.
    fn read_order(&self, ctx: &mut Ctx, order_id: i32) {
        let (inventory, holder) = (Arc::clone(&ctx.live.inventory), self.cart_id.clone());
        ctx.spawn_work("order_read", async move {
            match inventory.order(order_id, &holder).await {
                Ok(Some(order)) => json!({ "order_id": order_id, "state": order.state.as_str() }),
                Ok(None) => Value::Null,
                Err(error) => {
                    tracing::warn!(error = %ErrorChain(&error), "cannot read an order's state");
                    Value::Null
                }
            }
        });
    }

    /// The holds are read: the join's pushes, or the panel again.
    fn holds_read(&mut self, ctx: &mut Ctx, payload: &Value) {
        let fresh = payload["read"].as_u64() == Some(self.reads);
        let join = payload["then"] == Then::Join.as_str();
        if fresh && let Some((holds, ended)) = holds_from(&payload["holds"]) {
            self.holds = holds;
            self.ended = ended;
            self.follow_items(ctx);
        }
        if join {
            self.after_join(ctx);
        } else if fresh {
            let panel = self.panel(ctx);
            ctx.push("cart", &panel);
        }
    }

    /// The panel as it is now, with the words for each line that moved on its own since the
    /// last one this tab was sent.
    fn panel(&mut self, ctx: &Ctx) -> Value {
        let lines = cart_lines(ctx.live, &self.holds, &self.ended);
        let now = standings(&lines);
        let news = cart_line::changes(&self.shown, &now);
        self.shown = now;
        let mut payload = cart_payload(ctx.live, &self.cart_id, &lines);
        let said: Vec<(String, String)> = ctx.live.inventory.read(|catalog| {
            news.iter()
                .filter_map(|&(id, news)| {
                    let (product, item) = catalog.item(id)?;
                    Some((
                        announce::cart_line(product, item, news),
                        announce::item_key(item),
                    ))
                })
                .collect()
        });
        if !said.is_empty() {
            let words: Vec<&str> = said.iter().map(|(w, _)| w.as_str()).collect();
            payload["announce"] = words.join(" ").into();
            // One line's news is the same change as its size's push on the product page:
            // both carry its key, and the page says this one.
            if let [(_, key)] = said.as_slice() {
                payload["announce_key"] = key.clone().into();
            }
        }
        payload
    }

    /// Pushes `queue` with the shopper's place in a product's line (the inventory says when it
    /// changed: see `inventory::line::moved_places`).
    fn push_place(&self, ctx: &mut Ctx, product_id: ProductId) {
        let inventory = &ctx.live.inventory;
        let Some(place) = inventory.place(product_id, &self.cart_id) else {
            return;
        };
        let (position, admitted) = (place.position, place.admitted_at.is_some());
        let window = inventory.admission_window();
        let now = Utc::now();
        let rendered = inventory.read(|c| {
            c.product(product_id).map(|p| {
                let html = queue_panel(p, Some(place), now, window, None).into_string();
                // Said once: a rejoin re-sends the same panel, which changes nothing.
                let words = place.may_cart(now, window).then(|| announce::admitted(p));
                (html, words)
            })
        });
        if let Some((html, words)) = rendered {
            let mut payload = json!({
                "product_id": product_id,
                "position": position,
                "admitted": admitted,
                "html": html,
            });
            if let Some(words) = words {
                payload["announce"] = words.into();
            }
            ctx.push("queue", &payload);
        }
    }

    /// Whether the session this signed-in channel was opened under has ended.
    fn session_ended(&self, ctx: &Ctx) -> bool {
        self.account
            .as_ref()
            .is_some_and(|a| ctx.live.inventory.session_ended(a.session))
    }

    /// Who this cart is.
    fn shopper(&self) -> Shopper {
        match &self.account {
            Some(account) => Shopper::signed_in(self.cart_id.clone(), account.id, account.session),
            None => Shopper::guest(self.cart_id.clone()),
        }
    }

    /// What this cart's socket tokens carry (see `Shopper::subject`).
    fn subject(&self) -> String {
        self.shopper().subject()
    }

    pub fn terminate(&mut self, live: &Live) {
        if let Some(phx_ref) = self.presence_ref.take() {
            live.presence.untrack(&self.cart_id, &phx_ref);
        }
    }

    /// Tells presence which pairs this cart holds, and follows the pairs of its ended holds
    /// (`item:<id>`: sold out, back in stock).
    fn follow_items(&mut self, ctx: &mut Ctx) {
        if let Some(phx_ref) = &self.presence_ref {
            let items = self.holds.iter().map(|h| h.item_id).collect();
            let updated = ctx
                .live
                .presence
                .update_items(&self.cart_id, phx_ref, items);
            self.presence_ref = Some(updated);
        }
        let wanted: Vec<String> = self.ended.iter().map(|e| item_topic(e.item_id)).collect();
        let stale: Vec<String> = ctx
            .subscribed_topics()
            .filter(|t| t.starts_with("item:") && !wanted.contains(t))
            .collect();
        for topic in stale {
            ctx.unsubscribe(&topic);
        }
        for topic in wanted {
            if !ctx.is_subscribed(&topic) {
                ctx.subscribe_info(&topic);
            }
        }
    }
}

/// What a join's read of the holds is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Then {
    /// The join's pushes wait for it.
    Join,
    /// The panel is pushed again.
    Push,
}

impl Then {
    fn as_str(self) -> &'static str {
        match self {
            Then::Join => "join",
            Then::Push => "push",
        }
    }
}

/// `order` `{order_id, state, html, announce}`: the order's state as `/account` shows it; a
/// page that does not show the order swaps nothing and says nothing.
fn push_order(ctx: &mut Ctx, read: &Value) {
    let Some(order_id) = read["order_id"]
        .as_i64()
        .and_then(|id| i32::try_from(id).ok())
    else {
        return;
    };
    let Some(state) = read["state"]
        .as_str()
        .and_then(|s| s.parse::<OrderState>().ok())
    else {
        return;
    };
    ctx.push(
        "order",
        &json!({
            "order_id": order_id,
            "state": state.as_str(),
            "html": order_state(order_id, state).into_string(),
            "announce": announce::order_state(order_id, state),
        }),
    );
}

/// How each line stands.
fn standings(lines: &[CartLine]) -> Vec<(ItemId, Standing)> {
    lines.iter().map(|l| (l.item_id, l.standing())).collect()
}

/// What the cart shows (`Inventory::cart_of`: holds that have not ended, and ended ones), for
/// the answer of spawned work; `null` when the database could not say (the tab keeps what it
/// knew).
fn current(cart: Result<(Vec<Hold>, Vec<EndedHold>), crate::inventory::InventoryError>) -> Value {
    match cart {
        Ok((holds, ended)) => json!({
            "held": holds
                .iter()
                .map(|h| json!([h.item_id.0, h.price_cents, h.expires_at_ms, h.extended]))
                .collect::<Vec<_>>(),
            "ended": ended
                .iter()
                .map(|e| json!([e.item_id.0, e.price_cents]))
                .collect::<Vec<_>>(),
        }),
        Err(error) => {
            tracing::warn!(error = %ErrorChain(&error), "cannot read a cart's holds");
            Value::Null
        }
    }
}

fn holds_from(value: &Value) -> Option<(Vec<Hold>, Vec<EndedHold>)> {
    let held = value["held"].as_array()?.iter().filter_map(|row| {
        Some(Hold {
            item_id: ItemId(i32::try_from(row[0].as_i64()?).ok()?),
            price_cents: i32::try_from(row[1].as_i64()?).ok()?,
            expires_at_ms: row[2].as_i64()?,
            extended: row[3].as_bool()?,
        })
    });
    let ended = value["ended"].as_array()?.iter().filter_map(|row| {
        Some(EndedHold {
            item_id: ItemId(i32::try_from(row[0].as_i64()?).ok()?),
            price_cents: i32::try_from(row[1].as_i64()?).ok()?,
        })
    });
    Some((held.collect(), ended.collect()))
}

/// The error reply of a refused change.
fn refusal(code: &str, why: &dyn std::fmt::Display) -> Value {
    json!({ "error": code, "message": why.to_string() })
}

fn unavailable() -> Value {
    refusal(
        "unavailable",
        &"The store cannot change your cart right now. Try again in a moment.",
    )
}

/// A refused hold, said as the cart's error reply: which rule said no.
fn refused(error: &HoldError) -> Value {
    match error.code() {
        Some(code) => refusal(code, error),
        None => {
            tracing::warn!(error = %ErrorChain(error), "cannot take a hold");
            unavailable()
        }
    }
}

/// `{"item_id": 12}`, or `"12"` as a form's field sent by the shim; anything else (missing,
/// a fraction, words) is `invalid_item`.
fn item_id(payload: &Value) -> Result<ItemId, CartError> {
    let field = &payload["item_id"];
    field
        .as_i64()
        .or_else(|| field.as_str().and_then(|s| s.parse().ok()))
        .and_then(|id| i32::try_from(id).ok())
        .map(ItemId)
        .ok_or(CartError::InvalidItem)
}
