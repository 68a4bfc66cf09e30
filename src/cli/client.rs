//! A client of the running server's admin API, for the CLI (and the tests that drive it).

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::config::{Config, DEFAULT_PORT};
use crate::domain::product_file::ProductFile;
use crate::domain::{ItemId, ProductId};
use crate::web::wire::{ImportRefused, ImportReply, InventoryJson};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "no Sneakers server is reachable at {url} ({reason}); start one with `sneakers serve`, or point --url at it"
    )]
    Unreachable { url: String, reason: String },
    #[error(
        "the server at {url} refused the admin credentials; set ADMIN_USERNAME and ADMIN_PASSWORD"
    )]
    Unauthorized { url: String },
    #[error("no admin credentials: set ADMIN_PASSWORD (and ADMIN_USERNAME if it is not `admin`)")]
    NoCredentials,
    #[error("{message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("cannot set up the HTTP client")]
    Setup(#[source] reqwest::Error),
    #[error("unexpected answer from {url}: {reason}")]
    Protocol { url: String, reason: String },
}

impl ClientError {
    /// The API's error code (`sold_out`, `not_found`, ...), if the server refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ReleaseReply {
    pub product_id: ProductId,
    pub already_released: bool,
    #[serde(skip)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct StockReply {
    pub product_id: ProductId,
    pub item_id: ItemId,
    pub available_count: i32,
    pub level: String,
}

#[derive(Deserialize)]
struct ErrorReply {
    error: String,
    message: String,
}

#[derive(Clone)]
pub struct AdminClient {
    base: String,
    username: String,
    password: String,
    http: reqwest::Client,
}

impl AdminClient {
    pub fn new(
        base: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<AdminClient, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(ClientError::Setup)?;
        Ok(AdminClient {
            base: base.into().trim_end_matches('/').to_string(),
            username: username.into(),
            password: password.into(),
            http,
        })
    }

    /// `--url`, else `http://localhost:$PORT`; credentials from the environment, else from the
    /// local SQLite store's secrets file (as `sneakers serve` made them).
    pub fn from_env(url: Option<String>) -> Result<AdminClient, ClientError> {
        let url = url.unwrap_or_else(|| {
            let port = std::env::var("PORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(DEFAULT_PORT);
            format!("http://localhost:{port}")
        });
        let (username, password) = match (
            std::env::var("ADMIN_USERNAME").ok(),
            std::env::var("ADMIN_PASSWORD").ok(),
        ) {
            (user, Some(password)) => (user.unwrap_or_else(|| "admin".into()), password),
            _ => match Config::from_env() {
                Ok(config) => (config.admin.username, config.admin.password),
                Err(_) => return Err(ClientError::NoCredentials),
            },
        };
        AdminClient::new(url, username, password)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let (status, body) = self.exchange(request).await?;
        self.decode(status, &body)
    }

    /// The answer's status and body.
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, bytes::Bytes), ClientError> {
        let response = request
            .basic_auth(&self.username, Some(&self.password))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() || e.is_timeout() {
                    ClientError::Unreachable {
                        url: self.base.clone(),
                        reason: root_cause(&e),
                    }
                } else {
                    ClientError::Protocol {
                        url: self.base.clone(),
                        reason: root_cause(&e),
                    }
                }
            })?;
        let status = response.status();
        let protocol = |reason: String| ClientError::Protocol {
            url: self.base.clone(),
            reason,
        };
        let body = response
            .bytes()
            .await
            .map_err(|e| protocol(e.to_string()))?;
        Ok((status, body))
    }

    /// A success's JSON as `T`, or the refusal the server said.
    fn decode<T: DeserializeOwned>(
        &self,
        status: reqwest::StatusCode,
        body: &[u8],
    ) -> Result<T, ClientError> {
        let protocol = |reason: String| ClientError::Protocol {
            url: self.base.clone(),
            reason,
        };
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(ClientError::Unauthorized {
                url: self.base.clone(),
            });
        }
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorReply>(body) {
                Ok(reply) => ClientError::Refused {
                    status: status.as_u16(),
                    code: reply.error,
                    message: reply.message,
                },
                Err(_) => protocol(format!("HTTP {status}")),
            });
        }
        serde_json::from_slice(body).map_err(|e| protocol(e.to_string()))
    }

    /// Posts a product file: what was written, or every problem (422, nothing written).
    pub async fn import_products(
        &self,
        file: &ProductFile,
    ) -> Result<Result<ImportReply, ImportRefused>, ClientError> {
        let url = format!("{}/admin/products/import", self.base);
        let (status, body) = self.exchange(self.http.post(url).json(file)).await?;
        if status == reqwest::StatusCode::UNPROCESSABLE_ENTITY
            && let Ok(refused) = serde_json::from_slice::<ImportRefused>(&body)
        {
            return Ok(Err(refused));
        }
        self.decode(status, &body).map(Ok)
    }

    /// Every product as a product file.
    pub async fn export_products(&self) -> Result<ProductFile, ClientError> {
        self.send(
            self.http
                .get(format!("{}/admin/products/export", self.base)),
        )
        .await
    }

    pub async fn inventory(&self) -> Result<InventoryJson, ClientError> {
        self.send(self.http.get(format!("{}/admin/inventory", self.base)))
            .await
    }

    pub async fn release(&self, product: &str) -> Result<ReleaseReply, ClientError> {
        let mut reply: ReleaseReply = self
            .send(
                self.http
                    .post(format!("{}/admin/products/{product}/release", self.base)),
            )
            .await?;
        if let Ok(inventory) = self.inventory().await {
            reply.name = inventory
                .products
                .iter()
                .find(|p| p.id == reply.product_id)
                .map(|p| format!("{} {}", p.brand, p.name));
        }
        Ok(reply)
    }

    pub async fn sell(&self, item_id: ItemId, count: i32) -> Result<StockReply, ClientError> {
        let url = format!("{}/admin/items/{item_id}/sell", self.base);
        self.send(self.http.post(url).form(&[("count", count.to_string())]))
            .await
    }

    pub async fn restock(&self, item_id: ItemId, count: i32) -> Result<StockReply, ClientError> {
        let url = format!("{}/admin/items/{item_id}/restock", self.base);
        self.send(self.http.post(url).form(&[("count", count.to_string())]))
            .await
    }
}

fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
