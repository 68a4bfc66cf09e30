//! `product:<id>`: a product page's live size selector. The join pushes the current state (a
//! client that was away converges without replay); releases and level changes reach it as
//! broadcasts made once for every subscriber (see `Live::on_inventory_event`).

use chrono::Utc;
use serde_json::{Value, json};

use super::Ctx;
use crate::domain::{Item, ItemChange, Product, ProductId};
use crate::html::fragments as views;

pub struct ProductChannel {
    product_id: ProductId,
}

pub fn topic(product_id: ProductId) -> String {
    format!("product:{product_id}")
}

/// `released` `{product_id, html}`: the size selector (no CSRF token: the frame is shared).
pub fn released_payload(product: &Product) -> Value {
    json!({
        "product_id": product.id,
        "html": views::product::sizes(product, Utc::now(), None).into_string(),
    })
}

/// `stock_change` `{product_id, item_id, level, html}`: the re-rendered size button.
pub fn stock_change_payload(product: &Product, change: &ItemChange) -> Option<Value> {
    product
        .item(change.item_id)
        .map(|item| item_payload(product, item))
}

fn item_payload(product: &Product, item: &Item) -> Value {
    json!({
        "product_id": product.id,
        "item_id": item.id,
        "level": item.level(),
        "html": views::product::size_button(item, None).into_string(),
    })
}

impl ProductChannel {
    pub fn route(id: &str) -> Result<ProductChannel, super::Refusal> {
        id.parse()
            .map(|product_id| ProductChannel { product_id })
            .map_err(|_| "unmatched topic")
    }

    /// Pushes the current state: the whole size selector (`released`), or, for a page that
    /// says it already shows the sizes (`{"sizes_shown": true}`), one small `stock_change` per
    /// size. Small frames matter: a socket keeps a write buffer as large as its largest frame.
    pub fn join(&mut self, ctx: &mut Ctx, payload: &Value) -> Result<Value, Value> {
        if ctx
            .live
            .inventory
            .read(|c| c.product(self.product_id).is_none())
        {
            return Err(json!({ "reason": "not_found" }));
        }
        // Subscribe before reading the state, so no change falls between the two.
        ctx.subscribe_frames(&topic(self.product_id));
        let sizes_shown = payload["sizes_shown"].as_bool().unwrap_or(false);
        let pushes: Vec<(&str, Value)> = ctx.live.inventory.read(|catalog| {
            let Some(product) = catalog.product(self.product_id).filter(|p| p.released) else {
                return Vec::new();
            };
            if sizes_shown {
                product
                    .items
                    .iter()
                    .map(|item| ("stock_change", item_payload(product, item)))
                    .collect()
            } else {
                vec![("released", released_payload(product))]
            }
        });
        for (event, payload) in pushes {
            ctx.push(event, &payload);
        }
        Ok(json!({}))
    }
}
