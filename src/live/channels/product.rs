//! `product:<id>`: a product page's live size selector. The join pushes the current state (a
//! client that was away converges without replay); releases and level changes reach it as
//! broadcasts made once for every subscriber (see `fanout`).

use serde_json::{Value, json};

use super::Ctx;
use crate::domain::ProductId;
use crate::live::fanout::{product_topic, released_payload, size_payload};
use crate::live::join_state::{Shape, StatePush};

pub struct ProductChannel {
    product_id: ProductId,
}

impl ProductChannel {
    pub fn route(id: &str) -> Result<ProductChannel, super::Refusal> {
        id.parse()
            .map(|product_id| ProductChannel { product_id })
            .map_err(|_| "unmatched topic")
    }

    /// Pushes the current state: the whole size selector (`released`), or, for a page that
    /// says it already shows the sizes (`{"sizes_shown": true}`), one small `stock_change` per
    /// size, or only per size whose level differs from the page's `levels` (`{item_id:
    /// level}`) when it names them. Small frames matter: a socket keeps a write buffer as
    /// large as its largest frame.
    pub fn join(&mut self, ctx: &mut Ctx, payload: &Value) -> Result<Value, Value> {
        if ctx
            .live
            .inventory
            .read(|c| c.product(self.product_id).is_none_or(|p| !p.listed()))
        {
            return Err(json!({ "reason": "not_found" }));
        }
        // Subscribe before reading the state, so no change falls between the two.
        ctx.subscribe_frames(&product_topic(self.product_id));
        let shape = if payload["sizes_shown"].as_bool().unwrap_or(false) {
            Shape::Sizes
        } else {
            Shape::Selector
        };
        // A page loaded just now names the levels it shows: only the sizes that differ come
        // back (usually none), instead of a frame per size for every page of a busy catalog.
        if let (Shape::Sizes, Some(shown)) = (shape, payload["levels"].as_object()) {
            let differing = ctx.live.inventory.read(|catalog| {
                let Some(product) = catalog.product(self.product_id).filter(|p| p.released) else {
                    return Vec::new();
                };
                product
                    .items
                    .iter()
                    .filter(|item| {
                        shown.get(&item.id.to_string()).and_then(Value::as_str)
                            != Some(item.level().as_str())
                    })
                    .map(|item| size_payload(product, item))
                    .collect()
            });
            for payload in &differing {
                ctx.push("stock_change", payload);
            }
            return Ok(json!({}));
        }
        let version = ctx.live.inventory.page_version();
        let pushes = ctx
            .live
            .join_states
            .get(self.product_id, shape, version, || {
                ctx.live.inventory.read(|catalog| {
                    let Some(product) = catalog.product(self.product_id).filter(|p| p.released)
                    else {
                        return Vec::new();
                    };
                    let push = |event, payload: Value| StatePush {
                        event,
                        payload_json: payload.to_string().into(),
                    };
                    match shape {
                        Shape::Sizes => product
                            .items
                            .iter()
                            .map(|item| push("stock_change", size_payload(product, item)))
                            .collect(),
                        Shape::Selector => vec![push("released", released_payload(product))],
                    }
                })
            });
        for state in pushes.iter() {
            ctx.push_raw(state.event, &state.payload_json);
        }
        Ok(json!({}))
    }
}
