//! The sockets of `shoppers`: a shopper (a cart socket with its own session, on a page,
//! carting one or two pairs, until told to leave) and the admin watching `admin:cart_tracker`.
//! Both tell the bench what happens as [`Event`]s on one channel.

use std::sync::Arc;

use serde_json::{Value, json};
use sneakers::live::protocol;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::http::Session;
use crate::ws::{self, SHOPPER_SOCKET, Socket, Target};

pub const ADMIN_TOPIC: &str = "admin:cart_tracker";

/// What shoppers and the admin tell the bench, on one channel: a shopper's `Joining` is queued
/// before its join frame is sent, so it always comes before the diff that names it.
pub enum Event {
    Joining {
        cart: Arc<str>,
        at: Instant,
    },
    /// Joined and carted, or why not.
    Ready {
        id: u32,
        cart: Arc<str>,
        result: Result<Carted, String>,
    },
    Lost {
        id: u32,
        reason: String,
    },
    /// A `presence_diff` the admin read.
    Diff {
        at: Instant,
        joins: Vec<String>,
        leaves: usize,
        shoppers: Option<u64>,
    },
    AdminLost(String),
}

/// How a shopper's join and `add_item`s were answered.
#[derive(Default)]
pub struct Carted {
    pub added: u32,
    pub sold_out: u32,
    pub duplicate: u32,
    pub refused: Option<String>,
    pub cart_pushes: u32,
    pub token_pushes: u32,
}

pub struct Shopper {
    pub id: u32,
    pub target: Arc<Target>,
    pub session: Session,
    pub page: &'static str,
    pub items: Vec<i32>,
    pub gate: Arc<Semaphore>,
    pub events: mpsc::UnboundedSender<Event>,
    pub leave: oneshot::Receiver<()>,
    pub stop: watch::Receiver<bool>,
}

impl Shopper {
    pub async fn run(self) {
        let joined = {
            let Ok(_permit) = self.gate.acquire().await else {
                return;
            };
            let mut stop = self.stop.clone();
            tokio::select! {
                joined = self.join_and_cart() => joined,
                _ = stop.changed() => return,
            }
        };
        let cart = Arc::clone(&self.session.cart_id);
        let mut socket = match joined {
            Ok((socket, carted)) => {
                let result = Ok(carted);
                let _ = self.events.send(Event::Ready {
                    id: self.id,
                    cart,
                    result,
                });
                socket
            }
            Err(reason) => {
                let result = Err(reason);
                let _ = self.events.send(Event::Ready {
                    id: self.id,
                    cart,
                    result,
                });
                return;
            }
        };
        let (mut leave, mut stop) = (self.leave, self.stop);
        let leaving = async move {
            tokio::select! {
                _ = &mut leave => {}
                _ = stop.changed() => {}
            }
        };
        match ws::listen(&mut socket, leaving, |_| {}).await {
            Some(reason) => {
                let _ = self.events.send(Event::Lost {
                    id: self.id,
                    reason,
                });
            }
            None => ws::close(&mut socket).await,
        }
    }

    async fn join_and_cart(&self) -> Result<(Socket, Carted), String> {
        let timeout = self.target.timeout;
        let mut socket = ws::connect(
            self.id,
            &self.target,
            SHOPPER_SOCKET,
            &self.session.token,
            ws::small_config(),
        )
        .await?;
        let topic = format!("cart:{}", self.session.cart_id);
        let mut carted = Carted::default();
        let _ = self.events.send(Event::Joining {
            cart: Arc::clone(&self.session.cart_id),
            at: Instant::now(),
        });
        let payload = json!({ "page": self.page, "serialized": null });
        ws::join(&mut socket, &topic, &payload, timeout).await?;
        for (index, item) in self.items.iter().enumerate() {
            let reference = (index + 2).to_string();
            let count = |_: &str, event: &str| match event {
                "cart" => carted.cart_pushes += 1,
                "new_token" => carted.token_pushes += 1,
                _ => {}
            };
            let payload = json!({ "item_id": item });
            let reply = ws::request(
                &mut socket,
                &topic,
                &reference,
                "add_item",
                &payload,
                timeout,
                count,
            )
            .await?;
            match (reply.ok, reply.response["error"].as_str()) {
                (true, _) => carted.added += 1,
                (false, Some("sold_out")) => carted.sold_out += 1,
                (false, Some("duplicate_item")) => carted.duplicate += 1,
                (false, _) => {
                    carted
                        .refused
                        .get_or_insert(format!("add_item {item} refused: {}", reply.response));
                }
            }
        }
        Ok((socket, carted))
    }
}

