//! The admin's catalog: the products list, and the form that creates and edits a product (a
//! plain form that posts and comes back with its errors, so it works without JavaScript).

use std::collections::HashSet;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{FixedOffset, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use crate::domain::draw::Window;
use crate::domain::product_fields::{ProductState, parse_offset};
use crate::domain::product_form::{DrawChoice, FieldErrors, FormOp, ProductForm};
use crate::domain::{ItemId, ProductId};
use crate::html::fragments::product_form::{FormContext, Notice, product_form};
use crate::html::pages::admin_products::{ListQuery, product_page, products_list};
use crate::html::pages::errors::error_page;
use crate::inventory::InventoryError;
use crate::inventory::catalog_edits::Refusal;
use crate::live::draw_admin;
use crate::web::AppState;
use crate::web::edge::auth::Admin;
use crate::web::edge::extract::{Body, Path, Query};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/products", get(list).post(create))
        .route("/admin/products/new", get(new))
        .route("/admin/products/{id}/edit", get(edit))
        .route("/admin/products/{id}", post(update))
        .route("/admin/products/{id}/archive", post(archive))
        .route("/admin/products/{id}/delete", post(delete))
}

/// What a page of this area answers when something is wrong that no field shows.
pub enum CatalogPageError {
    NotFound,
    BadForm,
    Inventory(InventoryError),
}

impl From<InventoryError> for CatalogPageError {
    fn from(error: InventoryError) -> CatalogPageError {
        CatalogPageError::Inventory(error)
    }
}

impl IntoResponse for CatalogPageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            CatalogPageError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such product.",
            ),
            CatalogPageError::BadForm => (
                StatusCode::BAD_REQUEST,
                "Bad form",
                "That form could not be read; open the page again.",
            ),
            CatalogPageError::Inventory(error) => {
                tracing::error!(error = %crate::error_chain::ErrorChain(&error), "admin catalog page failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Try again",
                    "The store could not reach its database; try again.",
                )
            }
        };
        (status, error_page(status.as_u16(), title, message)).into_response()
    }
}

#[derive(Deserialize, Default)]
pub struct ListParams {
    state: Option<String>,
    q: Option<String>,
    saved: Option<String>,
}

/// `GET /admin/products?state=&q=`.
async fn list(_: Admin, State(state): State<AppState>, Query(params): Query<ListParams>) -> Markup {
    let query = ListQuery {
        state: params.state.as_deref().and_then(ProductState::parse),
        q: params.q.as_deref().unwrap_or_default(),
    };
    state
        .inventory
        .read(|catalog| products_list(catalog.products(), &query))
}

/// The time zone a form starts in: UTC (the admin picks theirs).
fn default_offset() -> FixedOffset {
    parse_offset("+00:00").expect("UTC is an offset")
}

async fn new(_: Admin, State(state): State<AppState>) -> Markup {
    let form = ProductForm::blank(default_offset());
    render(
        &state,
        None,
        false,
        &form,
        &FieldErrors::new(),
        &HashSet::new(),
        None,
    )
}

pub fn parse_id(raw: &str) -> Result<ProductId, CatalogPageError> {
    raw.parse().map_err(|_| CatalogPageError::NotFound)
}

