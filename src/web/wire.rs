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
