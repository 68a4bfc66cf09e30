//! Product pictures in the database (the one storage every node shares): a `product_images` row
//! per picture, its place among the product's (the first is the main one), and an
//! `image_variants` row per encoded size, found by the hash its URL names.

use std::collections::HashMap;

use chrono::Utc;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::schema::{image_variants, product_images, products};
use super::{Db, StoreError};
use crate::domain::ProductId;
use crate::domain::picture::{CONTENT_TYPE, MAX_PICTURES, Picture, Prepared, Variant};
use crate::with_conn;

/// Why a picture write changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PictureRefusal {
    #[error("no such product or picture")]
    NotFound,
    #[error("the product has {MAX_PICTURES} pictures already")]
    TooMany,
    #[error("that is not the product's pictures, each once")]
    BadOrder,
    /// A picture's sizes are named by their bytes' hash, so the same file is one picture.
    #[error("that picture is uploaded already")]
    Duplicate,
}

#[derive(Debug)]
enum TxError {
    Refused(PictureRefusal),
    Db(DieselError),
}

impl From<DieselError> for TxError {
    fn from(error: DieselError) -> TxError {
        TxError::Db(error)
    }
}

fn finish<T>(result: Result<T, TxError>) -> Result<Result<T, PictureRefusal>, StoreError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(TxError::Refused(why)) => Ok(Err(why)),
        Err(TxError::Db(error)) => Err(error.into()),
    }
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn to_u32(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(1)
}

type Row = (i32, i32, i32, i32, i32, i32, String);

/// Every product's pictures (or one product's), main first, each with its sizes narrowest first.
pub async fn of_products(
    db: &Db,
    only: Option<ProductId>,
) -> Result<HashMap<ProductId, Vec<Picture>>, StoreError> {
    let mut conn = db.get().await?;
    let rows: Vec<Row> = with_conn!(conn, |c| {
        let mut query = product_images::table
            .inner_join(image_variants::table)
            .select((
                product_images::product_id,
                product_images::id,
                product_images::width,
                product_images::height,
                image_variants::width,
                image_variants::height,
                image_variants::hash,
            ))
            .order((
                product_images::product_id,
                product_images::position,
                product_images::id,
                image_variants::width,
            ))
            .into_boxed();
        if let Some(id) = only {
            query = query.filter(product_images::product_id.eq(id.0));
        }
        query.load(c).await?
    });
    let mut out: HashMap<ProductId, Vec<Picture>> = HashMap::new();
    for (product_id, id, width, height, v_width, v_height, hash) in rows {
        let pictures = out.entry(ProductId(product_id)).or_default();
        if pictures.last().is_none_or(|p| p.id != id) {
            pictures.push(Picture {
                id,
                width: to_u32(width),
                height: to_u32(height),
                variants: Vec::new(),
            });
        }
        if let Some(picture) = pictures.last_mut() {
            picture.variants.push(Variant {
                width: to_u32(v_width),
                height: to_u32(v_height),
                hash,
            });
        }
    }
    Ok(out)
}

/// The product's picture ids in their order.
macro_rules! order_of {
    ($c:expr, $product_id:expr) => {{
        let ids: Vec<i32> = product_images::table
            .filter(product_images::product_id.eq($product_id))
            .order((product_images::position, product_images::id))
            .select(product_images::id)
            .load($c)
            .await?;
        Ok::<Vec<i32>, TxError>(ids)
    }};
}

