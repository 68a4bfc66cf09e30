//! What a product join pushes (one `stock_change` per size, or the whole selector as
//! `released`), serialized once per version of what pages show. A drop's crowd joins by the
//! thousand within seconds; each joiner would otherwise render and encode the same fragments.
//! Every change a page shows moves the inventory's page version (the page cache relies on the
//! same), so a state kept for a version is that version's state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::domain::ProductId;

/// Which state a joiner asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// The page already shows the sizes (`{"sizes_shown": true}`): each size's level.
    Sizes,
    /// The whole selector.
    Selector,
}

/// One push of a join's state, its payload already JSON.
#[derive(Debug)]
pub struct StatePush {
    pub event: &'static str,
    pub payload_json: Box<str>,
}

/// A product's state in one shape, and the version it was built for.
struct Kept {
    version: u64,
    pushes: Arc<[StatePush]>,
}

#[derive(Default)]
pub struct JoinStates {
    entries: Mutex<HashMap<(ProductId, Shape), Kept>>,
}

impl JoinStates {
    /// The pushes for `product` in `shape` at `version` (read before the catalog), made by
    /// `build` when this version has none yet. A build that read a newer catalog than
    /// `version` is kept for `version` too: it is only ever newer, never older.
    pub fn get(
        &self,
        product: ProductId,
        shape: Shape,
        version: u64,
        build: impl FnOnce() -> Vec<StatePush>,
    ) -> Arc<[StatePush]> {
        let key = (product, shape);
        {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(kept) = entries.get(&key)
                && kept.version == version
            {
                return Arc::clone(&kept.pushes);
            }
        }
        // Built outside the lock: a render must not hold up the other products' joiners.
        let pushes: Arc<[StatePush]> = build().into();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.get(&key).is_none_or(|kept| kept.version <= version) {
            let pushes = Arc::clone(&pushes);
            entries.insert(key, Kept { version, pushes });
        }
        pushes
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn builds_once_per_version_and_keeps_the_newest() {
        let states = JoinStates::default();
        let builds = Cell::new(0);
        let get = |version: u64| {
            states.get(ProductId(1), Shape::Sizes, version, || {
                builds.set(builds.get() + 1);
                vec![StatePush {
                    event: "stock_change",
                    payload_json: format!("{{\"v\":{version}}}").into(),
                }]
            })
        };
        assert_eq!(&*get(1)[0].payload_json, r#"{"v":1}"#);
        assert_eq!(&*get(1)[0].payload_json, r#"{"v":1}"#);
        assert_eq!(builds.get(), 1, "one build per version");
        assert_eq!(&*get(2)[0].payload_json, r#"{"v":2}"#);
        assert_eq!(builds.get(), 2);
        // A joiner that read an older version builds for itself but does not replace it.
        assert_eq!(&*get(1)[0].payload_json, r#"{"v":1}"#);
        assert_eq!(&*get(2)[0].payload_json, r#"{"v":2}"#);
        assert_eq!(builds.get(), 3);
        let other = states.get(ProductId(1), Shape::Selector, 2, Vec::new);
        assert!(other.is_empty(), "each shape is kept apart");
    }
}
