//! The shopper pages' templates, kept until what they show changes. During a drop the catalog
//! changes a few times a second at most while thousands reload: each change is rendered and
//! compressed once, not once per visitor. A page with a countdown is rebuilt each second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

use super::template::Template;
use crate::domain::ProductId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageKey {
    Index,
    Product(ProductId),
}

/// A page rendered with slot markers, and whether it shows a countdown.
pub struct Rendered {
    pub html: String,
    pub ticking: bool,
}

struct Entry {
    version: u64,
    /// The second a countdown was rendered for; `None` when the page shows none.
    second: Option<i64>,
    template: Arc<Template>,
    /// Someone is rendering the next one: others keep serving this one meanwhile.
    building: bool,
}

#[derive(Default)]
pub struct PageCache {
    entries: Mutex<HashMap<PageKey, Entry>>,
}

impl PageCache {
    /// The page's template for `version` (of the inventory's shown state) at `now`; `render`
    /// makes it when needed, or says there is no such page.
    pub fn get(
        &self,
        key: PageKey,
        version: u64,
        now: DateTime<Utc>,
        render: impl FnOnce() -> Option<Rendered>,
    ) -> Option<Arc<Template>> {
        let second = now.timestamp();
        {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = entries.get_mut(&key) {
                let fresh = entry.version == version && entry.second.is_none_or(|s| s == second);
                if fresh || entry.building {
                    return Some(Arc::clone(&entry.template));
                }
                entry.building = true;
            }
        }
        // Rendered outside the lock: other pages (and this one's stale copy) stay served.
        let rendered = render();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(rendered) = rendered else {
            entries.remove(&key);
            return None;
        };
        let template = Arc::new(Template::new(&rendered.html));
        entries.insert(
            key,
            Entry {
                version,
                second: rendered.ticking.then_some(second),
                template: Arc::clone(&template),
                building: false,
            },
        );
        Some(template)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::web::routes::shop::template::Fill;

    fn rendered(text: &str, ticking: bool) -> Option<Rendered> {
        Some(Rendered {
            html: text.to_string(),
            ticking,
        })
    }

    fn text(template: &Template) -> String {
        let fill = Fill {
            socket_token: "",
            cart_id: "",
            csrf: "",
            cart_count: "",
            cart_panel: "",
            flash: "",
        };
        String::from_utf8_lossy(&template.plain(&fill)).into_owned()
    }

    #[test]
    fn renders_once_per_version_and_once_a_second_with_a_countdown() {
        let cache = PageCache::default();
        let renders = Cell::new(0);
        let now = Utc::now();
        let get = |version, now, ticking| {
            cache
                .get(PageKey::Index, version, now, || {
                    renders.set(renders.get() + 1);
                    rendered(&format!("v{version}"), ticking)
                })
                .map(|t| text(&t))
        };
        assert_eq!(get(1, now, false).as_deref(), Some("v1"));
        assert_eq!(
            get(1, now + chrono::Duration::seconds(5), false).as_deref(),
            Some("v1")
        );
        assert_eq!(renders.get(), 1);
        assert_eq!(get(2, now, true).as_deref(), Some("v2"));
        assert_eq!(get(2, now, true).as_deref(), Some("v2"));
        assert_eq!(renders.get(), 2);
        get(2, now + chrono::Duration::seconds(1), true);
        assert_eq!(
            renders.get(),
            3,
            "a countdown is rendered again the next second"
        );
        assert!(
            cache
                .get(PageKey::Product(ProductId(9)), 2, now, || None)
                .is_none()
        );
    }
}
