//! The demo catalog: brands, names, colors, prices and a size run whose stock spans every level.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::schema::{item_availabilities, items, order_items, orders, products};
use super::{Db, StoreError};
use crate::with_conn;

pub struct SeedProduct {
    pub sku: &'static str,
    pub brand: &'static str,
    pub name: &'static str,
    pub color: &'static str,
    pub price_cents: i32,
    pub image: &'static str,
    pub release: Release,
    pub sizes: &'static [&'static str],
}

/// The hyped drops are limited per customer, as shops do.
pub const LIMITED: &[(&str, u32)] = &[("AJ1-HI-CHI", 1), ("AD-GAZ-BLU", 2)];

/// The scheduled Jordan drop has a waiting line, letting in this many a minute.
pub const LINED: &[(&str, i32)] = &[("AJ1-HI-CHI", 30)];

pub fn line_of(sku: &str) -> Option<i32> {
    LINED.iter().find(|(s, _)| *s == sku).map(|(_, rate)| *rate)
}

pub fn limit_of(sku: &str) -> Option<u32> {
    LIMITED.iter().find(|(s, _)| *s == sku).map(|(_, max)| *max)
}

pub enum Release {
    Now,
    /// Coming soon, no date yet.
    Unscheduled,
    /// Drops by itself this long after seeding.
    In(Duration),
}

const FULL_RUN: &[&str] = &[
    "6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "11.5", "12", "12.5", "13",
];
const WHOLE_RUN: &[&str] = &["7", "8", "9", "10", "11", "12", "13"];

pub fn catalog() -> Vec<SeedProduct> {
    use Release::*;
    let p = |sku, brand, name, color, price_cents, image, release, sizes| SeedProduct {
        sku,
        brand,
        name,
        color,
        price_cents,
        image,
        release,
        sizes,
    };
    vec![
        p(
            "NK-AM90-INF",
            "Nike",
            "Air Max 90",
            "White / Infrared",
            13000,
            "nk-am90-infrared.svg",
            Now,
            FULL_RUN,
        ),
        p(
            "NK-DUNK-PND",
            "Nike",
            "Dunk Low Retro",
            "White / Black \"Panda\"",
            11500,
            "nk-dunk-panda.svg",
            Now,
            FULL_RUN,
        ),
        p(
            "AD-SAMBA-OG",
            "adidas",
            "Samba OG",
            "Cloud White / Core Black / Gum",
            10000,
            "ad-samba-og.svg",
            Now,
            FULL_RUN,
        ),
        p(
            "NB-550-WGR",
            "New Balance",
            "550",
            "White / Green",
            11000,
            "nb-550-green.svg",
            Now,
            FULL_RUN,
        ),
        p(
            "AS-GK14-CRM",
            "ASICS",
            "Gel-Kayano 14",
            "Cream / Pure Silver",
            15000,
            "as-kayano14.svg",
            Now,
            FULL_RUN,
        ),
        p(
            "PU-SUEDE-RED",
            "Puma",
            "Suede Classic XXI",
            "High Risk Red / White",
            7500,
            "pu-suede-red.svg",
            Now,
            WHOLE_RUN,
        ),
        p(
            "SA-XT6-BLK",
            "Salomon",
            "XT-6",
            "Black / Phantom",
            19000,
            "sa-xt6-black.svg",
            Now,
            FULL_RUN,
        ),
        p(
            "AJ1-HI-CHI",
            "Jordan",
            "Air Jordan 1 Retro High OG",
            "White / Varsity Red / Black \"Chicago\"",
            18000,
            "aj1-chicago.svg",
            In(Duration::minutes(5)),
            FULL_RUN,
        ),
        p(
            "NB-990V6-GRY",
            "New Balance",
            "Made in USA 990v6",
            "Grey",
            20000,
            "nb-990v6-grey.svg",
            Unscheduled,
            FULL_RUN,
        ),
        p(
            "AD-GAZ-BLU",
            "adidas",
            "Gazelle Indoor",
            "Blue Fusion / Cloud White / Gum",
            12000,
            "ad-gazelle-blue.svg",
            In(Duration::days(3)),
            WHOLE_RUN,
        ),
    ]
}

