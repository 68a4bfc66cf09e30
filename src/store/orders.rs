//! Checkout in the database: every pair of an order in one transaction, all or nothing.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::catalog::adjust_stock_query;
use super::lines::not_admitted;
use super::schema::{accounts, items, order_items, orders, products};
use super::{Db, StoreError};
use crate::domain::checkout::{CheckoutError, Plan, check_limits};
use crate::domain::order::{Order, OrderState, OrderedPair};
use crate::domain::{AccountId, ItemId, ProductId};
use crate::with_conn;

/// Writes an order's change of state into its history, on either backend's connection inside
/// the caller's transaction: `(conn, order_id, state, actor, note)`.
#[macro_export]
macro_rules! record_event {
    ($c:expr, $order_id:expr, $state:expr, $actor:expr, $note:expr) => {{
        use $crate::store::schema::order_events;
        let (order_id, state, actor, note): (
            i32,
            $crate::domain::order::OrderState,
            Option<&str>,
            Option<&str>,
        ) = ($order_id, $state, $actor, $note);
        diesel::insert_into(order_events::table)
            .values((
                order_events::order_id.eq(order_id),
                order_events::state.eq(state.as_str()),
                order_events::actor.eq(actor),
                order_events::note.eq(note),
                order_events::at.eq(chrono::Utc::now().naive_utc()),
            ))
            .execute($c)
            .await?;
    }};
}

pub enum PurchaseOutcome {
    /// Committed: the order and each item's new `(item_id, count, version)`.
    Bought {
        order_id: i32,
        counts: Vec<(ItemId, i32, i64)>,
    },
    /// A pair was gone: nothing was sold.
    SoldOut,
    /// A limit per customer said no (or needs an account): nothing was sold.
    Refused(CheckoutError),
}

enum TxError {
    SoldOut,
    Refused(CheckoutError),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> TxError {
        TxError::Db(e)
    }
}

/// Checks the limits per customer, records the order and decrements every pair (guarded, in
/// item order so concurrent checkouts never deadlock); any pair gone rolls the whole purchase
/// back, the order with it.
///
/// Limits are read here, from the database, not from a node's cache: a limit set a moment ago on
/// another node holds. When the order has a limited product, the account's row is written
/// first: that write locks it (a row lock on PostgreSQL, the write lock on SQLite) until commit,
/// so two checkouts of one account, on any nodes, count each other's pairs.
///
/// A product with a waiting line is bought only by a holder let in from it at or after
/// `admitted_since`, judged here too: a cart is no proof of having been let in.
pub async fn purchase(
    db: &Db,
    cart_id: &str,
    account: Option<AccountId>,
    node: &str,
    plan: &Plan,
    admitted_since: NaiveDateTime,
) -> Result<PurchaseOutcome, StoreError> {
    let mut lines = plan.lines.clone();
    lines.sort_by_key(|l| l.item_id);
    let product_ids: Vec<i32> = plan.pairs_per_product().keys().map(|p| p.0).collect();
    let total = plan.total_cents;
    let mut conn = db.get().await?;
    let result = with_conn!(conn, |c| {
        c.transaction::<_, TxError, _>(async |c| {
            if let Some(product_id) = not_admitted!(c, cart_id, &product_ids, admitted_since) {
                return Err(TxError::Refused(CheckoutError::NotAdmitted(product_id)));
            }
            let limits: Vec<(i32, Option<i32>)> = products::table
                .filter(products::id.eq_any(&product_ids))
                .filter(products::max_per_customer.is_not_null())
                .select((products::id, products::max_per_customer))
                .load(c)
                .await?;
            let limits: Vec<(ProductId, u32)> = limits
                .into_iter()
                .filter_map(|(id, max)| Some((ProductId(id), u32::try_from(max?).ok()?)))
                .collect();
            if !limits.is_empty() {
                let ordered = match account {
                    Some(account) => {
                        // Locks the account (see `holds`); an account that has not
                        // verified its email is no customer of a limited drop yet.
                        let verified = diesel::update(
                            accounts::table
                                .filter(accounts::id.eq(account.0))
                                .filter(accounts::verified_ms.is_not_null()),
                        )
                        .set(accounts::updated_at.eq(super::accounts::now()))
                        .execute(c)
                        .await?;
                        if verified == 0 {
                            return Err(TxError::Refused(CheckoutError::VerificationRequired));
                        }
                        let limited: Vec<i32> = limits.iter().map(|(p, _)| p.0).collect();
                        let rows: Vec<(i32, i64)> = order_items::table
                            .inner_join(orders::table)
                            .inner_join(items::table)
                            .filter(orders::account_id.eq(account.0))
                            .filter(items::product_id.eq_any(&limited))
                            .group_by(items::product_id)
                            .select((items::product_id, diesel::dsl::count_star()))
                            .load(c)
                            .await?;
                        Some(super::accounts::to_ordered(rows))
                    }
                    None => None,
                };
                check_limits(plan, &limits, ordered.as_ref()).map_err(TxError::Refused)?;
            }
            let order_id: i32 = diesel::insert_into(orders::table)
                .values((
                    orders::cart_id.eq(cart_id),
                    orders::total_cents.eq(total),
                    orders::account_id.eq(account.map(|a| a.0)),
                    orders::node.eq(node),
                ))
                .returning(orders::id)
                .get_result(c)
                .await?;
            for line in &lines {
                diesel::insert_into(order_items::table)
                    .values((
                        order_items::order_id.eq(order_id),
                        order_items::item_id.eq(line.item_id.0),
                        order_items::price_cents.eq(line.price_cents),
                    ))
                    .execute(c)
                    .await?;
            }
            // The decrements come last: from the first one to the commit this transaction holds
            // the pair's row lock (PostgreSQL), and every other buyer of that pair waits for it.
            // Writing the order first keeps that wait to one statement and the commit.
            let mut counts = Vec::with_capacity(lines.len());
            for line in &lines {
                match adjust_stock_query!(c, line.item_id, -1)? {
                    Some((count, version)) => counts.push((line.item_id, count, version)),
                    None => return Err(TxError::SoldOut),
                }
            }
            Ok((order_id, counts))
        })
        .await
    });
    match result {
        Ok((order_id, counts)) => Ok(PurchaseOutcome::Bought { order_id, counts }),
        Err(TxError::SoldOut) => Ok(PurchaseOutcome::SoldOut),
        Err(TxError::Refused(why)) => Ok(PurchaseOutcome::Refused(why)),
        Err(TxError::Db(e)) => Err(e.into()),
    }
}