/// The admin's socket, read by its own task: every `presence_diff` becomes an [`Event::Diff`].
pub async fn watch_as_admin(
    mut socket: Socket,
    events: mpsc::UnboundedSender<Event>,
    mut stop: watch::Receiver<bool>,
) {
    let stopped = async move {
        let _ = stop.changed().await;
    };
    let on_text = |text: &str| {
        if let Some((joins, leaves, shoppers)) = presence_diff(text) {
            let _ = events.send(Event::Diff {
                at: Instant::now(),
                joins,
                leaves,
                shoppers,
            });
        }
    };
    match ws::listen(&mut socket, stopped, on_text).await {
        Some(reason) => {
            let _ = events.send(Event::AdminLost(reason));
        }
        None => ws::close(&mut socket).await,
    }
}

/// `[_, null, "admin:cart_tracker", "presence_diff", {joins, leaves, html}]`: the keys that
/// joined, how many left, and the shopper count in the html.
fn presence_diff(text: &str) -> Option<(Vec<String>, usize, Option<u64>)> {
    if protocol::peek(text)? != (ADMIN_TOPIC, "presence_diff") {
        return None;
    }
    let payload = protocol::decode(text).ok()?.payload;
    let joins = payload.get("joins")?.as_object()?.keys().cloned().collect();
    let leaves = payload.get("leaves")?.as_object()?.len();
    let html = payload.get("html").and_then(Value::as_str).unwrap_or("");
    Some((joins, leaves, shopper_count(html)))
}

/// `data-count` of the element with `id="admin-shoppers"`, whatever the attribute order.
fn shopper_count(html: &str) -> Option<u64> {
    let at = html.find("id=\"admin-shoppers\"")?;
    let start = html.get(..at)?.rfind('<')?;
    let end = at + html.get(at..)?.find('>')?;
    let tag = html.get(start..end)?;
    let value = tag.get(tag.find("data-count=\"")? + "data-count=\"".len()..)?;
    value.get(..value.find('"')?)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_presence_diffs() {
        let push = r#"["1",null,"admin:cart_tracker","presence_diff",{"joins":{"abc":{"metas":[{"page":"/"}]},"def":{"metas":[]}},"leaves":{"xyz":{"metas":[]}},"html":"<div class=\"stat\" id=\"admin-shoppers\" data-count=\"42\"><span>42</span></div><div id=\"admin-pages\" data-count=\"7\"></div>"}]"#;
        let (joins, leaves, count) = presence_diff(push).expect("a diff");
        assert_eq!(joins, vec!["abc".to_string(), "def".to_string()]);
        assert_eq!(leaves, 1);
        assert_eq!(count, Some(42));
        let other = r#"["1",null,"admin:cart_tracker","counts",{"html":""}]"#;
        assert!(presence_diff(other).is_none());
        let elsewhere = r#"["1",null,"cart:x","presence_diff",{"joins":{},"leaves":{}}]"#;
        assert!(presence_diff(elsewhere).is_none());
    }

    #[test]
    fn reads_the_shopper_count_in_any_attribute_order() {
        let html = r#"<div data-count="3" class="stat" id="admin-shoppers">3</div>"#;
        assert_eq!(shopper_count(html), Some(3));
        let html = r#"<div id="admin-pages" data-count="9"></div><div id="admin-shoppers" data-count="1">"#;
        assert_eq!(shopper_count(html), Some(1));
        assert_eq!(
            shopper_count("<div id=\"admin-pages\" data-count=\"9\">"),
            None
        );
        assert_eq!(shopper_count("id=\"admin-shoppers\""), None);
    }
}
