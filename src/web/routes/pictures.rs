//! `GET /images/<hash>.jpg`: a product picture's size, named by the hash of its bytes, so it is
//! cached for a year and never revalidated (`immutable`); a new picture is a new URL. Served
//! from the node's memory after the first read from the database.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::domain::picture::{CONTENT_TYPE, hash_of_file};
use crate::web::AppState;
use crate::web::edge::error::{Audience, PageError, Refused};
use crate::web::edge::extract::Path;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/images/{file}", axum::routing::get(serve))
}

const FOREVER: &str = "public, max-age=31536000, immutable";

async fn serve(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(hash) = hash_of_file(&file) else {
        return Ok(Refused::NotFound.to(Audience::Page).into_response());
    };
    let etag = format!("\"{hash}\"");
    let revalidating = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let Some(bytes) = state.inventory.picture_bytes(hash).await? else {
        return Ok(Refused::NotFound.to(Audience::Page).into_response());
    };
    let mut response = if revalidating {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, CONTENT_TYPE)], bytes).into_response()
    };
    let out = response.headers_mut();
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(FOREVER));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, value);
    }
    Ok(response)
}
