//! `cart:<cart_id>`: a shopper's cart, shared by all their tabs (on any node). Joining restores
//! the cart from the client's signed token and pushes the panel; `add_item`/`remove_item`
//! change it; every change reaches the other tabs; a carted pair selling out re-renders the
//! panel with the warning.

use chrono::Utc;
use serde_json::{Value, json};

use super::{Ctx, HandleResult, Refusal};
use std::sync::Arc;

use crate::config::LimitedAction;
use crate::domain::account::{Ordered, SignedIn};
use crate::domain::cart::CartTokenError;
use crate::domain::{Cart, CartError, ItemId, ProductId, Shopper};
use crate::html::announce;
use crate::html::fragments::line::queue_panel;
use crate::live::fanout::{TOKEN_REFRESH_TOPIC, cart_payload, cart_updates_topic, item_topic};
use crate::live::hub::Broadcast;
use crate::live::{Identity, Live};

pub struct CartChannel {
    cart_id: String,
    /// Signed in: the account (its cart is saved for its other browsers).
    account: Option<Arc<SignedIn>>,
    cart: Cart,
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
                cart: Cart::default(),
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
        self.cart = match saved {
            Some(saved) => Cart::deserialize(Some(saved), signer, &self.cart_id, now),
            None => given,
        };
        self.cart
            .retain_existing(|id| ctx.live.inventory.read(|c| c.item(id).is_some()));
        ctx.subscribe_info(&cart_updates_topic(&self.cart_id));
        ctx.subscribe_info(TOKEN_REFRESH_TOPIC);
        self.follow_items(ctx);
        let page: String = payload["page"]
            .as_str()
            .unwrap_or("/")
            .chars()
            .take(MAX_PAGE_LEN)
            .collect();
        self.presence_ref = Some(ctx.live.presence.track(
            &self.cart_id,
            &page,
            self.cart.items().to_vec(),
        ));
        ctx.push("cart", &cart_payload(ctx.live, &self.cart_id, &self.cart));
        // The lines this shopper stands in; later moves come on the cart's own topic.
        let joined = ctx
            .live
            .inventory
            .read_lines(|lines| lines.joined(&self.cart_id));
        for product_id in joined {
            self.push_place(ctx, product_id);
        }
        // A page may reconnect with a day-old token: hand it a fresh one right away.
        ctx.push(
            "new_token",
            &json!({ "token": ctx.live.tokens.socket.sign(&self.subject(), now) }),
        );
        Ok(json!({}))
    }

    pub fn handle_in(&mut self, ctx: &mut Ctx, event: &str, payload: &Value) -> HandleResult {
        let none = Ordered::new();
        let ordered = self.account.as_ref().map_or(&none, |a| &a.ordered);
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
        let change = match event {
            "add_item" => item_id(payload).and_then(|id| {
                let inventory = &ctx.live.inventory;
                inventory.admission(id, &self.cart_id)?;
                inventory.read(|catalog| self.cart.add_from(catalog, id, ordered))
            }),
            "remove_item" => item_id(payload).and_then(|id| self.cart.remove(id)),
            _ => return HandleResult::UnknownEvent,
        };
        HandleResult::Reply(match change {
            Ok(()) => {
                self.follow_items(ctx);
                let reply = cart_payload(ctx.live, &self.cart_id, &self.cart);
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
                Ok(reply)
            }
            Err(error) => Err(json!({ "error": error.code(), "message": error.to_string() })),
        })
    }

    pub fn handle_info(&mut self, ctx: &mut Ctx, message: &Broadcast) {
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
        if message.event == "line_moved" {
            if let Some(product_id) = message.payload["product_id"]
                .as_i64()
                .and_then(|id| i32::try_from(id).ok())
            {
                self.push_place(ctx, ProductId(product_id));
            }
            return;
        }
        if message.event == "cart_updated" {
            if message.payload["origin"].as_u64() == Some(self.origin) {
                return;
            }
            // Another tab's cart, signed by this server: it replaces ours.
            let now = Utc::now().timestamp_millis();
            self.cart = Cart::deserialize(
                message.payload["serialized"].as_str(),
                &ctx.live.tokens.cart,
                &self.cart_id,
                now,
            );
            self.follow_items(ctx);
        }
        // `cart_updated`, or a carted pair sold out / came back: re-render the panel, and say
        // which pair it was.
        let mut payload = cart_payload(ctx.live, &self.cart_id, &self.cart);
        if message.event == "availability" {
            let words = message.payload["item_id"]
                .as_i64()
                .and_then(|id| i32::try_from(id).ok())
                .and_then(|id| {
                    ctx.live.inventory.read(|c| {
                        c.item(ItemId(id))
                            .map(|(p, i)| (announce::carted_pair(p, i), announce::item_key(i)))
                    })
                });
            if let Some((words, key)) = words {
                payload["announce"] = words.into();
                payload["announce_key"] = key.into();
            }
        }
        ctx.push("cart", &payload);
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

    /// What this cart's socket tokens carry (see `Shopper::subject`).
    fn subject(&self) -> String {
        match &self.account {
            Some(account) => Shopper::signed_in(self.cart_id.clone(), account.id, account.session),
            None => Shopper::guest(self.cart_id.clone()),
        }
        .subject()
    }

    pub fn terminate(&mut self, live: &Live) {
        if let Some(phx_ref) = self.presence_ref.take() {
            live.presence.untrack(&self.cart_id, &phx_ref);
        }
    }

    /// Subscribes to exactly the items in the cart, and tells presence what it holds.
    fn follow_items(&mut self, ctx: &mut Ctx) {
        if let Some(phx_ref) = &self.presence_ref {
            let updated =
                ctx.live
                    .presence
                    .update_items(&self.cart_id, phx_ref, self.cart.items().to_vec());
            self.presence_ref = Some(updated);
        }
        let wanted: Vec<String> = self.cart.items().iter().map(|id| item_topic(*id)).collect();
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
