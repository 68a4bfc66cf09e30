//! Presence: who is here, on which page, with what in their cart. Every cart channel is tracked
//! under its cart id with `{page, items, online_at, phx_ref}`; admins get the full state on join
//! and then coalesced diffs (at most one per `FLUSH_EVERY`, each covering everything up to it)
//! in the shape of Phoenix Presence, so the official JS `Presence` object can consume them.
//! (Longer than most files: the local and remote halves share one lock and one pending diff, and
//! splitting them would spread one invariant over two files; a third of it is tests.)

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::domain::ItemId;
use crate::domain::presence::Counts;

/// Admins get at most this many pushes a second, whatever the churn.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub page: String,
    pub items: Vec<ItemId>,
    pub online_at: i64,
    pub phx_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

    pub fn join(&mut self, key: &str, meta: Meta) {
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

pub type Entries = BTreeMap<String, Vec<Meta>>;

fn counts_of(all: &Entries) -> Counts {
    Counts::tally(all.iter().flat_map(|(key, metas)| {
        metas
            .iter()
            .map(move |m| (key.as_str(), m.page.as_str(), m.items.as_slice()))
    }))
}

struct RemoteNode {
    entries: HashMap<String, Vec<Meta>>,
    last_seen: Instant,
}

#[derive(Default)]
struct State {
    /// This node's own entries.
    entries: HashMap<String, Vec<Meta>>,
    /// Other nodes' entries, as they last told us.
    remote: HashMap<String, RemoteNode>,
    /// Changes admins on this node have not seen yet.
    pending: Diff,
    /// This node's own changes other nodes have not been sent yet.
    outgoing: Diff,
    /// Something admins see changed without a join or leave (e.g. stock of a carted pair).
    touched: bool,
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
            s.pending.join(key, meta.clone());
            s.outgoing.join(key, meta);
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
            s.pending.leave(key, old.clone());
            s.pending.join(key, new.clone());
            s.outgoing.leave(key, old);
            s.outgoing.join(key, new);
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
            s.pending.leave(key, meta.clone());
            s.outgoing.leave(key, meta);
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

    /// Every node's entries merged: what admins see.
    fn all_entries(s: &State) -> Entries {
        let mut all = Entries::new();
        let nodes = std::iter::once(&s.entries).chain(s.remote.values().map(|n| &n.entries));
        for entries in nodes {
            for (key, metas) in entries {
                all.entry(key.clone())
                    .or_default()
                    .extend(metas.iter().cloned());
            }
        }
        all
    }

    /// What admins have been told so far: every entry, without the joins still pending and
    /// with the leaves still pending. A joining admin starts from this, so the next diff
    /// applies to it exactly: a join and leave that cancel out in the pending window were
    /// never in it.
    fn published_entries(s: &State) -> Entries {
        let mut all = Self::all_entries(s);
        for (key, metas) in &s.pending.joins {
            if let Some(list) = all.get_mut(key) {
                list.retain(|m| !metas.iter().any(|j| j.phx_ref == m.phx_ref));
                if list.is_empty() {
                    all.remove(key);
                }
            }
        }
        for (key, metas) in &s.pending.leaves {
            all.entry(key.clone())
                .or_default()
                .extend(metas.iter().cloned());
        }
        all
    }

    /// The state for a joining admin (`presence_state`) and the counts it adds up to.
    pub fn published(&self) -> (Value, Counts) {
        self.with(|s| {
            let entries = Self::published_entries(s);
            (shape(&entries), counts_of(&entries))
        })
    }

    /// This node's own entries (to send a node that asks).
    pub fn local_entries(&self) -> Entries {
        self.with(|s| {
            s.entries
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    }

    /// This node's changes since the last call, for the other nodes.
    pub fn take_outgoing(&self) -> Option<Diff> {
        self.with(|s| {
            let diff = std::mem::take(&mut s.outgoing);
            (!diff.is_empty()).then_some(diff)
        })
    }

    /// Notes that `node` is alive; `true` if we did not know it (it should send its state).
    pub fn heard_from(&self, node: &str) -> bool {
        self.with(|s| match s.remote.get_mut(node) {
            Some(known) => {
                known.last_seen = Instant::now();
                false
            }
            None => {
                s.remote.insert(
                    node.to_string(),
                    RemoteNode {
                        entries: HashMap::new(),
                        last_seen: Instant::now(),
                    },
                );
                true
            }
        })
    }

    /// Another node's delta.
    pub fn apply_remote(&self, node: &str, diff: Diff) {
        self.heard_from(node);
        self.with(|s| {
            let Some(remote) = s.remote.get_mut(node) else {
                return;
            };
            for (key, metas) in diff.leaves {
                for meta in metas {
                    if let Some(list) = remote.entries.get_mut(&key) {
                        list.retain(|m| m.phx_ref != meta.phx_ref);
                        if list.is_empty() {
                            remote.entries.remove(&key);
                        }
                    }
                    s.pending.leave(&key, meta);
                }
            }
            for (key, metas) in diff.joins {
                for meta in metas {
                    remote
                        .entries
                        .entry(key.clone())
                        .or_default()
                        .push(meta.clone());
                    s.pending.join(&key, meta);
                }
            }
        });
        self.changed.notify_one();
    }

    /// Another node's full state, in chunks; the first replaces what we had of that node.
    /// Admins see only the difference.
    pub fn apply_remote_state(&self, node: &str, entries: Entries, first: bool) {
        self.heard_from(node);
        self.with(|s| {
            let Some(remote) = s.remote.get_mut(node) else {
                return;
            };
            let old = if first {
                std::mem::take(&mut remote.entries)
            } else {
                HashMap::new()
            };
            let new_refs: HashSet<&str> = entries
                .values()
                .flatten()
                .map(|m| m.phx_ref.as_str())
                .collect();
            let mut kept = HashSet::new();
            for (key, metas) in old {
                for meta in metas {
                    if new_refs.contains(meta.phx_ref.as_str()) {
                        kept.insert(meta.phx_ref.clone());
                    } else {
                        s.pending.leave(&key, meta);
                    }
                }
            }
            for (key, metas) in entries {
                for meta in metas {
                    if !kept.contains(&meta.phx_ref) {
                        s.pending.join(&key, meta.clone());
                    }
                    remote.entries.entry(key.clone()).or_default().push(meta);
                }
            }
        });
        self.changed.notify_one();
    }

    /// Drops a node's entries as leaves (it said goodbye, or went silent).
    pub fn drop_node(&self, node: &str) {
        let dropped = self.with(|s| {
            let remote = s.remote.remove(node)?;
            for (key, metas) in remote.entries {
                for meta in metas {
                    s.pending.leave(&key, meta);
                }
            }
            Some(())
        });
        if dropped.is_some() {
            self.changed.notify_one();
        }
    }

    /// Drops every node not heard from within `down`; returns their names.
    pub fn expire(&self, down: Duration) -> Vec<String> {
        let silent: Vec<String> = self.with(|s| {
            s.remote
                .iter()
                .filter(|(_, n)| n.last_seen.elapsed() > down)
                .map(|(name, _)| name.clone())
                .collect()
        });
        for node in &silent {
            self.drop_node(node);
        }
        silent
    }

    pub fn counts(&self) -> Counts {
        self.with(|s| counts_of(&Self::all_entries(s)))
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

    fn ids(ids: &[i32]) -> Vec<ItemId> {
        ids.iter().copied().map(ItemId).collect()
    }

    #[test]
    fn counts_shoppers_pages_and_carted_items() {
        let presence = Presence::new("n");
        let a1 = presence.track("a", "/", ids(&[1, 2]));
        presence.track("a", "/products/3", ids(&[1, 2]));
        presence.track("b", "/", ids(&[2]));
        let counts = presence.counts();
        assert_eq!(counts.shoppers, 2);
        assert_eq!(
            counts.pages,
            BTreeMap::from([("/".into(), 2), ("/products/3".into(), 1)])
        );
        assert_eq!(
            counts.items,
            BTreeMap::from([(ItemId(1), 1), (ItemId(2), 2)])
        );
        presence.untrack("a", &a1);
        assert_eq!(presence.counts().pages.get("/"), Some(&1));
        assert_eq!(presence.counts().shoppers, 2);
    }

    #[tokio::test]
    async fn remote_nodes_count_and_leave_when_silent() {
        let presence = Presence::new("a");
        presence.track("local", "/", vec![]);
        let remote_meta = Meta {
            page: "/x".into(),
            items: ids(&[3]),
            online_at: 0,
            phx_ref: "b-1".into(),
            phx_ref_prev: None,
        };
        let mut diff = Diff::default();
        diff.join("shopper-b", remote_meta.clone());
        presence.apply_remote("b", diff);
        assert_eq!(presence.counts().shoppers, 2);
        assert_eq!(presence.counts().items.get(&ItemId(3)), Some(&1));
        let _ = presence.next_diff().await;
        // A full state without the entry turns it into a leave.
        presence.apply_remote_state("b", Entries::new(), true);
        let diff = presence.next_diff().await;
        assert_eq!(diff.leaves["shopper-b"][0].phx_ref, "b-1");
        assert_eq!(presence.counts().shoppers, 1);
        // And a silent node is dropped.
        let mut again = Diff::default();
        again.join("shopper-b", remote_meta);
        presence.apply_remote("b", again);
        assert_eq!(
            presence.expire(Duration::from_secs(60)),
            Vec::<String>::new()
        );
        assert_eq!(presence.expire(Duration::ZERO), vec!["b".to_string()]);
        assert_eq!(presence.counts().shoppers, 1);
        assert!(
            presence.take_outgoing().is_some(),
            "the local join is still to be shipped"
        );
    }

    #[tokio::test]
    async fn a_joining_admin_starts_where_the_next_diff_applies() {
        let presence = Presence::new("n");
        let flushed = presence.track("a", "/", vec![]);
        let _ = presence.next_diff().await;
        // Within one window: b joins, an admin joins, b leaves, a leaves.
        let b = presence.track("b", "/x", ids(&[4]));
        let (state, counts) = presence.published();
        assert!(state.get("b").is_none(), "b's join is not published yet");
        assert!(state.get("a").is_some());
        assert_eq!(counts.shoppers, 1);
        presence.untrack("b", &b);
        presence.untrack("a", &flushed);
        let diff = presence.next_diff().await;
        // Applied to the admin's state, the diff leaves nobody: b's join and leave cancelled
        // out, a's leave is there.
        assert!(diff.joins.is_empty() && !diff.leaves.contains_key("b"));
        assert_eq!(diff.leaves["a"][0].phx_ref, flushed);
        let (state, counts) = presence.published();
        assert_eq!(state, json!({}));
        assert_eq!(counts, Counts::default());
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

        let updated = presence.update_items("a", &kept, ids(&[7]));
        let diff = presence.next_diff().await;
        assert_eq!(diff.leaves["a"][0].phx_ref, kept);
        assert_eq!(diff.joins["a"][0].phx_ref, updated);
        assert_eq!(
            diff.joins["a"][0].phx_ref_prev.as_deref(),
            Some(kept.as_str())
        );
        assert_eq!(diff.joins["a"][0].items, ids(&[7]));
    }
}
