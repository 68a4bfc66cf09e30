//! The admin HTTP API: inventory moves (the CLI uses these) and the inventory as JSON.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::Markup;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::catalog::{MAX_LIMIT, parse_limit};
use crate::domain::product_fields::ProductState;
use crate::domain::{ItemId, Level, csv};
use crate::html::fragments::admin_orders::{items_text, latest_orders, orders_table};
use crate::html::pages::admin::orders_search;
use crate::html::pages::admin::{Drop, dashboard as dashboard_view};
use crate::inventory::{InventoryError, OrderFilter, PlacedOrder, StockMove};
use crate::live::fanout::{LATEST_ORDERS, line_lengths, order_rows};
use crate::web::AppState;
use crate::web::edge::auth::Admin;
use crate::web::edge::error::ApiError;
use crate::web::edge::extract::{Body, Path, Query};
use crate::web::wire::{InventoryJson, ItemJson, ProductJson};

/// The dashboard and the admin API (HTTP Basic: every handler takes [`Admin`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard))
        .route("/admin/inventory", get(inventory))
        .route("/admin/products/{id}/release", post(release))
        .route("/admin/products/{id}/limit", post(set_limit))
        .route("/admin/products/{id}/queue", post(set_queue))
        .route("/admin/orders", get(orders))
        .route("/admin/orders.csv", get(orders_csv))
        .route("/admin/items/{id}/sell", post(sell))
        .route("/admin/items/{id}/restock", post(restock))
}

#[derive(Deserialize, Default)]
pub struct CountForm {
    count: Option<String>,
}

fn parse_item(id: &str) -> Result<ItemId, ApiError> {
    id.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no item {id:?}"),
        )
    })
}

/// The body is read as a form whatever its content type, so `curl -X POST` with no body works.
fn parse_count(body: &[u8], default: Option<i32>) -> Result<i32, ApiError> {
    // Strict, unlike a page's query: `count=1&count=2` could mean either, and pairs move.
    let form: CountForm = serde_urlencoded::from_bytes(body).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_form",
            "the body must be a form with at most one count=N",
        )
    })?;
    match (form.count.as_deref().map(str::trim), default) {
        (None | Some(""), Some(default)) => Ok(default),
        (None | Some(""), None) => Err(InventoryError::InvalidCount(
            "nothing (the form field `count` is required)".into(),
        )
        .into()),
        (Some(raw), _) => raw
            .parse()
            .map_err(|_| InventoryError::InvalidCount(format!("{raw:?}")).into()),
    }
}

fn moved(stock: StockMove, key: &str, count: i32) -> Json<Value> {
    Json(json!({
        "product_id": stock.product_id,
        "item_id": stock.item_id,
        "available_count": stock.available_count,
        "level": Level::for_count(stock.available_count),
        key: count,
    }))
}

async fn release(
    _: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let product_id = state.inventory.find_product(&key)?;
    let newly = state.inventory.release(product_id).await?;
    Ok(respond(
        &headers,
        json!({ "product_id": product_id, "released": true, "already_released": !newly }),
    ))
}

#[derive(Deserialize, Default)]
pub struct LimitForm {
    max: Option<String>,
}

/// `POST /admin/products/:id/limit` (`max`: pairs per customer; empty or 0 clears it).
async fn set_limit(
    _: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let product_id = state.inventory.find_product(&key)?;
    let invalid = || {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_limit",
            format!("max must be empty (no limit) or a whole number from 0 to {MAX_LIMIT}"),
        )
    };
    let form: LimitForm = serde_urlencoded::from_bytes(&body).map_err(|_| invalid())?;
    let max = parse_limit(form.max.as_deref()).map_err(|_| invalid())?;
    state.inventory.set_limit(product_id, max).await?;
    Ok(respond(
        &headers,
        json!({ "product_id": product_id, "max_per_customer": max }),
    ))
}

#[derive(Deserialize, Default)]
pub struct QueueForm {
    enabled: Option<String>,
    admit_per_minute: Option<String>,
}

