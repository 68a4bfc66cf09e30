//! What nodes tell each other, and how it is packed into NOTIFY payloads (at most 8,000 bytes
//! each). Messages are small JSON with the origin node: ids, counts and versions, never HTML
//! (each node renders from its own cache).

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::{ItemId, ProductId};
use crate::live::presence::Entries;

/// NOTIFY payloads must stay under 8,000 bytes; keep a margin for the envelope.
pub const MAX_PAYLOAD: usize = 7_800;

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
    Cart {
        cart: String,
        serialized: String,
        origin: u64,
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
    /// A piece of a longpoll request for the node `to` that holds the session, or of its
    /// answer (`reply`), cut to fit NOTIFY payloads; `last` ends one (see `live::longpoll`).
    Relay {
        to: String,
        id: u64,
        reply: bool,
        last: bool,
        data: String,
    },
    /// "I am new here (or back): send me your state."
    Hello,
    Bye,
}

/// One NOTIFY: the origin node and its messages.
#[derive(Serialize, Deserialize, Debug)]
pub struct Envelope {
    pub n: String,
    pub m: Vec<Message>,
}

/// Packs messages into as few payloads as fit; a message too big for one is refused loudly.
pub fn pack(node: &str, messages: Vec<Message>) -> Vec<String> {
    let envelope =
        |parts: &[String]| format!("{{\"n\":{},\"m\":[{}]}}", json!(node), parts.join(","));
    let overhead = envelope(&[]).len();
    let mut payloads = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = overhead;
    for message in messages {
        let text = serde_json::to_string(&message)
            .expect("messages are plain data with string keys: they always serialize");
        if text.len() + overhead > MAX_PAYLOAD {
            metrics::counter!("sneakers_cluster_refused_total").increment(1);
            tracing::error!(
                bytes = text.len(),
                "cluster message too big for NOTIFY: refused, not truncated"
            );
            continue;
        }
        if size + text.len() + 1 > MAX_PAYLOAD && !current.is_empty() {
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

/// Splits presence entries into messages that each fit in a payload. One key may hold more
/// metas than fit in one (a session open in many tabs): its metas are then spread over several
/// messages, which receivers add up.
pub fn chunk_entries(entries: Entries, make: impl Fn(Entries, bool) -> Message) -> Vec<Message> {
    let mut messages = Vec::new();
    let mut chunk = Entries::new();
    let mut size = 0;
    for (key, metas) in entries {
        for meta in metas {
            let bytes = serde_json::to_string(&meta)
                .expect("metas are plain data: they always serialize")
                .len()
                + key.len()
                + 8;
            if size + bytes > MAX_PAYLOAD / 2 && !chunk.is_empty() {
                messages.push(make(std::mem::take(&mut chunk), messages.is_empty()));
                size = 0;
            }
            size += bytes;
            chunk.entry(key.clone()).or_default().push(meta);
        }
    }
    if !chunk.is_empty() || messages.is_empty() {
        messages.push(make(chunk, messages.is_empty()));
    }
    messages
}

/// Reads one payload.
pub fn unpack(payload: &str) -> Result<Envelope, serde_json::Error> {
    serde_json::from_str(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ItemId;
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
        let payloads = pack("node-a", messages);
        assert!(payloads.len() > 1);
        let mut seen = 0;
        for payload in &payloads {
            assert!(payload.len() <= MAX_PAYLOAD, "{}", payload.len());
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
        let payloads = pack("n", vec![huge, small]);
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
        let chunks = chunk_entries(entries, |entries, first| Message::State { entries, first });
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
        for payload in pack("n", chunks) {
            assert!(payload.len() <= MAX_PAYLOAD);
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
        let chunks = chunk_entries(entries, |joins, _| Message::Presence {
            joins,
            leaves: Entries::new(),
        });
        let payloads = pack("n", chunks);
        assert!(payloads.len() > 1);
        let mut seen = 0;
        for payload in &payloads {
            assert!(payload.len() <= MAX_PAYLOAD, "{}", payload.len());
            for message in unpack(payload).unwrap_or_else(|e| panic!("{e}")).m {
                if let Message::Presence { joins, .. } = message {
                    seen += joins["one-cart"].len();
                }
            }
        }
        assert_eq!(seen, 1_000, "every tab's meta arrives");
    }
}
