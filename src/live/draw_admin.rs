//! A product's draw on its admin page: read from the database (so every node shows the same
//! counts, whichever node took the entry) and pushed to the admin topic as `draw_entries`
//! `{product_id, html}` whenever an entry comes, goes or is decided, and when the draw is made.
//! Reads for one product never overlap: changes arriving meanwhile are read once after.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::Utc;
use maud::Markup;
use serde_json::json;

use super::Live;
use super::fanout::ADMIN_TOPIC;
use crate::domain::draw::Outcome;
use crate::domain::{ItemId, ProductId};
use crate::error_chain::ErrorChain;
use crate::html::fragments::admin_draw::{AdminDraw, Decided, SizeEntries, admin_draw};
use crate::inventory::{Event, Inventory, InventoryError};
use crate::store::draws::state;

/// The panel as it is now; `None` when the product has no draw.
pub async fn panel(
    inventory: &Inventory,
    product_id: ProductId,
) -> Result<Option<Markup>, InventoryError> {
    let Some(draw) = inventory.published_draw(product_id).await? else {
        return Ok(None);
    };
    let entries = inventory.draw_entries(product_id).await?;
    Ok(inventory.read(|catalog| {
        let product = catalog.product(product_id)?;
        let size_of = |item: i32| {
            product
                .items
                .iter()
                .find(|i| i.id == ItemId(item))
                .map(|i| i.size.clone())
                .unwrap_or_default()
        };
        let sizes = product
            .items
            .iter()
            .map(|item| {
                let of_size = || entries.iter().filter(|(e, _)| e.item_id == item.id.0);
                let count = |pick: &dyn Fn(&str) -> bool| {
                    u32::try_from(of_size().filter(|(e, _)| pick(&e.state)).count())
                        .unwrap_or(u32::MAX)
                };
                SizeEntries {
                    size: item.size.clone(),
                    entries: count(&|s| {
                        ![state::AUTHORISING, state::WITHDRAWN, state::VOID].contains(&s)
                    }),
                    void: count(&|s| s == state::VOID),
                }
            })
            .collect();
        let decided = |wanted: Outcome| {
            let mut rows: Vec<Decided> = entries
                .iter()
                .filter(|(e, _)| e.outcome() == Some(wanted))
                .map(|(e, details)| Decided {
                    place: e.place,
                    email: details.email.clone(),
                    size: size_of(e.item_id),
                    order_id: e.order_id,
                })
                .collect();
            rows.sort_by_key(|r| r.place);
            rows
        };
        let view = AdminDraw {
            product_id,
            window: draw.window,
            secret: draw.secret.clone(),
            sizes,
            winners: decided(Outcome::Won),
            passed_over: decided(Outcome::PassedOver),
        };
        Some(admin_draw(&view, Utc::now()))
    }))
}

/// The fan-out's part: which products' panels are being read, and whether a change came in
/// since their read began.
#[derive(Clone, Default)]
pub struct Pushes {
    reading: Arc<Mutex<HashMap<ProductId, bool>>>,
}

impl Pushes {
    /// A draw moved: its panel is read and pushed, unless no admin is listening.
    pub fn on_event(&self, live: &Arc<Live>, event: &Event) {
        let product_id = match event {
            Event::DrawEntry { product_id, .. } | Event::DrawMade { product_id } => *product_id,
            _ => return,
        };
        if live.hub.subscriber_count(ADMIN_TOPIC) == 0 {
            return;
        }
        {
            let mut reading = self.reading.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(again) = reading.get_mut(&product_id) {
                *again = true;
                return;
            }
            reading.insert(product_id, false);
        }
        let (pushes, live) = (self.clone(), Arc::clone(live));
        tokio::spawn(async move {
            loop {
                match panel(&live.inventory, product_id).await {
                    Ok(Some(html)) => {
                        live.hub.broadcast(
                            ADMIN_TOPIC,
                            "draw_entries",
                            json!({ "product_id": product_id, "html": html.into_string() }),
                        );
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(%product_id, error = %ErrorChain(&error), "cannot read a draw for its admins");
                    }
                }
                let mut reading = pushes
                    .reading
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                match reading.get_mut(&product_id) {
                    Some(again) if *again => *again = false,
                    _ => {
                        reading.remove(&product_id);
                        break;
                    }
                }
            }
        });
    }
}