/// Bounds of a line's rate: at least one a minute, at most a thousand.
const MAX_ADMIT_PER_MINUTE: u32 = 1000;

/// `POST /admin/products/:id/queue` (`enabled` 1/0, `admit_per_minute`).
async fn set_queue(
    _: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let product_id = state.inventory.find_product(&key)?;
    let invalid = |what: &str| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_queue",
            format!(
                "{what}: enabled is 1 or 0, admit_per_minute a whole number from 1 to {MAX_ADMIT_PER_MINUTE}"
            ),
        )
    };
    let form: QueueForm = serde_urlencoded::from_bytes(&body).map_err(|_| invalid("not a form"))?;
    let enabled = match form.enabled.as_deref().map(str::trim) {
        Some("1" | "true" | "on") => true,
        Some("0" | "false" | "off") | None => false,
        Some(other) => return Err(invalid(&format!("enabled={other:?}"))),
    };
    let current = state
        .inventory
        .read(|c| c.product(product_id).and_then(|p| p.line_per_minute));
    let per_minute = match form.admit_per_minute.as_deref().map(str::trim) {
        None | Some("") => current.unwrap_or(60),
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_ADMIT_PER_MINUTE).contains(&n) => n,
            _ => return Err(invalid(&format!("admit_per_minute={raw:?}"))),
        },
    };
    state
        .inventory
        .configure_line(product_id, enabled, per_minute)
        .await?;
    Ok(respond(
        &headers,
        json!({ "product_id": product_id, "queue": enabled, "admit_per_minute": per_minute }),
    ))
}

/// JSON for tools; a browser's form post goes back to the dashboard.
fn respond(headers: &HeaderMap, body: Value) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        (StatusCode::SEE_OTHER, [(header::LOCATION, "/admin")]).into_response()
    } else {
        Json(body).into_response()
    }
}

/// `GET /admin`: the dashboard.
async fn dashboard(_: Admin, State(state): State<AppState>) -> Result<Markup, ApiError> {
    let live = &state.live;
    let latest = state
        .inventory
        .orders(OrderFilter::Latest, LATEST_ORDERS)
        .await?;
    let orders_panel = latest_orders(&order_rows(&latest));
    let cluster_rows = live.cluster_rows();
    let token = state
        .tokens
        .admin
        .sign("admin", chrono::Utc::now().timestamp_millis());
    let counts = live.presence.counts();
    let figures = live.figures(0);
    let line_lengths = line_lengths(live);
    Ok(live.with_sales(|sales| {
        let drop = Drop {
            sales,
            line_lengths: &line_lengths,
            orders: orders_panel,
            cluster: &cluster_rows,
            bus: live.bus_view(),
        };
        state.inventory.read(|catalog| {
            dashboard_view(&token, catalog, &counts, figures, live.cluster.node(), drop)
        })
    }))
}

#[derive(Deserialize, Default)]
pub struct OrdersQuery {
    q: Option<String>,
}

/// How many orders a search shows.
const SEARCH_LIMIT: i64 = 100;

/// `GET /admin/orders?q=`: by order number (`42` or `#42`) or a part of an email.
async fn orders(
    _: Admin,
    State(state): State<AppState>,
    Query(query): Query<OrdersQuery>,
) -> Result<Markup, ApiError> {
    let q = query.q.unwrap_or_default();
    let term = q.trim();
    let filter = match term.trim_start_matches('#').parse::<i32>() {
        Ok(id) => OrderFilter::Id(id),
        Err(_) if term.is_empty() => OrderFilter::Latest,
        Err(_) => OrderFilter::Email(term),
    };
    let lowered = term.to_lowercase();
    let filter = match filter {
        OrderFilter::Email(_) => OrderFilter::Email(&lowered),
        other => other,
    };
    let found = state.inventory.orders(filter, SEARCH_LIMIT).await?;
    Ok(orders_search(term, orders_table(&order_rows(&found))))
}

