//! Checkout: the pairs the shopper holds, where to ship them and the card; then the order and
//! its state. `POST /checkout` turns the holds into an order waiting for payment (the holds
//! extended once) and pays it: 303 to the order when paid, 402 with the page and the reason
//! when the card is declined (the holds stay a short while for another try), 422 with what to
//! fix when a field is wrong. The inventory service talks to the provider, never this file.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use maud::Markup;
use serde::Deserialize;

use super::cart::{current_copy, current_holds, save};
use crate::config::LimitedAction;
use crate::domain::address::{ShippingForm, parse_shipping};
use crate::domain::payment::TestCard;
use crate::domain::{Cart, CartError, ProductId, Shopper};
use crate::html::fragments::cart::held_lines;
use crate::html::pages::checkout::{self as view, Filled, Gateway, Review};
use crate::html::pages::layout::PageMeta;
use crate::inventory::draws::CardFields;
use crate::inventory::payments::{Begun, Method, Paid, PayError, Payments};
use crate::web::edge::client::ClientAddr;
use crate::web::edge::csrf::check_csrf;
use crate::web::edge::error::{Audience, PageError};
use crate::web::edge::extract::{Form, Query};
use crate::web::router::csp_allowing;
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

/// The checkout form's fields (DESIGN: `POST /checkout`).
#[derive(Deserialize, Default)]
pub struct CheckoutForm {
    #[serde(default, rename = "_csrf_token")]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    address_line1: String,
    #[serde(default)]
    address_line2: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    card_exp: String,
    #[serde(default)]
    card_cvc: String,
    /// Stripe: the payment method Stripe.js made of the card in the browser.
    #[serde(default)]
    payment_method: String,
}

impl CheckoutForm {
    pub(super) fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    /// The card as the payment layer reads it (a draw entry takes the same fields).
    pub(super) fn card(&self) -> CardFields<'_> {
        CardFields {
            number: &self.card_number,
            exp: &self.card_exp,
            cvc: &self.card_cvc,
            payment_method: &self.payment_method,
        }
    }

    pub(super) fn shipping(&self) -> ShippingForm<'_> {
        ShippingForm {
            email: &self.email,
            name: &self.name,
            address_line1: &self.address_line1,
            address_line2: &self.address_line2,
            city: &self.city,
            postal_code: &self.postal_code,
            country: &self.country,
        }
    }

    /// What the page shows again: never the card's number or code.
    fn kept(&self) -> Filled<'_> {
        Filled {
            values: vec![
                ("email", &self.email),
                ("name", &self.name),
                ("address_line1", &self.address_line1),
                ("address_line2", &self.address_line2),
                ("city", &self.city),
                ("postal_code", &self.postal_code),
                ("country", &self.country),
                ("card_exp", &self.card_exp),
            ],
            ..Filled::default()
        }
    }
}

/// Renders the checkout page for `filled`, with `status`.
async fn page(
    state: &AppState,
    shopper: &Shopper,
    filled: &Filled<'_>,
    notices: (&[String], Option<&view::LimitNotice>),
    status: StatusCode,
) -> Result<Response, PageError> {
    let holds = current_holds(state, shopper).await?;
    let mut meta = PageMeta::new(&state.tokens, shopper);
    let lines = state.inventory.read(|catalog| held_lines(catalog, &holds));
    meta.cart_count = lines.len().to_string();
    let keys = state.inventory.payments().browser_keys();
    let gateway = match &keys {
        Some((publishable_key, script_url)) => Gateway::Stripe {
            publishable_key,
            script_url,
        },
        None => Gateway::Test,
    };
    let (gone, limit) = notices;
    let review = Review {
        lines: &lines,
        gone,
        limit,
        gateway,
        filled,
    };
    let mut response = (status, view::review(&meta, &review)).into_response();
    let origins = state.inventory.payments().browser_origins();
    if !origins.is_empty() {
        // Stripe.js and its card field come from Stripe: this page's policy lets them in.
        if let Ok(policy) = HeaderValue::from_str(&csp_allowing(&origins)) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, policy);
        }
    }
    Ok(response)
}

async fn review(
    State(state): State<AppState>,
    shopper: Shopper,
    Query(query): Query<ReviewQuery>,
) -> Result<Response, PageError> {
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
    // A signed-in shopper's receipt goes to the account's address unless they type another.
    let email = match shopper.account {
        Some(id) => state.inventory.account(id).await?.map(|a| a.email),
        None => None,
    }
    .unwrap_or_default();
    let filled = Filled {
        values: vec![("email", &email)],
        ..Filled::default()
    };
    page(
        &state,
        &shopper,
        &filled,
        (&gone, limit.as_ref()),
        StatusCode::OK,
    )
    .await
}

