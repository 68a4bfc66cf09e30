//! Admins and draws: `POST /admin/products/:id/draw` puts a product in draw mode with its entry
//! window (`opens`, `closes`: RFC 3339; both empty takes it out), and
//! `GET /admin/products/:id/entries.csv` lists its entries (CSV-neutralised cells).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::domain::csv;
use crate::domain::draw::Window;
use crate::inventory::InventoryError;
use crate::web::AppState;
use crate::web::edge::auth::Admin;
use crate::web::edge::error::ApiError;
use crate::web::edge::extract::{Body, Path};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/products/{id}/draw", post(set_draw))
        .route("/admin/products/{id}/entries.csv", get(entries_csv))
}

#[derive(Deserialize, Default)]
struct DrawForm {
    opens: Option<String>,
    closes: Option<String>,
}

fn invalid(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_draw",
        format!(
            "{what}: opens and closes are RFC 3339 times (closes after opens), or both empty to end draw mode"
        ),
    )
}

async fn set_draw(
    _: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let product_id = state.inventory.find_product(&key)?;
    let form: DrawForm = serde_urlencoded::from_bytes(&body).map_err(|_| invalid("not a form"))?;
    let time = |field: &str, text: Option<&str>| -> Result<Option<DateTime<Utc>>, ApiError> {
        match text.map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => DateTime::parse_from_rfc3339(text)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|_| invalid(&format!("{field}={text:?}"))),
        }
    };
    let opens = time("opens", form.opens.as_deref())?;
    let closes = time("closes", form.closes.as_deref())?;
    let window = match (opens, closes) {
        (None, None) => None,
        (Some(opens), Some(closes)) => {
            Some(Window::new(opens, closes).map_err(|e| invalid(&e.to_string()))?)
        }
        _ => return Err(invalid("one of the two times is missing")),
    };
    match state.inventory.configure_draw(product_id, window).await {
        Ok(()) => {}
        // The product exists (found above): its draw is past its window.
        Err(InventoryError::ProductNotFound(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "draw_closed",
                "this draw's window has closed: its entries are decided by it",
            ));
        }
        Err(other) => return Err(other.into()),
    }
    let rfc3339 = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Ok(Json(json!({
        "product_id": product_id,
        "draw": window.map(|w| json!({ "opens": rfc3339(w.opens), "closes": rfc3339(w.closes) })),
    }))
    .into_response())
}

async fn entries_csv(
    _: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let product_id = state.inventory.find_product(&key)?;
    let entries = state.inventory.draw_entries(product_id).await?;
    let mut body = csv::row([
        "entry_id",
        "created_at",
        "email",
        "size",
        "name",
        "address_line1",
        "address_line2",
        "city",
        "postal_code",
        "country",
        "card_last4",
        "state",
        "void_reason",
        "place",
        "order_id",
        "hash",
    ]);
    for (entry, details) in &entries {
        let size = state
            .inventory
            .read(|c| {
                c.item(crate::domain::ItemId(entry.item_id))
                    .map(|(_, i)| i.size.clone())
            })
            .unwrap_or_default();
        let created = DateTime::<Utc>::from_timestamp_millis(entry.created_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        let (id, place, order) = (
            entry.id.to_string(),
            entry.place.map(|p| p.to_string()).unwrap_or_default(),
            entry.order_id.map(|o| o.to_string()).unwrap_or_default(),
        );
        body.push_str(&csv::row([
            id.as_str(),
            &created,
            &details.email,
            &size,
            &details.ship_name,
            &details.ship_line1,
            &details.ship_line2,
            &details.ship_city,
            &details.ship_postal_code,
            &details.ship_country,
            details.card_last4.as_deref().unwrap_or(""),
            &entry.state,
            entry.void_reason.as_deref().unwrap_or(""),
            &place,
            &order,
            &entry.hash,
        ]));
    }
    let disposition = format!("attachment; filename=\"draw-{product_id}-entries.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
