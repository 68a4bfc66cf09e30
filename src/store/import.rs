//! A product file written in one transaction: each product created or updated by its SKU, with
//! its sizes matched by their SKUs (a new size gets its starting stock; an existing size keeps
//! its count, which changes only by restock and sales; a size the file leaves out is kept), a
//! line paced from now when the file turns it on, and a draw window set. Either every product
//! is written or none.

use chrono::Utc;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::lines::start_line_if_off;
use super::products::{insert_product, insert_size, release_columns};
use super::schema::{draws, item_availabilities, items, product_details, products};
use super::{Db, StoreError};
use crate::domain::ProductId;
use crate::domain::draw::Window;
use crate::domain::product_fields::Release;
use crate::domain::product_form::ProductSpec;
use crate::with_conn;

/// One product of the file, checked.
#[derive(Debug, Clone)]
pub struct Planned {
    pub spec: ProductSpec,
    pub draw: Option<Window>,
}

/// The file was refused at its product `index` (nothing was written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ImportRefusal {
    pub index: usize,
    /// The size of the product it is about, if any.
    pub size: Option<usize>,
    pub field: &'static str,
    pub message: String,
}

#[derive(Debug)]
enum TxError {
    Refused(ImportRefusal),
    Db(DieselError),
}

impl From<DieselError> for TxError {
    fn from(error: DieselError) -> TxError {
        TxError::Db(error)
    }
}

