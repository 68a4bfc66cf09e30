//! A product's pictures from its admin page: uploads (`POST /admin/products/:id/images`,
//! multipart field `image`, one or more files), the main one chosen, moved and removed with
//! plain forms, and the order the shim's drag-and-drop posts. A refused upload answers the
//! product's page, 422, with the reason beside the file input.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt;

use super::admin_products::{CatalogPageError, edit_page, parse_id};
use crate::domain::ProductId;
use crate::domain::picture::{self, MAX_PICTURES, MAX_UPLOAD_BYTES, PictureError};
use crate::inventory::pictures::{PictureRefusal, UploadRefusal};
use crate::web::AppState;
use crate::web::edge::auth::Admin;
use crate::web::edge::extract::{Body, Path};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/products/{id}/images", post(upload))
        .route("/admin/products/{id}/images/order", post(order))
        .route("/admin/products/{id}/images/{image_id}/{action}", post(act))
}

/// A refused upload's body is read on to its end, up to this, so the browser gets the page
/// instead of a reset connection.
const DRAIN_MAX: usize = (MAX_PICTURES + 1) * MAX_UPLOAD_BYTES;

fn back(id: ProductId) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            format!("/admin/products/{id}/edit#product-pictures"),
        )],
    )
        .into_response()
}

async fn refused(state: &AppState, id: ProductId, why: &str) -> Response {
    match edit_page(state, id, None, Some(why)).await {
        Ok(page) => (StatusCode::UNPROCESSABLE_ENTITY, page).into_response(),
        Err(error) => error.into_response(),
    }
}

/// What went wrong reading the multipart body, as the form says it.
enum Read {
    Refused(PictureError),
    Unreadable,
}

/// `POST /admin/products/:id/images`: each file of field `image` becomes a picture, in order;
/// the first refused stops the rest (those before it are kept).
async fn upload(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, CatalogPageError> {
    let id = parse_id(&id)?;
    if state.inventory.read(|c| c.product(id).is_none()) {
        return Err(CatalogPageError::NotFound);
    }
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok());
    let Some(boundary) = boundary else {
        return Ok(refused(&state, id, PictureError::Empty.to_string().as_str()).await);
    };
    let timeout = state.config.connections.body_timeout;
    let mut body = request.into_body().into_data_stream();
    let mut multipart = multer::Multipart::new(&mut body, boundary);
    let mut added = 0;
    let outcome: Result<(), Read> = loop {
        let field = match tokio::time::timeout(timeout, multipart.next_field()).await {
            Ok(Ok(Some(field))) => field,
            Ok(Ok(None)) => break Ok(()),
            Ok(Err(_)) | Err(_) => break Err(Read::Unreadable),
        };
        if field.name() != Some("image") {
            continue;
        }
        // A file input left empty posts one part with no file name and no bytes.
        if field.file_name().is_none_or(str::is_empty) {
            continue;
        }
        let bytes = match tokio::time::timeout(timeout, read_field(field)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(read)) => break Err(read),
            Err(_) => break Err(Read::Unreadable),
        };
        match state.inventory.add_picture(id, bytes.into()).await? {
            Ok(()) => added += 1,
            Err(UploadRefusal::Picture(why)) => break Err(Read::Refused(why)),
            Err(UploadRefusal::Store(PictureRefusal::NotFound)) => {
                return Err(CatalogPageError::NotFound);
            }
            Err(UploadRefusal::Store(why)) => {
                drop(multipart);
                drain(&mut body, timeout).await;
                return Ok(refused(&state, id, &sentence(why)).await);
            }
        }
    };
    drop(multipart);
    match outcome {
        Ok(()) if added == 0 => Ok(refused(&state, id, &PictureError::Empty.to_string()).await),
        Ok(()) => Ok(back(id)),
        Err(read) => {
            drain(&mut body, timeout).await;
            let why = match read {
                Read::Refused(why) => why.to_string(),
                Read::Unreadable => "The upload did not arrive whole: try again.".to_string(),
            };
            Ok(refused(&state, id, &why).await)
        }
    }
}

fn sentence(refusal: PictureRefusal) -> String {
    match refusal {
        PictureRefusal::Duplicate => {
            "That picture is uploaded already (here or on another product).".into()
        }
        PictureRefusal::TooMany => PictureError::TooMany.to_string(),
        PictureRefusal::NotFound | PictureRefusal::BadOrder => {
            "That picture is not this product's any more: open the page again.".into()
        }
    }
}

/// One file's bytes, refused as soon as it passes [`MAX_UPLOAD_BYTES`].
async fn read_field(mut field: multer::Field<'_>) -> Result<Vec<u8>, Read> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|_| Read::Unreadable)? {
        if bytes.len() + chunk.len() > MAX_UPLOAD_BYTES {
            return Err(Read::Refused(PictureError::TooBig));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Reads what is left of a refused upload and drops it (see [`DRAIN_MAX`]).
async fn drain<S>(body: &mut S, timeout: std::time::Duration)
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, axum::Error>> + Unpin,
{
    let _ = tokio::time::timeout(timeout, async {
        let mut read = 0;
        while let Some(Ok(chunk)) = body.next().await {
            read += chunk.len();
            if read > DRAIN_MAX {
                break;
            }
        }
    })
    .await;
}

/// `POST /admin/products/:id/images/order` (`order=3,1,2`, from the drag-and-drop): 204, or 422
/// when it does not name each of the product's pictures once (the page is stale).
async fn order(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response, CatalogPageError> {
    let id = parse_id(&id)?;
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body).map_err(|_| CatalogPageError::BadForm)?;
    let raw = fields
        .iter()
        .find(|(k, _)| k == "order")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let current = state.inventory.picture_order(id).await?;
    let Some(order) = picture::parse_order(raw, &current) else {
        return Ok(StatusCode::UNPROCESSABLE_ENTITY.into_response());
    };
    match state.inventory.order_pictures(id, &order).await? {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(_) => Ok(StatusCode::UNPROCESSABLE_ENTITY.into_response()),
    }
}

/// `POST /admin/products/:id/images/:image_id/{main,up,down,delete}`, the forms without
/// JavaScript: back to the pictures.
async fn act(
    _: Admin,
    State(state): State<AppState>,
    Path((id, image_id, action)): Path<(String, i32, String)>,
) -> Result<Response, CatalogPageError> {
    let id = parse_id(&id)?;
    if action == "delete" {
        return match state.inventory.remove_picture(id, image_id).await? {
            Ok(()) => Ok(back(id)),
            Err(why) => Ok(refused(&state, id, &sentence(why)).await),
        };
    }
    let current = state.inventory.picture_order(id).await?;
    let order = match action.as_str() {
        "main" => picture::with_main(&current, image_id),
        "up" => picture::moved(&current, image_id, true),
        "down" => picture::moved(&current, image_id, false),
        _ => return Err(CatalogPageError::NotFound),
    };
    let Some(order) = order else {
        // Already first or last, or not this product's: nothing to move.
        return Ok(back(id));
    };
    match state.inventory.order_pictures(id, &order).await? {
        Ok(()) => Ok(back(id)),
        Err(why) => Ok(refused(&state, id, &sentence(why)).await),
    }
}
