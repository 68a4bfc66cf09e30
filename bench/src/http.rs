//! The HTTP calls the benches share: shopper sessions (`GET /session/token`), the admin pages
//! and API (dashboard token, `/metrics`, setting an item's stock), and reading `<meta>` tags.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;

use sneakers::cli::{AdminClient, ClientError};
use sneakers::config::Config;
use sneakers::inventory::MAX_PAIRS_PER_MOVE;

use crate::error::{BenchError, root_cause};
use crate::procs::Credentials;
use crate::report::progress;

/// Token requests in flight.
const TOKEN_CONCURRENCY: usize = 64;

pub fn http_client(timeout: Duration) -> Result<reqwest::Client, BenchError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| BenchError::Http(format!("http client: {}", root_cause(&e))))
}

/// One shopper session: a socket token for its cart id, as a long-lived page gets it.
#[derive(Clone)]
pub struct Session {
    pub token: Arc<str>,
    pub cart_id: Arc<str>,
}

/// `count` sessions from `GET <base>/session/token`, each a new visitor (no cookie).
pub async fn fetch_sessions(base: &str, count: usize) -> Result<Vec<Session>, BenchError> {
    #[derive(Deserialize)]
    struct TokenReply {
        token: String,
        cart_id: String,
    }
    let http = http_client(Duration::from_secs(30))?;
    let url = format!("{base}/session/token");
    let bar = progress(count as u64, "tokens");
    let fetch = |_| {
        let (http, url, bar) = (&http, &url, &bar);
        async move {
            let response = http
                .get(url)
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| format!("GET {url}: {}", root_cause(&e)))?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!("GET {url}: HTTP {status}"));
            }
            let reply: TokenReply = response
                .json()
                .await
                .map_err(|e| format!("GET {url}: {}", root_cause(&e)))?;
            bar.inc(1);
            Ok::<_, String>(Session {
                token: reply.token.into(),
                cart_id: reply.cart_id.into(),
            })
        }
    };
    let sessions = stream::iter(0..count)
        .map(fetch)
        .buffer_unordered(TOKEN_CONCURRENCY)
        .try_collect()
        .await
        .map_err(|e| BenchError::Http(format!("no socket token: {e}")));
    bar.finish_and_clear();
    sessions
}

/// The admin side of one server: the API client the CLI uses, plus the pages it does not cover.
#[derive(Clone)]
pub struct Admin {
    pub api: AdminClient,
    credentials: Credentials,
    http: reqwest::Client,
}

impl Admin {
    pub fn new(base: &str, credentials: Credentials) -> Result<Admin, BenchError> {
        Ok(Admin {
            api: AdminClient::new(base, &credentials.username, &credentials.password)?,
            credentials,
            http: http_client(Duration::from_secs(30))?,
        })
    }

    /// For `--url`: ADMIN_USERNAME/ADMIN_PASSWORD, else the local SQLite store's secrets file
    /// (as the CLI's other commands find them).
    pub fn from_env(base: &str) -> Result<Admin, BenchError> {
        let credentials = match (
            std::env::var("ADMIN_USERNAME").ok(),
            std::env::var("ADMIN_PASSWORD").ok(),
        ) {
            (user, Some(password)) => Credentials {
                username: user.unwrap_or_else(|| "admin".into()),
                password,
            },
            _ => match Config::from_env() {
                Ok(config) => Credentials {
                    username: config.admin.username,
                    password: config.admin.password,
                },
                Err(_) => return Err(ClientError::NoCredentials.into()),
            },
        };
        Admin::new(base, credentials)
    }

    /// `GET <path>` with the admin login; the body.
    pub async fn get_text(&self, path: &str) -> Result<String, BenchError> {
        let url = format!("{}{path}", self.api.base());
        let response = self
            .http
            .get(&url)
            .basic_auth(&self.credentials.username, Some(&self.credentials.password))
            .send()
            .await
            .map_err(|e| BenchError::Http(format!("GET {url}: {}", root_cause(&e))))?;
        let status = response.status();
        if !status.is_success() {
            return Err(BenchError::Http(format!("GET {url}: HTTP {status}")));
        }
        response
            .text()
            .await
            .map_err(|e| BenchError::Http(format!("GET {url}: {}", root_cause(&e))))
    }

    /// The admin socket token from the dashboard's `<meta name="admin-token">`.
    pub async fn socket_token(&self) -> Result<String, BenchError> {
        let page = self.get_text("/admin").await?;
        meta(&page, "admin-token").ok_or_else(|| {
            BenchError::Http("GET /admin: no <meta name=\"admin-token\"> in the page".into())
        })
    }