fn to_i32(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// Writes every product of the file; returns each one's id (created or updated), in order.
pub async fn run(
    db: &Db,
    plan: &[Planned],
) -> Result<Result<Vec<ProductId>, ImportRefusal>, StoreError> {
    let mut conn = db.get().await?;
    let now = Utc::now().naive_utc();
    let now_ms = Utc::now().timestamp_millis();
    let result = with_conn!(conn, |c| {
        c.transaction::<_, TxError, _>(async |c| {
            let mut ids = Vec::with_capacity(plan.len());
            for (index, planned) in plan.iter().enumerate() {
                let spec = &planned.spec;
                let refuse = |size: Option<usize>, field: &'static str, message: String| {
                    TxError::Refused(ImportRefusal {
                        index,
                        size,
                        field,
                        message,
                    })
                };
                let (visibility, release_at) = release_columns(spec.release);
                let existing: Option<i32> = products::table
                    .filter(products::sku.eq(&spec.sku))
                    .select(products::id)
                    .first(c)
                    .await
                    .optional()?;
                let id = match existing {
                    Some(id) => {
                        if spec.line_per_minute.is_some() {
                            start_line_if_off!(c, id, now);
                        }
                        diesel::update(products::table.filter(products::id.eq(id)))
                            .set((
                                products::brand.eq(&spec.brand),
                                products::name.eq(&spec.name),
                                products::color.eq(&spec.color),
                                products::price_cents.eq(spec.price_cents),
                                products::release_at.eq(release_at),
                                products::visibility.eq(visibility.as_str()),
                                products::max_per_customer.eq(spec.max_per_customer.map(to_i32)),
                                products::queue_enabled.eq(spec.line_per_minute.is_some()),
                                products::admit_per_minute
                                    .eq(to_i32(spec.line_per_minute.unwrap_or(60))),
                                products::updated_at.eq(now),
                            ))
                            .execute(c)
                            .await?;
                        if spec.release == Release::Draft {
                            diesel::update(products::table.filter(products::id.eq(id)))
                                .set(products::released.eq(false))
                                .execute(c)
                                .await?;
                        }
                        // An edit: open forms made before it are stale.
                        diesel::insert_into(product_details::table)
                            .values((
                                product_details::product_id.eq(id),
                                product_details::description.eq(&spec.description),
                                product_details::revision.eq(1),
                            ))
                            .on_conflict(product_details::product_id)
                            .do_update()
                            .set((
                                product_details::description.eq(&spec.description),
                                product_details::revision.eq(product_details::revision + 1),
                            ))
                            .execute(c)
                            .await?;
                        id
                    }
                    None => insert_product!(c, spec, visibility, release_at, now),
                };
                // Sizes by SKU: the file's first, in its order; sizes it leaves out after.
                let current: Vec<(i32, String, String)> = items::table
                    .filter(items::product_id.eq(id))
                    .select((items::id, items::size, items::sku))
                    .load(c)
                    .await?;
                let mut matched = Vec::new();
                for (n, size) in spec.sizes.iter().enumerate() {
                    let mine = current.iter().find(|(_, _, sku)| sku.eq_ignore_ascii_case(&size.sku));
                    if let Some((_, label, sku)) = current.iter().find(|(item, label, _)| {
                        label.eq_ignore_ascii_case(&size.label)
                            && mine.is_none_or(|(m, _, _)| m != item)
                    }) {
                        return Err(refuse(
                            Some(n),
                            "size",
                            format!("The product has a size {label} already, with the SKU {sku}: give that SKU to change it."),
                        ));
                    }
                    if mine.is_none() {
                        let elsewhere: i64 = items::table
                            .filter(items::sku.eq(&size.sku))
                            .count()
                            .get_result(c)
                            .await?;
                        if elsewhere > 0 {
                            return Err(refuse(
                                Some(n),
                                "sku",
                                format!("Another product has a size with the SKU {}.", size.sku),
                            ));
                        }
                    }
                    matched.push(mine.map(|(item, _, _)| *item));
                }
                // Park the matched sizes' labels, so sizes may swap labels within the file.
                for item in matched.iter().flatten() {
                    diesel::update(items::table.filter(items::id.eq(item)))
                        .set(items::size.eq(format!("~{item}")))
                        .execute(c)
                        .await?;
                }
                for (position, (size, item)) in spec.sizes.iter().zip(&matched).enumerate() {
                    match item {
                        Some(item) => {
                            diesel::update(items::table.filter(items::id.eq(item)))
                                .set((
                                    items::size.eq(&size.label),
                                    items::position.eq(to_i32(position)),
                                    items::updated_at.eq(now),
                                ))
                                .execute(c)
                                .await?;
                        }
                        None => insert_size!(c, id, position, size, now)?,
                    }
                }
                let kept = spec.sizes.len();
                for (extra, (item, _, _)) in current
                    .iter()
                    .filter(|(item, _, _)| !matched.contains(&Some(*item)))
                    .enumerate()
                {
                    diesel::update(items::table.filter(items::id.eq(item)))
                        .set(items::position.eq(to_i32(kept + extra)))
                        .execute(c)
                        .await?;
                }
                if let Some(window) = planned.draw {
                    let closes: Option<i64> = draws::table
                        .filter(draws::product_id.eq(id))
                        .select(draws::closes_at_ms)
                        .first(c)
                        .await
                        .optional()?;
                    if closes.is_some_and(|closes| closes <= now_ms) {
                        return Err(refuse(
                            None,
                            "draw",
                            "Its draw has closed: its window can no longer change.".into(),
                        ));
                    }
                    let (opens, closes) =
                        (window.opens.timestamp_millis(), window.closes.timestamp_millis());
                    diesel::insert_into(draws::table)
                        .values((
                            draws::product_id.eq(id),
                            draws::opens_at_ms.eq(opens),
                            draws::closes_at_ms.eq(closes),
                            draws::state.eq(super::draws::draw_state::SCHEDULED),
                        ))
                        .on_conflict(draws::product_id)
                        .do_update()
                        .set((draws::opens_at_ms.eq(opens), draws::closes_at_ms.eq(closes)))
                        .execute(c)
                        .await?;
                }
                ids.push(ProductId(id));
            }
            Ok(ids)
        })
        .await
    });
    match result {
        Ok(ids) => Ok(Ok(ids)),
        Err(TxError::Refused(why)) => Ok(Err(why)),
        Err(TxError::Db(error)) => Err(error.into()),
    }
}
