//! Static files embedded in the binary (one file to deploy). Links carry a content hash
//! (`?v=`), so a fingerprinted URL is cached for a year and a new build busts it; every answer
//! has an ETag for revalidation.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use serde::Deserialize;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

fn hashes() -> &'static HashMap<String, String> {
    static HASHES: OnceLock<HashMap<String, String>> = OnceLock::new();
    HASHES.get_or_init(|| {
        Assets::iter()
            .filter_map(|path| {
                let file = Assets::get(&path)?;
                let hex: String = file.metadata.sha256_hash()[..8]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                Some((path.into_owned(), hex))
            })
            .collect()
    })
}

/// The URL to link to: fingerprinted, so browsers may cache it for good.
pub fn asset_url(path: &str) -> String {
    match hashes().get(path) {
        Some(hash) => format!("/static/{path}?v={hash}"),
        None => format!("/static/{path}"),
    }
}

#[derive(Deserialize)]
pub struct Version {
    v: Option<String>,
}

pub async fn serve(
    Path(path): Path<String>,
    Query(version): Query<Version>,
    headers: HeaderMap,
) -> Response {
    let (Some(file), Some(hash)) = (Assets::get(&path), hashes().get(&path)) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
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