/// Stock per size: a fixed pattern so that every level (out, low, medium, high) shows up and
/// a reseed gives the same store.
pub fn stock_for(product_index: usize, size_index: usize) -> i32 {
    match (product_index * 7 + size_index * 3) % 10 {
        0 => 0,
        r @ 1..=3 => 4 + r as i32 * 11,
        r @ 4..=6 => 150 + r as i32 * 50,
        r => 500 + r as i32 * 40,
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum SeedOutcome {
    Seeded {
        products: usize,
        items: usize,
        pairs: i64,
    },
    AlreadySeeded {
        products: i64,
    },
}

/// Seeds an empty store (or, with `reset`, empties it first). One transaction: all or nothing.
pub async fn run(db: &Db, reset: bool) -> Result<SeedOutcome, StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        c.transaction::<_, StoreError, _>(async |c| {
            if reset {
                diesel::delete(order_items::table).execute(c).await?;
                diesel::delete(orders::table).execute(c).await?;
                diesel::delete(item_availabilities::table)
                    .execute(c)
                    .await?;
                diesel::delete(items::table).execute(c).await?;
                diesel::delete(products::table).execute(c).await?;
            } else {
                let existing: i64 = products::table.count().get_result(c).await?;
                if existing > 0 {
                    return Ok(SeedOutcome::AlreadySeeded { products: existing });
                }
            }
            let now = Utc::now();
            let catalog = catalog();
            let (mut item_count, mut pairs) = (0, 0i64);
            for (pi, product) in catalog.iter().enumerate() {
                let (released, release_at) = match product.release {
                    Release::Now => (true, None),
                    Release::Unscheduled => (false, None),
                    Release::In(after) => (false, Some((now + after).naive_utc())),
                };
                let product_id: i32 = diesel::insert_into(products::table)
                    .values((
                        products::sku.eq(product.sku),
                        products::brand.eq(product.brand),
                        products::name.eq(product.name),
                        products::color.eq(product.color),
                        products::price_cents.eq(product.price_cents),
                        products::main_image_url.eq(format!("/static/images/{}", product.image)),
                        products::released.eq(released),
                        products::release_at.eq(release_at),
                        products::max_per_customer.eq(limit_of(product.sku)
                            .map(|m| i32::try_from(m).expect("seed limits are small"))),
                        products::queue_enabled.eq(line_of(product.sku).is_some()),
                        products::admit_per_minute.eq(line_of(product.sku).unwrap_or(60)),
                    ))
                    .returning(products::id)
                    .get_result(c)
                    .await?;
                for (si, size) in product.sizes.iter().enumerate() {
                    let item_id: i32 = diesel::insert_into(items::table)
                        .values((
                            items::product_id.eq(product_id),
                            items::size.eq(*size),
                            items::sku.eq(format!("{}-{size}", product.sku)),
                        ))
                        .returning(items::id)
                        .get_result(c)
                        .await?;
                    let count = stock_for(pi, si);
                    diesel::insert_into(item_availabilities::table)
                        .values((
                            item_availabilities::item_id.eq(item_id),
                            item_availabilities::available_count.eq(count),
                            item_availabilities::version.eq(1i64),
                        ))
                        .execute(c)
                        .await?;
                    item_count += 1;
                    pairs += i64::from(count);
                }
            }
            Ok(SeedOutcome::Seeded {
                products: catalog.len(),
                items: item_count,
                pairs,
            })
        })
        .await
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Level;

    #[test]
    fn seed_stock_spans_every_level() {
        let catalog = catalog();
        let levels: std::collections::HashSet<Level> = catalog
            .iter()
            .enumerate()
            .flat_map(|(pi, p)| {
                (0..p.sizes.len()).map(move |si| Level::for_count(stock_for(pi, si)))
            })
            .collect();
        assert_eq!(levels.len(), 4);
        assert!(catalog.len() >= 8);
        let brands: std::collections::HashSet<_> = catalog.iter().map(|p| p.brand).collect();
        assert!(brands.len() >= 4);
        assert!(
            catalog
                .iter()
                .any(|p| matches!(p.release, Release::In(d) if d <= Duration::minutes(10)))
        );
    }
}
