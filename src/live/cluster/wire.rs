//! What nodes tell each other, who needs to hear it ([`Route`]), and how messages are packed
//! into a bus's payloads (NOTIFY takes at most 8,000 bytes each). Messages are small JSON with
//! the origin node: ids, counts and versions, never HTML (each node renders from its own cache).
//! Every adapter carries these same messages.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::{ItemId, ProductId, SessionId};
use crate::live::presence::Entries;

/// NOTIFY payloads must stay under 8,000 bytes; keep a margin for the envelope.
pub const NOTIFY_PAYLOAD: usize = 7_800;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Message {
    Stock {
        item: ItemId,
        count: i32,
        version: i64,
    },
    Released {
        product: ProductId,
    },
    /// An admin changed a product: read it back from the database.
    Product {
        product: ProductId,
    },
    Cart {
        cart: String,
        serialized: String,
        origin: u64,
    },
    Holds {
        holder: String,
    },
    Order {
        order: i32,
        holder: String,
    },
    /// A draw entry's standing changed (see `Event::DrawEntry`).
    Draw {
        product: ProductId,
        holder: String,
        standing: String,
    },
    /// A draw was made (see `Event::DrawMade`).
    DrawMade {
        product: ProductId,
    },
    Presence {
        joins: Entries,
        leaves: Entries,
    },
    State {
        entries: Entries,
        first: bool,
    },
    /// "Still here", with what the node carries (older nodes sent none: zeros).
    Heartbeat {
        #[serde(default)]
        sockets: i64,
        #[serde(default)]
        channels: i64,
        #[serde(default)]
        pushes: u64,
        #[serde(default)]
        feed: String,
    },
    /// A piece of a request to node `to` for its `service`, or of its answer (`reply`), cut to
    /// fit the bus's payloads; `last` ends one (see `request`).
    Relay {
        to: String,
        #[serde(default)]
        service: String,
        id: u64,
        reply: bool,
        last: bool,
        data: String,
    },
    /// Sessions ended on the sending node: forget them, close their connections.
    SessionsEnded {
        ids: Vec<SessionId>,
    },
    /// "I am new here (or back): send me your state."
    Hello,
    Bye,
    /// "Some of what I had to say was lost (my queue overflowed, or I fell behind my own
    /// events): reload from the database."
    Reload,
}

/// Who has to hear a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// Every node, in one order (inventory, presence, heartbeats).
    All,
    /// Only that node (a request or its answer).
    Node(&'a str),
    /// Only the nodes holding that cart open.
    Cart(&'a str),
}

impl Message {
    pub fn route(&self) -> Route<'_> {
        match self {
            Message::Relay { to, .. } => Route::Node(to),
            Message::Cart { cart, .. } | Message::Holds { holder: cart } => Route::Cart(cart),
            // Inventory, presence, heartbeats and orders (admins anywhere list them).
            _ => Route::All,
        }
    }
}

/// One payload: the origin node, a number no other payload of this process has (a
/// transaction's identical NOTIFYs would be delivered once), and its messages.
#[derive(Serialize, Deserialize, Debug)]
pub struct Envelope {
    pub n: String,
    #[serde(default)]
    pub s: u64,
    pub m: Vec<Message>,
}

static PAYLOADS: AtomicU64 = AtomicU64::new(1);

/// Packs messages into as few payloads of at most `max` bytes as fit; a message too big for
/// one is refused loudly.
pub fn pack(node: &str, messages: Vec<Message>, max: usize) -> Vec<String> {
    let node = json!(node);
    let envelope = |parts: &[String]| {
        let seq = PAYLOADS.fetch_add(1, Ordering::Relaxed);
        format!("{{\"n\":{node},\"s\":{seq},\"m\":[{}]}}", parts.join(","))
    };
    // The number takes at most 20 digits; the empty envelope's one may be shorter.
    let overhead = envelope(&[]).len() + 20;
    let mut payloads = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = overhead;
    for message in messages {
        let text = serde_json::to_string(&message)
            .expect("messages are plain data with string keys: they always serialize");
        if text.len() + overhead > max {
            metrics::counter!("sneakers_cluster_refused_total").increment(1);
            tracing::error!(
                bytes = text.len(),
                "cluster message too big for the bus: refused, not truncated"
            );
            continue;
        }
        if size + text.len() + 1 > max && !current.is_empty() {
            payloads.push(envelope(&current));
            current.clear();
            size = overhead;
        }
        size += text.len() + 1;
        current.push(text);
    }
    if !current.is_empty() {
        payloads.push(envelope(&current));
    }
    payloads
}

