//! Products imported from a file and exported to one (`sneakers product import|export`): every
//! record checked by the product form's rules against the catalog as it is, then written in
//! one transaction, then each product read back and announced as an admin's edit is (and
//! released, where the file says `now`). An export is the catalog as the file writes it.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{Inventory, InventoryError};
use crate::domain::Product;
use crate::domain::draw::Window;
use crate::domain::product_fields::{Release, Visibility};
use crate::domain::product_file::{
    DrawRecord, LineRecord, ProductFile, ProductRecord, SizeRecord, field_name, format_time,
};
use crate::store;
use crate::store::import::Planned;

/// One thing wrong with a file's product (`index`), and its size if it is about one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub index: usize,
    pub size: Option<usize>,
    pub field: String,
    pub message: String,
}

/// What an import wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub created: Vec<String>,
    pub updated: Vec<String>,
}

impl Inventory {
    /// Checks every record and writes them all, or none with every problem found.
    pub async fn import_products(
        &self,
        file: &ProductFile,
        now: DateTime<Utc>,
    ) -> Result<Result<Imported, Vec<Problem>>, InventoryError> {
        let mut problems = Vec::new();
        let mut plan = Vec::new();
        let mut seen = HashSet::new();
        let mut existed = Vec::new();
        for (index, record) in file.products.iter().enumerate() {
            let problem = |size, field: &str, message: String| Problem {
                index,
                size,
                field: field.to_string(),
                message,
            };
            if !seen.insert(record.sku.trim().to_ascii_uppercase()) {
                problems.push(problem(
                    None,
                    "sku",
                    "This SKU is in the file twice.".into(),
                ));
                continue;
            }
            let form = match record.form() {
                Ok(form) => form,
                Err((field, message)) => {
                    problems.push(problem(None, field, message));
                    continue;
                }
            };
            let existing = self.read(|c| {
                c.product_by_sku(record.sku.trim())
                    .map(|p| (p.id, p.released))
            });
            let released = existing.is_some_and(|(_, released)| released);
            let spec = match form.validate(now, released, &HashSet::new()) {
                Ok(spec) => spec,
                Err(errors) => {
                    for (form_field, message) in errors {
                        let (size, field) = field_name(&form_field);
                        problems.push(problem(size, &field, message));
                    }
                    continue;
                }
            };
            let draw = match record.draw {
                None => None,
                Some(DrawRecord { opens, closes }) => match Window::new(opens, closes) {
                    Ok(window) => Some(window),
                    Err(error) => {
                        problems.push(problem(None, "draw", format!("{error}.")));
                        continue;
                    }
                },
            };
            existed.push(existing.is_some());
            plan.push(Planned { spec, draw });
        }
        if !problems.is_empty() {
            return Ok(Err(problems));
        }
        let ids = match store::import::run(&self.db, &plan).await? {
            Ok(ids) => ids,
            Err(refusal) => {
                return Ok(Err(vec![Problem {
                    index: refusal.index,
                    size: refusal.size,
                    field: refusal.field.to_string(),
                    message: refusal.message,
                }]));
            }
        };
        tracing::info!(products = ids.len(), "products imported");
        let mut imported = Imported {
            created: Vec::new(),
            updated: Vec::new(),
        };
        for ((id, planned), existed) in ids.iter().zip(&plan).zip(existed) {
            self.refresh_product(*id, true).await?;
            if planned.spec.release == Release::Now
                && self.read(|c| c.product(*id).is_some_and(|p| !p.released))
            {
                self.release(*id).await?;
            }
            let sku = planned.spec.sku.clone();
            if existed {
                imported.updated.push(sku);
            } else {
                imported.created.push(sku);
            }
        }
        self.refresh_lines().await?;
        self.refresh_draws().await?;
        Ok(Ok(imported))
    }

    /// Every product not archived, as the file writes it (stock: the pairs left now).
    pub fn export_products(&self) -> ProductFile {
        let products = self.read(|c| {
            c.products()
                .filter(|p| p.listing.visibility != Visibility::Archived)
                .cloned()
                .collect::<Vec<_>>()
        });
        ProductFile {
            products: products.iter().map(|p| self.record_of(p)).collect(),
        }
    }

    fn record_of(&self, p: &Product) -> ProductRecord {
        let release = if !p.listed() {
            "draft".to_string()
        } else if p.released {
            "now".to_string()
        } else {
            p.release_at.map_or_else(|| "soon".to_string(), format_time)
        };
        ProductRecord {
            sku: p.sku.clone(),
            brand: p.brand.clone(),
            name: p.name.clone(),
            color: p.color.clone(),
            description: p.listing.description.clone(),
            price_cents: p.price_cents.into(),
            release,
            max_per_customer: p.max_per_customer,
            line: p
                .line_per_minute
                .map(|admit_per_minute| LineRecord { admit_per_minute }),
            draw: self.draw(p.id).map(|d| DrawRecord {
                opens: d.window.opens,
                closes: d.window.closes,
            }),
            sizes: p
                .items
                .iter()
                .map(|i| SizeRecord {
                    size: i.size.clone(),
                    sku: i.sku.clone(),
                    stock: i.available_count,
                })
                .collect(),
        }
    }
}