async fn purchase(
    State(state): State<AppState>,
    shopper: Shopper,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<CheckoutForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &shopper, &headers, &form.csrf_token)?;
    // A checkout is also a card submission: both budgets, or neither when one is spent.
    let limited = Some(shopper.cart_id.as_str());
    state.limits.check_all(
        &[LimitedAction::Checkout, LimitedAction::Payment],
        client,
        limited,
        Audience::Page,
    )?;
    let mut filled = form.kept();
    let shipping = parse_shipping(&form.shipping());
    let method = match state.inventory.payments() {
        Payments::Test(_) => TestCard::parse(
            &form.card_number,
            &form.card_exp,
            &form.card_cvc,
            Utc::now().date_naive(),
        )
        .map(Method::Test)
        .map_err(|errors| {
            errors
                .into_iter()
                .map(|e| (e.field, e.message))
                .collect::<Vec<_>>()
        }),
        Payments::Stripe(_) => {
            let id = form.payment_method.trim();
            if id.is_empty() || id.len() > 255 || !id.bytes().all(|b| b.is_ascii_graphic()) {
                Err(vec![(
                    "payment_method",
                    "Enter your card in the card field (it needs JavaScript).",
                )])
            } else {
                Ok(Method::Stripe(id.to_string()))
            }
        }
    };
    if let Err(errors) = &shipping {
        filled
            .errors
            .extend(errors.iter().map(|e| (e.field, e.message)));
    }
    if let Err(errors) = &method {
        filled.errors.extend(errors.iter().copied());
    }
    let (Ok((email, address)), Ok(method)) = (shipping, method) else {
        return page(
            &state,
            &shopper,
            &filled,
            (&[], None),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let node = &state.config.node_name;
    let order_id = match state
        .inventory
        .begin_checkout(&shopper, email.as_str(), &address, node)
        .await?
    {
        Begun::Order { order_id, .. } => order_id,
        // Nothing held (the holds ended meanwhile): the page says the cart is empty.
        Begun::Empty => return Ok(see_other("/checkout")),
        Begun::LimitReached { product_id } => {
            return Ok(see_other(format!("/checkout?limit={product_id}")));
        }
        Begun::NotAdmitted { product_id } => {
            // Nothing was charged. This shopper may not buy that drop now (never let in from
            // its line, or no longer): its pairs go back, and its page says why.
            for hold in current_holds(&state, &shopper).await? {
                let of_it = state.inventory.read(|c| {
                    c.item(hold.item_id)
                        .is_some_and(|(p, _)| p.id == product_id)
                });
                if of_it {
                    state
                        .inventory
                        .release_hold(&shopper.cart_id, hold.item_id)
                        .await?;
                }
            }
            let code = CartError::NotAdmitted.code();
            let mut response = see_other(format!("/products/{product_id}?cart_error={code}"));
            let cart = current_copy(&state, &shopper).await?;
            let cookie = save(&state, &shopper, &cart).await?;
            response.headers_mut().append(header::SET_COOKIE, cookie);
            return Ok(response);
        }
        Begun::TooLarge => {
            filled.errors.push((
                "card_number",
                "This order is too large to pay in one go: remove a pair and try again.",
            ));
            return page(
                &state,
                &shopper,
                &filled,
                (&[], None),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match state.inventory.pay(order_id, &method).await {
        // Paid, or refunded because it came too late, or still deciding: the order page says.
        Ok(Paid::Paid { .. } | Paid::Refunded { .. } | Paid::Pending) => {
            let mut response = see_other(format!("/checkout/complete?order={order_id}"));
            // The pairs are the order's now: the cart's copy is empty.
            let cookie = save(&state, &shopper, &Cart::default()).await?;
            response.headers_mut().append(header::SET_COOKIE, cookie);
            Ok(response)
        }
        Ok(Paid::Declined(decline)) => {
            filled.declined = Some(decline.message());
            page(
                &state,
                &shopper,
                &filled,
                (&[], None),
                StatusCode::PAYMENT_REQUIRED,
            )
            .await
        }
        // Its holds ended between the two steps: the cart is empty now.
        Err(PayError::NotPayable(_)) => Ok(see_other("/checkout")),
        Err(PayError::Provider(error)) => {
            tracing::warn!(order_id, error = %crate::error_chain::ErrorChain(&error), "payment provider failed");
            filled.declined = Some(
                "We could not reach the card network, so nothing was charged. Your pairs are still held: try again in a moment.",
            );
            page(
                &state,
                &shopper,
                &filled,
                (&[], None),
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await
        }
        Err(PayError::Inventory(error)) => Err(error.into()),
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