async fn edit(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Markup, CatalogPageError> {
    let id = parse_id(&id)?;
    let notice = params.saved.is_some().then_some(Notice::Saved);
    edit_page(&state, id, notice, None).await
}

/// A saved product's page as it is now, with a notice over the form or a picture's error.
pub async fn edit_page(
    state: &AppState,
    id: ProductId,
    notice: Option<Notice<'_>>,
    picture_error: Option<&str>,
) -> Result<Markup, CatalogPageError> {
    let sold = state.inventory.sold_items(id).await?;
    let draw = draw_admin::panel(&state.inventory, id).await?;
    state
        .inventory
        .read(|c| {
            let product = c.product(id)?;
            let form = form_of(state, product);
            let ctx = FormContext {
                product_id: Some(id),
                released: product.released,
                sold: &sold,
                notice,
                live: true,
            };
            let form = html! { (product_form(&form, &FieldErrors::new(), &ctx)) @if let Some(draw) = draw { (draw) } };
            Some(product_page(
                Some(product),
                form,
                picture_error,
                &admin_token(state),
            ))
        })
        .ok_or(CatalogPageError::NotFound)
}

/// A saved product's form, its draw's window included.
fn form_of(state: &AppState, product: &crate::domain::Product) -> ProductForm {
    ProductForm::of(product, default_offset()).with_draw(
        state.inventory.draw(product.id).map(|d| d.window),
        Utc::now(),
    )
}

/// Puts the saved product in or out of draw mode as the form says (nothing when it says what
/// is already so, to the minute the form shows); what went wrong, for the admin, when the
/// window closed meanwhile.
async fn apply_draw(
    state: &AppState,
    id: ProductId,
    choice: DrawChoice,
) -> Result<Result<(), &'static str>, CatalogPageError> {
    let minutes = |w: Window| (w.opens.timestamp() / 60, w.closes.timestamp() / 60);
    let current = state.inventory.draw(id).map(|d| d.window);
    let window = match choice {
        DrawChoice::Keep => return Ok(Ok(())),
        DrawChoice::Off if current.is_none() => return Ok(Ok(())),
        DrawChoice::Window(w) if current.map(minutes) == Some(minutes(w)) => return Ok(Ok(())),
        DrawChoice::Off => None,
        DrawChoice::Window(w) => Some(w),
    };
    match state.inventory.configure_draw(id, window).await {
        Ok(()) => Ok(Ok(())),
        // The product exists: its draw's window closed since the form was opened.
        Err(InventoryError::ProductNotFound(_)) => Ok(Err(
            "Saved, but the draw's window closed meanwhile: its entries are decided by it, so the draw was not changed.",
        )),
        Err(other) => Err(other.into()),
    }
}

fn admin_token(state: &AppState) -> String {
    state
        .tokens
        .admin
        .sign("admin", Utc::now().timestamp_millis())
}

fn render(
    state: &AppState,
    product: Option<&crate::domain::Product>,
    released: bool,
    form: &ProductForm,
    errors: &FieldErrors,
    sold: &HashSet<ItemId>,
    notice: Option<Notice>,
) -> Markup {
    let ctx = FormContext {
        product_id: product.map(|p| p.id),
        released,
        sold,
        notice,
        live: true,
    };
    product_page(
        product,
        product_form(form, errors, &ctx),
        None,
        &admin_token(state),
    )
}

/// The posted fields, in order (sizes repeat as `size-<n>-*`), and the pressed button.
fn read_form(body: &[u8]) -> Result<(ProductForm, FormOp), CatalogPageError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| CatalogPageError::BadForm)?;
    let op = FormOp::parse(
        pairs
            .iter()
            .find(|(k, _)| k == "op")
            .map(|(_, v)| v.as_str()),
    );
    let form = ProductForm::from_fields(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    Ok((form, op))
}

fn see_other(location: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The form again with what is wrong, 422.
fn refused(markup: Markup) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, markup).into_response()
}

