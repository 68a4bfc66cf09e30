//! The JSON the admin API speaks, shared by its handlers and every client that reads it (the
//! CLI, the load tools, the tests): one definition, so a field added here reaches them all.

use serde::{Deserialize, Serialize};

use crate::domain::{ItemId, ProductId};

/// `GET /admin/inventory`: exact counts.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct InventoryJson {
    pub products: Vec<ProductJson>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ProductJson {
    pub id: ProductId,
    pub sku: String,
    pub brand: String,
    pub name: String,
    pub released: bool,
    pub release_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `draft|scheduled|live|sold_out|archived` (see `ProductState`).
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub price_cents: i32,
    /// How pairs are given out: `first_come`, or through a waiting `line`.
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub max_per_customer: Option<u32>,
    /// Whether the product has a waiting line, its rate, and the line's figures.
    #[serde(default)]
    pub queue: bool,
    #[serde(default)]
    pub admit_per_minute: Option<u32>,
    #[serde(default)]
    pub line_waiting: u32,
    #[serde(default)]
    pub line_admitted: u32,
    pub items: Vec<ItemJson>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ItemJson {
    pub id: ItemId,
    pub size: String,
    pub sku: String,
    pub available_count: i32,
    pub level: String,
    /// Pairs held in carts (not sold); `available_count` is what anyone else may still take.
    #[serde(default)]
    pub held_count: i64,
}

/// `POST /admin/products/import` (a product file, JSON): what was written.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ImportReply {
    /// SKUs of the products created, in the file's order.
    pub created: Vec<String>,
    /// SKUs of the products updated.
    pub updated: Vec<String>,
}

/// `POST /admin/products/import` refused (422, nothing written): every problem found.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ImportRefused {
    pub error: String,
    pub message: String,
    pub problems: Vec<ImportProblem>,
}

/// One problem of a file: its product (index in `products`), size (index in its `sizes`) and
/// field, in the product form's words.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    pub product: usize,
    pub size: Option<usize>,
    pub field: String,
    pub message: String,
}
