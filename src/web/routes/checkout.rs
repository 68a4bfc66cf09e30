//! Checkout: review the cart, buy every pair in one transaction, see the order.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::get;
use maud::Markup;
use serde::Deserialize;

use super::cart::{CartForm, read_cart, save};
use crate::config::LimitedAction;
use crate::domain::Shopper;
use crate::domain::checkout::CheckoutError;
use crate::domain::{CartError, ProductId};
use crate::html::fragments::cart::lines;
use crate::html::pages::checkout as view;
use crate::html::pages::layout::PageMeta;
use crate::inventory::InventoryError;
use crate::web::edge::client::ClientAddr;
use crate::web::edge::csrf::check_csrf;
use crate::web::edge::error::{Audience, PageError};
use crate::web::edge::extract::{Form, Query};
use crate::web::{AppState, see_other};

/// Checkout routes; the caller adds the session layer.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/checkout", get(review).post(purchase))
        .route("/checkout/complete", get(complete))
}

#[derive(Deserialize, Default)]
pub struct ReviewQuery {
    /// Pairs that sold out during the last attempt, `12,15`.
    sold_out: Option<String>,
    /// The product whose limit per customer the last attempt would have exceeded.
    limit: Option<String>,
}

async fn review(
    State(state): State<AppState>,
    shopper: Shopper,
    headers: HeaderMap,
    Query(query): Query<ReviewQuery>,
) -> Result<Markup, PageError> {
    let cart = read_cart(&state, &shopper, &headers).await?;
    let mut meta = PageMeta::new(&state.tokens, &shopper);
    let gone: Vec<String> = query
        .sold_out
        .unwrap_or_default()
        .split(',')
        .filter_map(|id| id.parse().ok())
        .filter_map(|id| {
            state.inventory.read(|c| {
                c.item(id)
                    .map(|(p, i)| format!("{} {} (size {})", p.brand, p.name, i.size))
            })
        })
        .collect();
    let limit = query
        .limit
        .and_then(|id| id.parse::<ProductId>().ok())
        .and_then(|id| {
            state.inventory.read(|c| {
                let product = c.product(id)?;
                Some(view::LimitNotice {
                    product: format!("{} {}", product.brand, product.name),
                    max: product.max_per_customer?,
                })
            })
        });
    let lines = state.inventory.read(|catalog| lines(catalog, &cart));
    meta.cart_count = lines.len().to_string();
    Ok(view::review(&meta, &lines, &gone, limit.as_ref()))
}

async fn purchase(
    State(state): State<AppState>,
    shopper: Shopper,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<CartForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &shopper, &headers, form.csrf_token())?;
    let limited = Some(shopper.cart_id.as_str());
    state
        .limits
        .check(LimitedAction::Checkout, client, limited, Audience::Page)?;
    let mut cart = read_cart(&state, &shopper, &headers).await?;
    match state
        .inventory
        .purchase(&shopper, &cart, &state.config.node_name)
        .await
    {
        Ok(purchase) => {
            cart = Default::default();
            let mut response = see_other(format!("/checkout/complete?order={}", purchase.order_id));
            response
                .headers_mut()
                .append(header::SET_COOKIE, save(&state, &shopper, &cart).await?);
            Ok(response)
        }
        Err(InventoryError::Checkout(CheckoutError::Empty)) => Ok(see_other("/checkout")),
        Err(InventoryError::Checkout(CheckoutError::SignInRequired)) => {
            Ok(see_other("/account/login?next=/checkout"))
        }
        Err(InventoryError::Checkout(CheckoutError::VerificationRequired)) => {
            Ok(see_other("/account?verify=needed"))
        }
        Err(InventoryError::Checkout(CheckoutError::LimitReached { product_id, .. })) => {
            Ok(see_other(format!("/checkout?limit={product_id}")))
        }
        Err(InventoryError::Checkout(CheckoutError::NotAdmitted(product_id))) => {
            // Nothing was charged. This shopper may not buy that drop now (never let in from
            // its line, or no longer): its pairs leave the cart, and its page says why.
            let lined: Vec<_> = cart
                .items()
                .iter()
                .copied()
                .filter(|id| {
                    state
                        .inventory
                        .read(|c| c.item(*id).is_some_and(|(p, _)| p.id == product_id))
                })
                .collect();
            for id in lined {
                let _ = cart.remove(id);
            }
            let code = CartError::NotAdmitted.code();
            let mut response = see_other(format!("/products/{product_id}?cart_error={code}"));
            response
                .headers_mut()
                .append(header::SET_COOKIE, save(&state, &shopper, &cart).await?);
            Ok(response)
        }
        Err(InventoryError::Checkout(CheckoutError::SoldOut(gone))) => {
            // Nothing was charged. The gone pairs leave the cart; the rest stays for another try.
            for id in &gone {
                let _ = cart.remove(*id);
            }
            let ids: Vec<String> = gone.iter().map(ToString::to_string).collect();
            let mut response = see_other(format!("/checkout?sold_out={}", ids.join(",")));
            response
                .headers_mut()
                .append(header::SET_COOKIE, save(&state, &shopper, &cart).await?);
            Ok(response)
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Deserialize)]
pub struct CompleteQuery {
    order: Option<String>,
}

async fn complete(
    State(state): State<AppState>,
    shopper: Shopper,
    Query(query): Query<CompleteQuery>,
) -> Result<Markup, PageError> {
    let not_found = || PageError::NotFound("that order".into());
    let order_id: i32 = query
        .order
        .as_deref()
        .and_then(|o| o.parse().ok())
        .ok_or_else(not_found)?;
    let order = state
        .inventory
        .order(order_id, &shopper.cart_id)
        .await?
        .ok_or_else(not_found)?;
    let meta = PageMeta::new(&state.tokens, &shopper);
    Ok(view::complete(&meta, &order))
}