/// A store refusal as the field it is about.
fn refusal_errors(refusal: &Refusal, form: &ProductForm) -> (FieldErrors, Option<String>) {
    let mut errors = FieldErrors::new();
    let mut notice = None;
    match refusal {
        Refusal::SkuTaken(_) => {
            errors.insert("sku".into(), "Another product has this SKU.".into());
        }
        Refusal::ItemSkuTaken { index, sku } => {
            // The spec's sizes skip blank and removed rows: find the row by its SKU.
            let row = form
                .sizes
                .iter()
                .position(|r| r.sku.trim().eq_ignore_ascii_case(sku))
                .unwrap_or(*index);
            errors.insert(
                format!("size-{row}-sku"),
                format!("Another product has a size with the SKU {sku}."),
            );
        }
        Refusal::SizeSold(item) => {
            if let Some(row) = form.sizes.iter().position(|r| r.id == Some(*item)) {
                errors.insert(
                    format!("size-{row}-remove"),
                    "Pairs of this size have been sold: set its stock to 0 instead.".into(),
                );
            }
        }
        Refusal::Stale { at } => {
            notice = Some(format!(
                "This product was changed by another admin at {} since you opened it. \
                 Nothing was saved: below are the current values.",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
        Refusal::HasOrders | Refusal::NotFound => notice = Some(refusal.to_string()),
    }
    (errors, notice)
}

/// `POST /admin/products`: create.
async fn create(
    _: Admin,
    State(state): State<AppState>,
    Body(body): Body,
) -> Result<Response, CatalogPageError> {
    let (mut form, op) = read_form(&body)?;
    let none = HashSet::new();
    if form.apply(op) {
        return Ok(
            render(&state, None, false, &form, &FieldErrors::new(), &none, None).into_response(),
        );
    }
    let spec = match form.validate(Utc::now(), false, &none) {
        Ok(spec) => spec,
        Err(errors) => {
            return Ok(refused(render(
                &state, None, false, &form, &errors, &none, None,
            )));
        }
    };
    match state.inventory.create_product(&spec).await? {
        Ok(id) => {
            if let Err(problem) = apply_draw(&state, id, spec.draw).await? {
                tracing::warn!(%id, problem, "a new product's draw was not set");
            }
            Ok(see_other(format!("/admin/products/{id}/edit?saved=1")))
        }
        Err(refusal) => {
            let (errors, notice) = refusal_errors(&refusal, &form);
            let notice = notice.as_deref().map(Notice::Problem);
            Ok(refused(render(
                &state, None, false, &form, &errors, &none, notice,
            )))
        }
    }
}

/// `POST /admin/products/:id`: save an edit (or re-render for a button that only moves rows).
async fn update(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response, CatalogPageError> {
    let id = parse_id(&id)?;
    let (mut form, op) = read_form(&body)?;
    let sold = state.inventory.sold_items(id).await?;
    let Some((product, released)) = state
        .inventory
        .read(|c| c.product(id).map(|p| (p.clone(), p.released)))
    else {
        return Err(CatalogPageError::NotFound);
    };
    if form.apply(op) {
        let page = render(
            &state,
            Some(&product),
            released,
            &form,
            &FieldErrors::new(),
            &sold,
            None,
        );
        return Ok(page.into_response());
    }
    let spec = match form.validate(Utc::now(), released, &sold) {
        Ok(spec) => spec,
        Err(errors) => {
            return Ok(refused(render(
                &state,
                Some(&product),
                released,
                &form,
                &errors,
                &sold,
                None,
            )));
        }
    };
    let Ok(revision) = form.revision.trim().parse::<i32>() else {
        return Err(CatalogPageError::BadForm);
    };
    match state.inventory.update_product(id, revision, &spec).await? {
        Ok(()) => match apply_draw(&state, id, spec.draw).await? {
            Ok(()) => Ok(see_other(format!("/admin/products/{id}/edit?saved=1"))),
            Err(problem) => {
                let page = state.inventory.read(|c| {
                    let product = c.product(id)?;
                    Some(render(
                        &state,
                        Some(product),
                        product.released,
                        &form_of(&state, product),
                        &FieldErrors::new(),
                        &sold,
                        Some(Notice::Problem(problem)),
                    ))
                });
                page.map(|p| (StatusCode::CONFLICT, p).into_response())
                    .ok_or(CatalogPageError::NotFound)
            }
        },
        Err(refusal) => {
            let (errors, notice) = refusal_errors(&refusal, &form);
            // A stale edit shows the current values (the admin's are lost only on screen: the
            // notice says so); any other refusal shows what was typed with its error.
            let current = state.inventory.read(|c| c.product(id).cloned());
            let sold = state.inventory.sold_items(id).await?;
            let Some(current) = current else {
                return Err(CatalogPageError::NotFound);
            };
            let shown = match refusal {
                Refusal::Stale { .. } => form_of(&state, &current),
                _ => form,
            };
            let notice = notice.as_deref().map(Notice::Problem);
            Ok(refused(render(
                &state,
                Some(&current),
                current.released,
                &shown,
                &errors,
                &sold,
                notice,
            )))
        }
    }
}

/// `POST /admin/products/:id/archive`.
async fn archive(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, CatalogPageError> {
    let id = parse_id(&id)?;
    match state.inventory.archive_product(id).await? {
        Ok(()) => Ok(see_other(format!("/admin/products/{id}/edit?saved=1"))),
        Err(_) => Err(CatalogPageError::NotFound),
    }
}

/// `POST /admin/products/:id/delete`: only a product nobody bought; otherwise the form says
/// to archive it.
async fn delete(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, CatalogPageError> {
    let id = parse_id(&id)?;
    match state.inventory.delete_product(id).await? {
        Ok(()) => Ok(see_other("/admin/products".into())),
        Err(Refusal::HasOrders) => {
            let sold = state.inventory.sold_items(id).await?;
            let page = state.inventory.read(|c| {
                let product = c.product(id)?;
                let form = form_of(&state, product);
                Some(render(
                    &state,
                    Some(product),
                    product.released,
                    &form,
                    &FieldErrors::new(),
                    &sold,
                    Some(Notice::Problem(
                        "This product has orders, so it cannot be deleted: archive it instead.",
                    )),
                ))
            });
            page.map(|p| (StatusCode::CONFLICT, p).into_response())
                .ok_or(CatalogPageError::NotFound)
        }
        Err(_) => Err(CatalogPageError::NotFound),
    }
}
