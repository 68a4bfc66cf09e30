//! Presence: who is here, on which page, with what in their cart. Every cart channel is tracked
//! under its cart id with `{page, items, online_at, phx_ref}`; admins get the full state on join
//! and then coalesced diffs (at most one per `FLUSH_EVERY`, each covering everything up to it)
//! in the shape of Phoenix Presence, so the official JS `Presence` object can consume them.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::domain::ItemId;

/// Admins get at most this many pushes a second, whatever the churn.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Meta {
    pub page: String,
    pub items: Vec<ItemId>,
    pub online_at: i64,
    pub phx_ref: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phx_ref_prev: Option<String>,
}

/// A presence diff: key -> metas that joined / left.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diff {
    pub joins: BTreeMap<String, Vec<Meta>>,
    pub leaves: BTreeMap<String, Vec<Meta>>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.joins.is_empty() && self.leaves.is_empty()
    }

    fn join(&mut self, key: &str, meta: Meta) {
        self.joins.entry(key.to_string()).or_default().push(meta);
    }

    /// A meta that joins and leaves within one window never reaches admins.
    fn leave(&mut self, key: &str, meta: Meta) {
        if let Some(joined) = self.joins.get_mut(key)
            && let Some(at) = joined.iter().position(|m| m.phx_ref == meta.phx_ref)
        {
            joined.remove(at);
            if joined.is_empty() {
                self.joins.remove(key);
            }
            return;
        }
        self.leaves.entry(key.to_string()).or_default().push(meta);
    }

    pub fn to_json(&self) -> Value {
        json!({ "joins": shape(&self.joins), "leaves": shape(&self.leaves) })
    }
}

/// Phoenix Presence's shape: `{key: {metas: [...]}}`.
fn shape<'a>(entries: impl IntoIterator<Item = (&'a String, &'a Vec<Meta>)>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(key, metas)| (key.clone(), json!({ "metas": metas })))
            .collect(),
    )
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Vec<Meta>>,
    pending: Diff,
    /// Something admins see changed without a join or leave (e.g. stock of a carted pair).
    touched: bool,
}

/// Counts an admin sees.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub shoppers: usize,
    /// Open pages per path.
    pub pages: BTreeMap<String, usize>,
    /// Carts holding each item.
    pub items: BTreeMap<ItemId, usize>,
}

pub struct Presence {
    state: Mutex<State>,
    changed: Notify,
    next_ref: AtomicU64,
    ref_prefix: String,
}