/// Orders per page of the export: each page is one query for the orders and one for their
/// pairs, and goes out before the next is read.
const CSV_PAGE: i64 = 500;

fn csv_rows(orders: &[PlacedOrder]) -> String {
    let mut out = String::new();
    for o in orders {
        out.push_str(&csv::row([
            o.id.to_string().as_str(),
            &o.placed_at.to_rfc3339(),
            o.email.as_deref().unwrap_or_default(),
            &items_text(&o.lines),
            &o.total_cents.to_string(),
            o.node.as_deref().unwrap_or_default(),
            o.state.as_str(),
            o.payment_ref.as_deref().unwrap_or_default(),
        ]));
    }
    out
}

/// `GET /admin/orders.csv`: every order, oldest first, streamed a page at a time. A database
/// failure mid-way ends the body with an error (the client sees a truncated download, not a
/// complete-looking file).
async fn orders_csv(_: Admin, State(state): State<AppState>) -> Response {
    let inventory = std::sync::Arc::clone(&state.inventory);
    let header = futures_util::stream::once(async {
        Ok::<_, InventoryError>(csv::row([
            "order_id",
            "placed_at",
            "email",
            "items",
            "total_cents",
            "node",
            "state",
            "payment_ref",
        ]))
    });
    let pages = futures_util::stream::try_unfold(Some(0), move |after| {
        let inventory = std::sync::Arc::clone(&inventory);
        async move {
            let Some(after) = after else {
                return Ok(None);
            };
            let page = inventory
                .orders(OrderFilter::After(after), CSV_PAGE)
                .await?;
            let next = match page.last() {
                Some(last) if page.len() as i64 == CSV_PAGE => Some(last.id),
                Some(_) => None,
                None => return Ok(None),
            };
            Ok(Some((csv_rows(&page), next)))
        }
    });
    let body = axum::body::Body::from_stream(futures_util::StreamExt::chain(header, pages));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"orders.csv\"",
            ),
        ],
        body,
    )
        .into_response()
}

async fn sell(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let item_id = parse_item(&id)?;
    let count = parse_count(&body, Some(1))?;
    let stock = state.inventory.sell(item_id, count).await?;
    Ok(moved(stock, "sold", count))
}

async fn restock(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let item_id = parse_item(&id)?;
    let count = parse_count(&body, None)?;
    let stock = state.inventory.restock(item_id, count).await?;
    Ok(moved(stock, "restocked", count))
}

async fn inventory(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<InventoryJson>, ApiError> {
    let lines = line_lengths(&state.live);
    let held: HashMap<ItemId, i64> = state.inventory.held_counts().await?.into_iter().collect();
    Ok(Json(state.inventory.read(|catalog| {
        InventoryJson {
            products: catalog
                .products()
                .map(|p| ProductJson {
                    id: p.id,
                    sku: p.sku.clone(),
                    brand: p.brand.clone(),
                    name: p.name.clone(),
                    released: p.released,
                    release_at: p.release_at,
                    state: ProductState::of(p).as_str().to_string(),
                    price_cents: p.price_cents,
                    mode: if p.line_per_minute.is_some() {
                        "line"
                    } else {
                        "first_come"
                    }
                    .to_string(),
                    max_per_customer: p.max_per_customer,
                    queue: p.line_per_minute.is_some(),
                    admit_per_minute: p.line_per_minute,
                    line_waiting: lines.get(&p.id).map_or(0, |l| l.waiting),
                    line_admitted: lines.get(&p.id).map_or(0, |l| l.admitted),
                    items: p
                        .items
                        .iter()
                        .map(|i| ItemJson {
                            id: i.id,
                            size: i.size.clone(),
                            sku: i.sku.clone(),
                            available_count: i.available_count,
                            level: i.level().as_str().to_string(),
                            held_count: held.get(&i.id).copied().unwrap_or(0),
                        })
                        .collect(),
                })
                .collect(),
        }
    })))
}
