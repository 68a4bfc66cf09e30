//! `GET /static/*`: the embedded files. A fingerprinted URL (`?v=<hash>`) is cached for a year
//! and a new build busts it; every answer has an ETag for revalidation.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::html::assets::{Assets, hashes};
use crate::web::edge::error::{Audience, Refused};
use crate::web::edge::extract::{Path, Query};

#[derive(Deserialize)]
pub struct Version {
    v: Option<String>,
}

async fn serve(
    Path(path): Path<String>,
    Query(version): Query<Version>,
    headers: HeaderMap,
) -> Response {
    let (Some(file), Some(hash)) = (Assets::get(&path), hashes().get(&path)) else {
        return Refused::NotFound.to(Audience::Page).into_response();
    };
    let etag = format!("\"{hash}\"");
    let cache = if version.v.as_deref() == Some(hash.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=0, must-revalidate"
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mime = file.metadata.mimetype().to_owned();
        ([(header::CONTENT_TYPE, mime)], file.data.into_owned()).into_response()
    };
    let response_headers = response.headers_mut();
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, value);
    }
    response
}

pub fn router() -> axum::Router<crate::web::AppState> {
    axum::Router::new().route("/static/{*path}", axum::routing::get(serve))
}