#[derive(Queryable)]
pub struct PairRow {
    brand: String,
    name: String,
    size: String,
    price_cents: i32,
}

impl From<PairRow> for OrderedPair {
    fn from(row: PairRow) -> OrderedPair {
        OrderedPair {
            brand: row.brand,
            name: row.name,
            size: row.size,
            price_cents: row.price_cents,
        }
    }
}

/// The pairs of one order, in the order they were bought, on either backend's connection.
#[macro_export]
macro_rules! load_lines {
    ($c:expr, $order_id:expr) => {{
        use $crate::store::schema::{items, order_items, products};
        order_items::table
            .inner_join(items::table.inner_join(products::table))
            .filter(order_items::order_id.eq($order_id))
            .order(order_items::id)
            .select((
                products::brand,
                products::name,
                items::size,
                order_items::price_cents,
            ))
            .load::<$crate::store::orders::PairRow>($c)
            .await?
            .into_iter()
            .map($crate::domain::order::OrderedPair::from)
            .collect::<Vec<_>>()
    }};
}
pub use load_lines;

/// An order, if it exists and was placed by this cart.
pub async fn find(db: &Db, order_id: i32, cart_id: &str) -> Result<Option<Order>, StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        let order: Option<(i32, i32, NaiveDateTime, String)> = orders::table
            .filter(orders::id.eq(order_id))
            .filter(orders::cart_id.eq(cart_id))
            .select((
                orders::id,
                orders::total_cents,
                orders::inserted_at,
                orders::state,
            ))
            .first(c)
            .await
            .optional()?;
        let Some((id, total_cents, placed_at, state)) = order else {
            return Ok(None);
        };
        Ok(Some(Order {
            id,
            total_cents,
            placed_at: placed_at.and_utc(),
            state: parse_state(&state),
            lines: load_lines!(c, id),
        }))
    })
}

/// A stored state; the column is only ever written from [`OrderState::as_str`].
pub fn parse_state(text: &str) -> OrderState {
    text.parse()
        .expect("orders.state is only written from OrderState::as_str")
}

/// One change in an order's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvent {
    pub state: OrderState,
    pub actor: Option<String>,
    pub note: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// An order as an admin's order page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDetail {
    pub order: PlacedOrder,
    pub address: crate::domain::address::Address,
    pub tracking: Option<String>,
    pub history: Vec<OrderEvent>,
}

type DetailRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// An order with its address and history.
pub async fn detail(db: &Db, order_id: i32) -> Result<Option<OrderDetail>, StoreError> {
    let Some(order) = list(db, OrderFilter::Id(order_id), 1).await?.pop() else {
        return Ok(None);
    };
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        use super::schema::order_events;
        let row: DetailRow = orders::table
            .filter(orders::id.eq(order_id))
            .select((
                orders::ship_name,
                orders::ship_line1,
                orders::ship_line2,
                orders::ship_city,
                orders::ship_postal_code,
                orders::ship_country,
                orders::tracking,
            ))
            .first(c)
            .await?;
        let events: Vec<(String, Option<String>, Option<String>, NaiveDateTime)> =
            order_events::table
                .filter(order_events::order_id.eq(order_id))
                .order(order_events::id)
                .select((
                    order_events::state,
                    order_events::actor,
                    order_events::note,
                    order_events::at,
                ))
                .load(c)
                .await?;
        let (name, line1, line2, city, postal_code, country, tracking) = row;
        Ok(Some(OrderDetail {
            order,
            address: crate::domain::address::Address {
                name: name.unwrap_or_default(),
                line1: line1.unwrap_or_default(),
                line2: line2.unwrap_or_default(),
                city: city.unwrap_or_default(),
                postal_code: postal_code.unwrap_or_default(),
                country: country.unwrap_or_default(),
            },
            tracking,
            history: events
                .into_iter()
                .map(|(state, actor, note, at)| OrderEvent {
                    state: parse_state(&state),
                    actor,
                    note,
                    at: at.and_utc(),
                })
                .collect(),
        }))
    })
}

/// How many orders hold this item (for tests and reports).
pub async fn pairs_sold(db: &Db, item_id: ItemId) -> Result<i64, StoreError> {
    let mut conn = db.get().await?;
    Ok(with_conn!(conn, |c| {
        order_items::table
            .filter(order_items::item_id.eq(item_id.0))
            .count()
            .get_result::<i64>(c)
            .await?
    }))
}

/// An order as admins list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedOrder {
    pub id: i32,
    pub placed_at: chrono::DateTime<chrono::Utc>,
    /// The account's email; `None` for a guest's order.
    pub email: Option<String>,
    pub total_cents: i32,
    /// The node that took it (`None` for orders from before nodes were recorded).
    pub node: Option<String>,
    pub state: OrderState,
    /// The provider's reference of its payment (none for orders from before payments).
    pub payment_ref: Option<String>,
    pub lines: Vec<OrderedPair>,
}

/// Which orders an admin asks for.
pub enum OrderFilter<'a> {
    /// The newest first.
    Latest,
    /// One order by its number.
    Id(i32),
    /// Orders of accounts whose email contains this (lower-cased).
    Email(&'a str),
    /// Oldest first, after this order id (a page of the export).
    After(i32),
    /// The newest in one state.
    State(OrderState),
}

type HeadRow = (
    i32,
    NaiveDateTime,
    Option<String>,
    Option<String>,
    i32,
    Option<String>,
    String,
    Option<String>,
);

/// Up to `limit` orders with their pairs: one query for the orders, one for all their pairs.
pub async fn list(
    db: &Db,
    filter: OrderFilter<'_>,
    limit: i64,
) -> Result<Vec<PlacedOrder>, StoreError> {
    let mut conn = db.get().await?;
    with_conn!(conn, |c| {
        let query = orders::table
            .left_join(accounts::table)
            .select((
                orders::id,
                orders::inserted_at,
                accounts::email.nullable(),
                orders::email,
                orders::total_cents,
                orders::node,
                orders::state,
                orders::payment_ref,
            ))
            .limit(limit)
            .into_boxed();
        let query = match filter {
            OrderFilter::Latest => query.order(orders::id.desc()),
            OrderFilter::Id(id) => query.filter(orders::id.eq(id)),
            OrderFilter::Email(part) => query
                .filter(
                    accounts::email
                        .like(format!("%{}%", escape_like(part)))
                        .escape('\\'),
                )
                .order(orders::id.desc()),
            OrderFilter::After(id) => query.filter(orders::id.gt(id)).order(orders::id.asc()),
            OrderFilter::State(state) => query
                .filter(orders::state.eq(state.as_str()))
                .order(orders::id.desc()),
        };
        let heads: Vec<HeadRow> = query.load(c).await?;
        let ids: Vec<i32> = heads.iter().map(|h| h.0).collect();
        let pairs: Vec<(i32, PairRow)> = order_items::table
            .inner_join(items::table.inner_join(products::table))
            .filter(order_items::order_id.eq_any(&ids))
            .order(order_items::id)
            .select((
                order_items::order_id,
                (
                    products::brand,
                    products::name,
                    items::size,
                    order_items::price_cents,
                ),
            ))
            .load(c)
            .await?;
        let mut placed: Vec<PlacedOrder> = heads
            .into_iter()
            .map(
                |(id, at, account_email, email, total_cents, node, state, payment_ref)| {
                    PlacedOrder {
                        id,
                        placed_at: at.and_utc(),
                        email: email.or(account_email),
                        total_cents,
                        node,
                        state: parse_state(&state),
                        payment_ref,
                        lines: Vec::new(),
                    }
                },
            )
            .collect();
        for (order_id, pair) in pairs {
            if let Some(order) = placed.iter_mut().find(|o| o.id == order_id) {
                order.lines.push(pair.into());
            }
        }
        Ok(placed)
    })
}

/// `%` and `_` in a search are plain characters.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