/// Adds a prepared picture after the product's others. Returns its id.
pub async fn add(
    db: &Db,
    product_id: ProductId,
    prepared: &Prepared,
) -> Result<Result<i32, PictureRefusal>, StoreError> {
    let mut conn = db.get().await?;
    let now = Utc::now().naive_utc();
    let result = with_conn!(conn, |c| {
        c.transaction::<_, TxError, _>(async |c| {
            // Locks the product row, so two uploads at once cannot both take the last place.
            let found = diesel::update(products::table.filter(products::id.eq(product_id.0)))
                .set(products::id.eq(product_id.0))
                .execute(c)
                .await?;
            if found == 0 {
                return Err(TxError::Refused(PictureRefusal::NotFound));
            }
            let order = order_of!(c, product_id.0)?;
            if order.len() >= MAX_PICTURES {
                return Err(TxError::Refused(PictureRefusal::TooMany));
            }
            let position: i32 = product_images::table
                .filter(product_images::product_id.eq(product_id.0))
                .select(diesel::dsl::max(product_images::position))
                .first::<Option<i32>>(c)
                .await?
                .map_or(0, |p| p + 1);
            let id: i32 = diesel::insert_into(product_images::table)
                .values((
                    product_images::product_id.eq(product_id.0),
                    product_images::position.eq(position),
                    product_images::width.eq(to_i32(prepared.width)),
                    product_images::height.eq(to_i32(prepared.height)),
                    product_images::inserted_at.eq(now),
                ))
                .returning(product_images::id)
                .get_result(c)
                .await?;
            let hashes: Vec<&str> = prepared.sizes.iter().map(|s| s.hash.as_str()).collect();
            let known: i64 = image_variants::table
                .filter(image_variants::hash.eq_any(&hashes))
                .count()
                .get_result(c)
                .await?;
            if known > 0 {
                return Err(TxError::Refused(PictureRefusal::Duplicate));
            }
            for size in &prepared.sizes {
                diesel::insert_into(image_variants::table)
                    .values((
                        image_variants::image_id.eq(id),
                        image_variants::width.eq(to_i32(size.width)),
                        image_variants::height.eq(to_i32(size.height)),
                        image_variants::content_type.eq(CONTENT_TYPE),
                        image_variants::hash.eq(&size.hash),
                        image_variants::bytes.eq(&size.bytes),
                    ))
                    .execute(c)
                    .await?;
            }
            Ok(id)
        })
        .await
    });
    finish(result)
}

/// The product's picture ids in their order (the first is the main one).
pub async fn order(db: &Db, product_id: ProductId) -> Result<Vec<i32>, StoreError> {
    let mut conn = db.get().await?;
    let ids = with_conn!(conn, |c| {
        product_images::table
            .filter(product_images::product_id.eq(product_id.0))
            .order((product_images::position, product_images::id))
            .select(product_images::id)
            .load(c)
            .await?
    });
    Ok(ids)
}

/// Puts the product's pictures in `order`, which must name each of them once.
pub async fn set_order(
    db: &Db,
    product_id: ProductId,
    order: &[i32],
) -> Result<Result<(), PictureRefusal>, StoreError> {
    let mut conn = db.get().await?;
    let result = with_conn!(conn, |c| {
        c.transaction::<_, TxError, _>(async |c| {
            let mut have = order_of!(c, product_id.0)?;
            let mut wanted = order.to_vec();
            have.sort_unstable();
            wanted.sort_unstable();
            if have != wanted {
                return Err(TxError::Refused(PictureRefusal::BadOrder));
            }
            for (position, id) in order.iter().enumerate() {
                diesel::update(product_images::table.filter(product_images::id.eq(id)))
                    .set(product_images::position.eq(i32::try_from(position).unwrap_or(i32::MAX)))
                    .execute(c)
                    .await?;
            }
            Ok(())
        })
        .await
    });
    finish(result)
}

/// Removes one of the product's pictures (with its sizes).
pub async fn remove(
    db: &Db,
    product_id: ProductId,
    image_id: i32,
) -> Result<Result<(), PictureRefusal>, StoreError> {
    let mut conn = db.get().await?;
    // Its sizes go with it (ON DELETE CASCADE, also on SQLite: foreign keys are on).
    let removed = with_conn!(conn, |c| {
        diesel::delete(
            product_images::table
                .filter(product_images::id.eq(image_id))
                .filter(product_images::product_id.eq(product_id.0)),
        )
        .execute(c)
        .await?
    });
    Ok(if removed == 0 {
        Err(PictureRefusal::NotFound)
    } else {
        Ok(())
    })
}

/// The bytes of the size a URL's hash names.
pub async fn bytes_of(db: &Db, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let mut conn = db.get().await?;
    let found = with_conn!(conn, |c| {
        image_variants::table
            .filter(image_variants::hash.eq(hash))
            .select(image_variants::bytes)
            .first::<Vec<u8>>(c)
            .await
            .optional()?
    });
    Ok(found)
}