    /// A counter or gauge from `GET /metrics` (summed over its labels); 0 if not recorded yet.
    pub async fn metric(&self, name: &str) -> Result<f64, BenchError> {
        let text = self.get_text("/metrics").await?;
        Ok(metric_value(&text, name))
    }
}

/// The sum of `name`'s samples in Prometheus text (with or without labels).
fn metric_value(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let value = if rest.starts_with('{') {
                rest.rsplit_once('}')?.1
            } else if rest.starts_with(' ') {
                rest
            } else {
                return None;
            };
            value.split_whitespace().next()?.parse::<f64>().ok()
        })
        .sum()
}

/// The `content` of `<meta name="<name>" content="...">` (as maud renders it).
pub fn meta(page: &str, name: &str) -> Option<String> {
    let tag = format!("<meta name=\"{name}\" content=\"");
    let start = page.find(&tag)? + tag.len();
    let end = page[start..].find('"')?;
    Some(page[start..start + end].replace("&amp;", "&"))
}

/// An item the bench works on.
pub struct Picked {
    pub product_id: i32,
    pub item_id: i32,
    /// `Brand Name`.
    pub product: String,
    pub size: String,
    /// Pairs before the bench set it.
    pub was: i32,
}

/// The first size of the first released product, set to exactly `pairs` through the admin API.
pub async fn set_stock_of_first_item(
    admin: &AdminClient,
    pairs: i32,
) -> Result<Picked, BenchError> {
    let inventory = admin.inventory().await?;
    let Some((product, item)) = inventory
        .products
        .iter()
        .filter(|p| p.released)
        .find_map(|p| p.items.first().map(|i| (p, i)))
    else {
        return Err(BenchError::Unexpected(
            "no released product with sizes to bench on; release one with `sneakers release <id>`"
                .into(),
        ));
    };
    let mut now = item.available_count;
    // In steps the API accepts.
    while now != pairs {
        let step = (now - pairs).abs().min(MAX_PAIRS_PER_MOVE);
        let reply = if now > pairs {
            admin.sell(item.id, step).await?
        } else {
            admin.restock(item.id, step).await?
        };
        if reply.available_count == now {
            break;
        }
        now = reply.available_count;
    }
    if now != pairs {
        return Err(BenchError::Unexpected(format!(
            "could not set item {} to {pairs} pairs (it has {now})",
            item.id
        )));
    }
    Ok(Picked {
        product_id: product.id.0,
        item_id: item.id.0,
        product: format!("{} {}", product.brand, product.name),
        size: item.size.clone(),
        was: item.available_count,
    })
}

/// The item's pairs now, from `GET /admin/inventory`.
pub async fn stock_of(admin: &AdminClient, item_id: i32) -> Result<i32, BenchError> {
    admin
        .inventory()
        .await?
        .products
        .iter()
        .flat_map(|p| &p.items)
        .find(|i| i.id.0 == item_id)
        .map(|i| i.available_count)
        .ok_or_else(|| BenchError::Unexpected(format!("item {item_id} is gone from the inventory")))
}

/// Ids of every size of a released product that has pairs left.
pub async fn in_stock_items(admin: &AdminClient) -> Result<Vec<i32>, BenchError> {
    let items: Vec<i32> = admin
        .inventory()
        .await?
        .products
        .iter()
        .filter(|p| p.released)
        .flat_map(|p| &p.items)
        .filter(|i| i.available_count > 0)
        .map(|i| i.id.0)
        .collect();
    if items.is_empty() {
        return Err(BenchError::Unexpected(
            "no released product has pairs left; release or restock one first".into(),
        ));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meta_tags() {
        let page = r#"<head><meta name="csrf-token" content="abc.DEF-_"><meta name="admin-token" content="t&amp;1"></head>"#;
        assert_eq!(meta(page, "csrf-token").as_deref(), Some("abc.DEF-_"));
        assert_eq!(meta(page, "admin-token").as_deref(), Some("t&1"));
        assert_eq!(meta(page, "socket-token"), None);
    }

    #[test]
    fn reads_prometheus_counters() {
        let text = "# TYPE sneakers_cluster_published_total counter\n\
                    sneakers_cluster_published_total 42\n\
                    sneakers_cluster_published_total_other 7\n\
                    sneakers_pushes_total{node=\"a\"} 5\n\
                    sneakers_pushes_total{node=\"b\"} 6\n";
        assert_eq!(metric_value(text, "sneakers_cluster_published_total"), 42.0);
        assert_eq!(metric_value(text, "sneakers_pushes_total"), 11.0);
        assert_eq!(metric_value(text, "sneakers_missing_total"), 0.0);
    }
}