impl Presence {
    pub fn new(node_name: &str) -> Presence {
        // Refs must be unique across nodes: prefix them with something of this node's.
        let prefix = format!("{:x}", rand::random::<u32>() ^ node_name.len() as u32);
        Presence {
            state: Mutex::default(),
            changed: Notify::new(),
            next_ref: AtomicU64::new(1),
            ref_prefix: prefix,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn new_ref(&self) -> String {
        format!(
            "{}-{}",
            self.ref_prefix,
            self.next_ref.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Tracks one channel; returns its ref.
    pub fn track(&self, key: &str, page: &str, items: Vec<ItemId>) -> String {
        let meta = Meta {
            page: page.to_string(),
            items,
            online_at: chrono::Utc::now().timestamp_millis(),
            phx_ref: self.new_ref(),
            phx_ref_prev: None,
        };
        let phx_ref = meta.phx_ref.clone();
        self.with(|s| {
            s.entries
                .entry(key.to_string())
                .or_default()
                .push(meta.clone());
            s.pending.join(key, meta);
        });
        self.changed.notify_one();
        phx_ref
    }

    /// Replaces a tracked channel's items (as Phoenix does: a leave of the old meta and a join of
    /// the new one, which names the old ref). Returns the new ref.
    pub fn update_items(&self, key: &str, phx_ref: &str, items: Vec<ItemId>) -> String {
        let new_ref = self.new_ref();
        let changed = self.with(|s| {
            let metas = s.entries.get_mut(key)?;
            let at = metas.iter().position(|m| m.phx_ref == phx_ref)?;
            let old = metas[at].clone();
            let new = Meta {
                items,
                phx_ref: new_ref.clone(),
                phx_ref_prev: Some(old.phx_ref.clone()),
                ..old.clone()
            };
            metas[at] = new.clone();
            s.pending.leave(key, old);
            s.pending.join(key, new);
            Some(())
        });
        if changed.is_some() {
            self.changed.notify_one();
            new_ref
        } else {
            phx_ref.to_string()
        }
    }

    pub fn untrack(&self, key: &str, phx_ref: &str) {
        let removed = self.with(|s| {
            let metas = s.entries.get_mut(key)?;
            let at = metas.iter().position(|m| m.phx_ref == phx_ref)?;
            let meta = metas.remove(at);
            if metas.is_empty() {
                s.entries.remove(key);
            }
            s.pending.leave(key, meta);
            Some(())
        });
        if removed.is_some() {
            self.changed.notify_one();
        }
    }

    /// Asks for a push even without joins or leaves.
    pub fn touch(&self) {
        self.with(|s| s.touched = true);
        self.changed.notify_one();
    }

    pub fn state_json(&self) -> Value {
        self.with(|s| {
            let sorted: BTreeMap<&String, &Vec<Meta>> = s.entries.iter().collect();
            shape(sorted)
        })
    }

    pub fn counts(&self) -> Counts {
        self.with(|s| {
            let mut counts = Counts {
                shoppers: s.entries.len(),
                ..Counts::default()
            };
            for metas in s.entries.values() {
                let mut carted: Vec<ItemId> = Vec::new();
                for meta in metas {
                    *counts.pages.entry(meta.page.clone()).or_default() += 1;
                    carted.extend(&meta.items);
                }
                carted.sort_unstable();
                carted.dedup();
                for item in carted {
                    *counts.items.entry(item).or_default() += 1;
                }
            }
            counts
        })
    }

    /// Waits until something changed, then hands over everything pending since the last call.
    pub async fn next_diff(&self) -> Diff {
        loop {
            let taken = self.with(|s| {
                let touched = std::mem::take(&mut s.touched);
                let diff = std::mem::take(&mut s.pending);
                (!diff.is_empty() || touched).then_some(diff)
            });
            if let Some(diff) = taken {
                return diff;
            }
            self.changed.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_shoppers_pages_and_carted_items() {
        let presence = Presence::new("n");
        let a1 = presence.track("a", "/", vec![1, 2]);
        presence.track("a", "/products/3", vec![1, 2]);
        presence.track("b", "/", vec![2]);
        let counts = presence.counts();
        assert_eq!(counts.shoppers, 2);
        assert_eq!(
            counts.pages,
            BTreeMap::from([("/".into(), 2), ("/products/3".into(), 1)])
        );
        assert_eq!(counts.items, BTreeMap::from([(1, 1), (2, 2)]));
        presence.untrack("a", &a1);
        assert_eq!(presence.counts().pages.get("/"), Some(&1));
        assert_eq!(presence.counts().shoppers, 2);
    }

    #[tokio::test]
    async fn diffs_coalesce_and_cancel() {
        let presence = Presence::new("n");
        let kept = presence.track("a", "/", vec![]);
        let gone = presence.track("b", "/", vec![]);
        presence.untrack("b", &gone);
        let diff = presence.next_diff().await;
        assert_eq!(diff.joins.keys().collect::<Vec<_>>(), ["a"]);
        assert!(
            diff.leaves.is_empty(),
            "a join and leave in one window cancel out"
        );

        let updated = presence.update_items("a", &kept, vec![7]);
        let diff = presence.next_diff().await;
        assert_eq!(diff.leaves["a"][0].phx_ref, kept);
        assert_eq!(diff.joins["a"][0].phx_ref, updated);
        assert_eq!(
            diff.joins["a"][0].phx_ref_prev.as_deref(),
            Some(kept.as_str())
        );
        assert_eq!(diff.joins["a"][0].items, vec![7]);
    }
}
