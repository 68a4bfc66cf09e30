//! Product pictures: an upload prepared off the async threads (one at a time per node, so the
//! memory a decode may take is taken once), written to the database, and announced as an edit
//! of the product; a size's bytes served from this node's memory after the first read.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::Semaphore;

use super::{Inventory, InventoryError};
use crate::domain::ProductId;
use crate::domain::picture::{self, PictureError};
use crate::store;
pub use crate::store::pictures::PictureRefusal;

/// Decodes running at once on a node: each may take up to `picture::MAX_DECODE_BYTES`.
const DECODES: usize = 1;
/// Picture bytes a node keeps in memory (the sizes most asked for stay; older ones go).
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Why an upload did not become a picture, in the words the form shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadRefusal {
    #[error(transparent)]
    Picture(#[from] PictureError),
    #[error("{0}")]
    Store(PictureRefusal),
}

impl From<PictureRefusal> for UploadRefusal {
    fn from(refusal: PictureRefusal) -> UploadRefusal {
        match refusal {
            PictureRefusal::TooMany => UploadRefusal::Picture(PictureError::TooMany),
            other => UploadRefusal::Store(other),
        }
    }
}

/// This node's picture work: the decode turns and the bytes kept.
pub struct Pictures {
    decodes: Semaphore,
    cache: Mutex<Cache>,
}

impl Default for Pictures {
    fn default() -> Pictures {
        Pictures {
            decodes: Semaphore::new(DECODES),
            cache: Mutex::new(Cache::default()),
        }
    }
}

/// Sizes by hash, first in first out within [`CACHE_BYTES`]. A hash names its bytes forever,
/// so nothing here is ever stale.
#[derive(Default)]
struct Cache {
    bytes: HashMap<String, Bytes>,
    order: VecDeque<String>,
    held: usize,
}

impl Cache {
    fn get(&self, hash: &str) -> Option<Bytes> {
        self.bytes.get(hash).cloned()
    }

    fn put(&mut self, hash: &str, bytes: Bytes) {
        if bytes.len() > CACHE_BYTES || self.bytes.contains_key(hash) {
            return;
        }
        while self.held + bytes.len() > CACHE_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.bytes.remove(&old) {
                self.held -= gone.len();
            }
        }
        self.held += bytes.len();
        self.order.push_back(hash.to_string());
        self.bytes.insert(hash.to_string(), bytes);
    }
}

impl Inventory {
    /// Makes an upload one of the product's pictures (the last one).
    pub async fn add_picture(
        &self,
        product_id: ProductId,
        upload: Bytes,
    ) -> Result<Result<(), UploadRefusal>, InventoryError> {
        if self.read(|c| c.product(product_id).is_none()) {
            return Ok(Err(PictureRefusal::NotFound.into()));
        }
        let prepared = {
            // The semaphore is never closed, so a turn always comes.
            let _turn = self.pictures.decodes.acquire().await.ok();
            // A decoder that panics on a hostile file has read an unreadable picture.
            tokio::task::spawn_blocking(move || picture::prepare(&upload))
                .await
                .unwrap_or(Err(PictureError::Unreadable))
        };
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(refused) => return Ok(Err(refused.into())),
        };
        if let Err(refusal) = store::pictures::add(&self.db, product_id, &prepared).await? {
            return Ok(Err(refusal.into()));
        }
        tracing::info!(%product_id, width = prepared.width, height = prepared.height, "picture added");
        self.refresh_product(product_id, true).await?;
        Ok(Ok(()))
    }

    /// The product's pictures in their order (the first is the main one).
    pub async fn picture_order(&self, product_id: ProductId) -> Result<Vec<i32>, InventoryError> {
        Ok(store::pictures::order(&self.db, product_id).await?)
    }

    /// Puts the product's pictures in a new order (the first becomes the main one).
    pub async fn order_pictures(
        &self,
        product_id: ProductId,
        order: &[i32],
    ) -> Result<Result<(), PictureRefusal>, InventoryError> {
        if let Err(refusal) = store::pictures::set_order(&self.db, product_id, order).await? {
            return Ok(Err(refusal));
        }
        self.refresh_product(product_id, true).await?;
        Ok(Ok(()))
    }

    /// Removes one of the product's pictures.
    pub async fn remove_picture(
        &self,
        product_id: ProductId,
        image_id: i32,
    ) -> Result<Result<(), PictureRefusal>, InventoryError> {
        if let Err(refusal) = store::pictures::remove(&self.db, product_id, image_id).await? {
            return Ok(Err(refusal));
        }
        self.refresh_product(product_id, true).await?;
        Ok(Ok(()))
    }

    /// The bytes of the picture size `hash` names, from memory after the first read.
    pub async fn picture_bytes(&self, hash: &str) -> Result<Option<Bytes>, InventoryError> {
        let cache = |f: &mut dyn FnMut(&mut Cache)| {
            f(&mut self
                .pictures
                .cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner));
        };
        let mut found = None;
        cache(&mut |c| found = c.get(hash));
        if found.is_some() {
            return Ok(found);
        }
        let Some(bytes) = store::pictures::bytes_of(&self.db, hash).await? else {
            return Ok(None);
        };
        let bytes = Bytes::from(bytes);
        cache(&mut |c| c.put(hash, bytes.clone()));
        Ok(Some(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_the_newest_within_its_bytes() {
        let mut cache = Cache::default();
        let half = Bytes::from(vec![0u8; CACHE_BYTES / 2]);
        cache.put("a", half.clone());
        cache.put("b", half.clone());
        assert!(cache.get("a").is_some() && cache.get("b").is_some());
        cache.put("c", half);
        assert!(cache.get("a").is_none(), "the oldest went");
        assert!(cache.get("b").is_some() && cache.get("c").is_some());
        assert_eq!(cache.held, CACHE_BYTES);
    }
}