/// Reads one payload.
pub fn unpack(payload: &str) -> Result<Envelope, serde_json::Error> {
    serde_json::from_str(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ItemId;
    use crate::live::cluster::chunk::chunk_entries;
    use crate::live::presence::{Entries, Meta};

    #[test]
    fn packs_messages_under_the_notify_limit() {
        let messages: Vec<Message> = (0..2_000)
            .map(|i| Message::Stock {
                item: ItemId(i),
                count: 5,
                version: 9,
            })
            .collect();
        let payloads = pack("node-a", messages, NOTIFY_PAYLOAD);
        assert!(payloads.len() > 1);
        let mut seen = 0;
        for payload in &payloads {
            assert!(payload.len() <= NOTIFY_PAYLOAD, "{}", payload.len());
            let envelope: Envelope =
                serde_json::from_str(payload).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(envelope.n, "node-a");
            seen += envelope.m.len();
        }
        assert_eq!(seen, 2_000, "nothing lost");
    }

    #[test]
    fn an_oversized_message_is_refused_not_truncated() {
        let huge = Message::Cart {
            cart: "c".into(),
            serialized: "x".repeat(9_000),
            origin: 1,
        };
        let small = Message::Hello;
        let payloads = pack("n", vec![huge, small], NOTIFY_PAYLOAD);
        assert_eq!(payloads.len(), 1);
        assert!(payloads[0].contains("hello") && !payloads[0].contains("xxxx"));
    }

    #[test]
    fn presence_state_is_chunked() {
        let meta = |i: usize| Meta {
            page: "/".into(),
            items: vec![ItemId(1), ItemId(2), ItemId(3)],
            online_at: 0,
            phx_ref: format!("r{i}"),
            phx_ref_prev: None,
        };
        let entries: Entries = (0..500)
            .map(|i| (format!("{i:064}"), vec![meta(i)]))
            .collect();
        let chunks = chunk_entries(entries, NOTIFY_PAYLOAD / 2, |entries, first| {
            Message::State { entries, first }
        });
        assert!(chunks.len() > 1);
        let firsts = chunks
            .iter()
            .filter(|m| matches!(m, Message::State { first: true, .. }))
            .count();
        assert_eq!(firsts, 1);
        let total: usize = chunks
            .iter()
            .map(|m| {
                if let Message::State { entries, .. } = m {
                    entries.len()
                } else {
                    0
                }
            })
            .sum();
        assert_eq!(total, 500);
        for payload in pack("n", chunks, NOTIFY_PAYLOAD) {
            assert!(payload.len() <= NOTIFY_PAYLOAD);
        }
    }

    #[test]
    fn one_key_with_many_metas_is_spread_over_payloads() {
        let metas: Vec<Meta> = (0..1_000)
            .map(|i| Meta {
                page: "/".into(),
                items: vec![ItemId(1)],
                online_at: 0,
                phx_ref: format!("r{i}"),
                phx_ref_prev: None,
            })
            .collect();
        let entries: Entries = [("one-cart".to_string(), metas)].into_iter().collect();
        let chunks = chunk_entries(entries, NOTIFY_PAYLOAD / 2, |joins, _| Message::Presence {
            joins,
            leaves: Entries::new(),
        });
        let payloads = pack("n", chunks, NOTIFY_PAYLOAD);
        assert!(payloads.len() > 1);
        let mut seen = 0;
        for payload in &payloads {
            assert!(payload.len() <= NOTIFY_PAYLOAD, "{}", payload.len());
            for message in unpack(payload).unwrap_or_else(|e| panic!("{e}")).m {
                if let Message::Presence { joins, .. } = message {
                    seen += joins["one-cart"].len();
                }
            }
        }
        assert_eq!(seen, 1_000, "every tab's meta arrives");
    }
}
