//! The product file over the admin API: `POST /admin/products/import` takes a file (JSON, as
//! DESIGN fixes it) and writes it whole or answers 422 with every problem; `GET
//! /admin/products/export` answers the catalog in the same format. The CLI's
//! `sneakers product import|export` speak to these (CSV is read and written by the CLI).

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;

use crate::domain::product_file::ProductFile;
use crate::web::AppState;
use crate::web::edge::auth::Admin;
use crate::web::edge::error::ApiError;
use crate::web::edge::extract::read_body;
use crate::web::wire::{ImportProblem, ImportRefused, ImportReply};

/// A file of a few thousand products.
const MAX_FILE: usize = 8 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/products/import", post(import))
        .route("/admin/products/export", get(export))
}

async fn import(
    _: Admin,
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let body = read_body(request, &state, MAX_FILE).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("a product file is at most {} MiB", MAX_FILE >> 20),
        )
    })?;
    let file: ProductFile = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_file",
            format!("not a product file: {e}"),
        )
    })?;
    match state.inventory.import_products(&file, Utc::now()).await? {
        Ok(imported) => Ok(Json(ImportReply {
            created: imported.created,
            updated: imported.updated,
        })
        .into_response()),
        Err(problems) => {
            let refused = ImportRefused {
                error: "invalid_file".into(),
                message: format!("{} problem(s); nothing was written", problems.len()),
                problems: problems
                    .into_iter()
                    .map(|p| ImportProblem {
                        product: p.index,
                        size: p.size,
                        field: p.field,
                        message: p.message,
                    })
                    .collect(),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(refused)).into_response())
        }
    }
}

async fn export(_: Admin, State(state): State<AppState>) -> Json<ProductFile> {
    Json(state.inventory.export_products())
}
