//! A placed order, as its shopper reads it back.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: i32,
    pub total_cents: i32,
    pub placed_at: DateTime<Utc>,
    pub lines: Vec<OrderedPair>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedPair {
    pub brand: String,
    pub name: String,
    pub size: String,
    pub price_cents: i32,
}
