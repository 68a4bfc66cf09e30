//! Admins' changes to the catalog: a product created, edited, archived or deleted. Each is
//! written to the database first; then the product is read back into the cache whole (its
//! sizes may have come, gone or been renamed) and [`Event::ProductChanged`] tells this node's
//! pages and the other nodes, which read it back the same way.

use std::collections::HashSet;

use super::{Event, Inventory, InventoryError};
use crate::domain::product_fields::Release;
use crate::domain::product_form::ProductSpec;
use crate::domain::{ItemId, ProductId};
use crate::store;
pub use crate::store::products::Refusal;

impl Inventory {
    /// Creates a product (a draft, listed, scheduled, or released now).
    pub async fn create_product(
        &self,
        spec: &ProductSpec,
    ) -> Result<Result<ProductId, Refusal>, InventoryError> {
        let id = match store::products::create(&self.db, spec).await? {
            Ok(id) => id,
            Err(refusal) => return Ok(Err(refusal)),
        };
        tracing::info!(product_id = %id, sku = %spec.sku, "product created");
        self.refresh_product(id, true).await?;
        self.release_if_asked(id, spec).await?;
        Ok(Ok(id))
    }

    /// Writes an edit made on the product's `revision`.
    pub async fn update_product(
        &self,
        id: ProductId,
        revision: i32,
        spec: &ProductSpec,
    ) -> Result<Result<(), Refusal>, InventoryError> {
        let line_before = self.read(|c| c.product(id).map(|p| p.line_per_minute));
        if let Err(refusal) = store::products::update(&self.db, id, revision, spec).await? {
            return Ok(Err(refusal));
        }
        tracing::info!(product_id = %id, revision, "product edited");
        self.refresh_product(id, true).await?;
        self.release_if_asked(id, spec).await?;
        if line_before != Some(spec.line_per_minute) {
            self.refresh_lines().await?;
        }
        Ok(Ok(()))
    }

    async fn release_if_asked(
        &self,
        id: ProductId,
        spec: &ProductSpec,
    ) -> Result<(), InventoryError> {
        if spec.release == Release::Now && self.read(|c| c.product(id).is_some_and(|p| !p.released))
        {
            self.release(id).await?;
        }
        Ok(())
    }

    /// Takes a product off the store; its open pages say it is no longer available.
    pub async fn archive_product(
        &self,
        id: ProductId,
    ) -> Result<Result<(), Refusal>, InventoryError> {
        if let Err(refusal) = store::products::archive(&self.db, id).await? {
            return Ok(Err(refusal));
        }
        tracing::info!(product_id = %id, "product archived");
        self.refresh_product(id, true).await?;
        Ok(Ok(()))
    }

    /// Deletes a product nobody has bought.
    pub async fn delete_product(
        &self,
        id: ProductId,
    ) -> Result<Result<(), Refusal>, InventoryError> {
        if let Err(refusal) = store::products::delete(&self.db, id).await? {
            return Ok(Err(refusal));
        }
        tracing::info!(product_id = %id, "product deleted");
        self.refresh_product(id, true).await?;
        Ok(Ok(()))
    }

    /// The sizes of a product that have been sold (they can only be set to zero).
    pub async fn sold_items(&self, id: ProductId) -> Result<HashSet<ItemId>, InventoryError> {
        Ok(store::products::sold_items(&self.db, id).await?)
    }

    /// Another node changed a product: read it back too.
    pub async fn apply_replicated_product(&self, id: ProductId) -> Result<(), InventoryError> {
        self.refresh_product(id, false).await
    }

    /// Reads one product back from the database into the cache and announces it; the counts
    /// that changed are announced as any stock change is (admins' rows, carts holding them).
    pub(super) async fn refresh_product(
        &self,
        id: ProductId,
        local: bool,
    ) -> Result<(), InventoryError> {
        // Not between a full reload's read and its write: a reload that read the catalog
        // before this product's change and took it whole afterwards would bring the old
        // product back (an archived one selling again until the next check).
        let _one_at_a_time = self.reloading.lock().await;
        let fresh = store::catalog::load_product(&self.db, id).await?;
        let changes = self.write(|catalog| {
            let old = match fresh {
                Some(product) => catalog.replace_product(product),
                None => catalog.remove_product(id),
            };
            let Some(old) = old else {
                return Vec::new();
            };
            old.items
                .iter()
                .filter_map(|item| {
                    let (_, now) = catalog.item(item.id)?;
                    (now.available_count != item.available_count).then(|| {
                        crate::domain::ItemChange {
                            product_id: id,
                            item_id: item.id,
                            old_count: item.available_count,
                            new_count: now.available_count,
                            old_level: item.level(),
                            new_level: now.level(),
                            version: now.version,
                        }
                    })
                })
                .collect::<Vec<_>>()
        });
        self.publish(Event::ProductChanged { product_id: id }, local);
        for change in changes {
            self.publish(Event::StockChanged(change), local);
        }
        Ok(())
    }
}
