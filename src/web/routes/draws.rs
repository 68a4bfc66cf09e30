//! Draws over HTTP: `POST /products/:id/entries` enters (a verified account, once, the card
//! authorised), `POST /products/:id/entries/withdraw` withdraws before close, and
//! `GET /products/:id/draw.json` publishes the draw: the secret and the entry hashes in draw
//! order, so anyone can recompute it. The product page's panel is rendered here too.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use maud::Markup;
use serde::Deserialize;
use serde_json::json;

use crate::config::{LimitedAction, Per};
use crate::domain::address::parse_shipping;
use crate::domain::{ItemId, ProductId, Shopper};
use crate::html::fragments::draw::{
    AccountEntry, DrawPanel, Mine, account_entries as account_entries_view, draw_panel,
};
use crate::html::pages::draw::refused;
use crate::html::pages::layout::PageMeta;
use crate::inventory::draws::{DrawError, EntryForm};
use crate::rate_limit::Limited;
use crate::web::edge::client::ClientAddr;
use crate::web::edge::csrf::check_csrf;
use crate::web::edge::error::{Audience, PageError};
use crate::web::edge::extract::{Form, Path};
use crate::web::routes::checkout::CheckoutForm;
use crate::web::{AppState, see_other};

/// Draw routes; the caller adds the session layer.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/products/{id}/entries", post(enter))
        .route("/products/{id}/entries/withdraw", post(withdraw))
        .route("/products/{id}/draw.json", get(published))
}

/// The entry form: the size, the checkout's address fields, and the card (the test gateway's
/// card fields, or with Stripe the `payment_method` Stripe.js made).
#[derive(Deserialize, Default)]
pub struct EntryFields {
    #[serde(default)]
    item_id: String,
    /// The same fields as the checkout form, read by the same code.
    #[serde(flatten)]
    payment: CheckoutForm,
}

#[derive(Deserialize, Default)]
pub struct WithdrawFields {
    #[serde(default, rename = "_csrf_token")]
    csrf_token: String,
}

fn drawn_product(state: &AppState, id: &str) -> Result<ProductId, PageError> {
    let not_found = || PageError::NotFound("a draw for that product".into());
    let id: ProductId = id.parse().map_err(|_| not_found())?;
    state.inventory.draw(id).ok_or_else(not_found)?;
    Ok(id)
}

/// The product page's draw panel for this shopper, if the product is a draw.
pub async fn panel(
    state: &AppState,
    shopper: &Shopper,
    product_id: ProductId,
) -> Result<Option<Markup>, PageError> {
    let Some(draw) = state.inventory.draw(product_id) else {
        return Ok(None);
    };
    let mine = state.inventory.my_entry(product_id, shopper).await?;
    let csrf = state.tokens.csrf_for(&shopper.cart_id);
    let card_fields = state.inventory.takes_card_fields();
    Ok(state.inventory.read(|c| {
        let product = c.product(product_id)?;
        let size = mine
            .as_ref()
            .and_then(|m| product.item(m.item_id))
            .map(|i| i.size.as_str());
        let panel = DrawPanel {
            window: draw.window,
            drawn: draw.secret.is_some(),
            signed_in: shopper.account.is_some(),
            mine: mine.as_ref().map(|m| Mine {
                standing: m.standing,
                size,
                hash: Some(&m.hash),
                card_last4: m.card_last4.as_deref(),
                order_id: m.order_id,
            }),
            csrf: Some(&csrf),
            card_fields,
            email: "",
        };
        Some(draw_panel(product, &panel, Utc::now()))
    }))
}

/// `/account`'s list of the shopper's entries and results.
pub async fn account_entries(state: &AppState, shopper: &Shopper) -> Result<Markup, PageError> {
    let entries = state.inventory.my_entries(shopper).await?;
    let rows: Vec<AccountEntry<'_>> = entries
        .iter()
        .map(|(mine, product_id, product, size)| AccountEntry {
            product_id: *product_id,
            product,
            size,
            standing: mine.standing,
            hash: &mine.hash,
        })
        .collect();
    Ok(account_entries_view(&rows))
}

/// A refusal as the shopper sees it: the status, a title and what to fix.
fn refusal(
    state: &AppState,
    shopper: &Shopper,
    product_id: ProductId,
    status: StatusCode,
    title: &str,
    reasons: Vec<String>,
) -> Result<Response, PageError> {
    let meta = PageMeta::new(&state.tokens, shopper);
    let page = state
        .inventory
        .read(|c| {
            c.product(product_id)
                .map(|p| refused(&meta, p, title, &reasons))
        })
        .ok_or_else(|| PageError::NotFound("that product".into()))?;
    Ok((status, page).into_response())
}

/// Over an entry budget: the product page saying which and when to try again, 429 with
/// `Retry-After`. Nothing was entered, withdrawn or sent to the payment provider.
fn too_many(
    state: &AppState,
    shopper: &Shopper,
    product_id: ProductId,
    over: &Limited,
) -> Result<Response, PageError> {
    let wait = over.retry_after_secs();
    let whose = match over.per {
        Per::Address => "from your network (your address)",
        _ => "for your account",
    };
    let message = format!(
        "Too many draw entries {whose} in a short time: wait {wait} s and try again. An entry you already made stands; nothing was entered or withdrawn now."
    );
    let mut response = refusal(
        state,
        shopper,
        product_id,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many entries",
        vec![message],
    )?;
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    Ok(response)
}

/// What a draw refusal answers: guests and unverified accounts are sent to fix that; the
/// rest is a page saying why, with a status that fits.
fn answer_error(
    state: &AppState,
    shopper: &Shopper,
    product_id: ProductId,
    error: DrawError,
) -> Result<Response, PageError> {
    let message = error.to_string();
    let (status, title) = match error {
        DrawError::SignInRequired => {
            return Ok(see_other(format!(
                "/account/login?next=/products/{product_id}"
            )));
        }
        DrawError::VerificationRequired => return Ok(see_other("/account?verify=needed")),
        DrawError::NoDraw => return Err(PageError::NotFound("a draw for that product".into())),
        DrawError::NotOpenYet(_) | DrawError::Closed => {
            (StatusCode::CONFLICT, "Entries are not open")
        }
        DrawError::AlreadyEntered => (StatusCode::CONFLICT, "You have entered already"),
        DrawError::NoSuchSize => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose a size of this pair",
        ),
        DrawError::NoEntry => (StatusCode::CONFLICT, "No entry to withdraw"),
        DrawError::Declined(_) | DrawError::NotAuthorised => {
            (StatusCode::PAYMENT_REQUIRED, "Your card was not authorised")
        }
        DrawError::Provider(error) => {
            tracing::warn!(error = %crate::error_chain::ErrorChain(&error), "draw entry: the provider failed");
            (
                StatusCode::BAD_GATEWAY,
                "The payment provider did not answer",
            )
        }
        DrawError::Inventory(error) => return Err(error.into()),
    };
    refusal(state, shopper, product_id, status, title, vec![message])
}

async fn enter(
    State(state): State<AppState>,
    shopper: Shopper,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<EntryFields>,
) -> Result<Response, PageError> {
    check_csrf(&state, &shopper, &headers, form.payment.csrf_token())?;
    let product_id = drawn_product(&state, &id)?;
    let limited = Some(shopper.cart_id.as_str());
    if let Err(over) = state.limits.spend(LimitedAction::Entry, client, limited) {
        return too_many(&state, &shopper, product_id, &over);
    }
    // An entry is also a card submission: the same budgets, per session and per address.
    state
        .limits
        .check(LimitedAction::Payment, client, limited, Audience::Page)?;
    let mut problems = Vec::new();
    let item_id = form.item_id.parse::<ItemId>().ok();
    if item_id.is_none() {
        problems.push("Choose your size.".to_string());
    }
    let shipping = parse_shipping(&form.payment.shipping());
    let shipping = match shipping {
        Ok(shipping) => Some(shipping),
        Err(errors) => {
            problems.extend(errors.iter().map(|e| e.message.to_string()));
            None
        }
    };
    let card = state.inventory.entry_card(form.payment.card()).await;
    let card = match card {
        Ok(card) => Some(card),
        Err(errors) => {
            problems.extend(errors);
            None
        }
    };
    let (Some(item_id), Some((email, address)), Some(card), true) =
        (item_id, shipping, card, problems.is_empty())
    else {
        return refusal(
            &state,
            &shopper,
            product_id,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Please fix your entry",
            problems,
        );
    };
    let entry = EntryForm {
        item_id,
        email,
        address,
        card,
    };
    match state
        .inventory
        .enter_draw(&shopper, product_id, &entry)
        .await
    {
        Ok(_) => Ok(see_other(format!("/products/{product_id}"))),
        Err(error) => answer_error(&state, &shopper, product_id, error),
    }
}

async fn withdraw(
    State(state): State<AppState>,
    shopper: Shopper,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<WithdrawFields>,
) -> Result<Response, PageError> {
    check_csrf(&state, &shopper, &headers, &form.csrf_token)?;
    let product_id = drawn_product(&state, &id)?;
    if let Err(over) =
        state
            .limits
            .spend(LimitedAction::Entry, client, Some(shopper.cart_id.as_str()))
    {
        return too_many(&state, &shopper, product_id, &over);
    }
    match state.inventory.withdraw_entry(&shopper, product_id).await {
        Ok(()) => Ok(see_other(format!("/products/{product_id}"))),
        Err(error) => answer_error(&state, &shopper, product_id, error),
    }
}

/// The published draw. Before the draw is made: the window and no secret; after: the secret
/// and every entry that took part as its hash, in draw order.
async fn published(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let product_id = drawn_product(&state, &id)?;
    let draw = state
        .inventory
        .published_draw(product_id)
        .await?
        .ok_or_else(|| PageError::NotFound("a draw for that product".into()))?;
    let entries: Vec<String> = match &draw.secret {
        Some(_) => state
            .inventory
            .draw_order(product_id)
            .await?
            .into_iter()
            .map(|e| e.hash)
            .collect(),
        None => Vec::new(),
    };
    let rfc3339 = |at: chrono::DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Ok(Json(json!({
        "product_id": product_id,
        "opens": rfc3339(draw.window.opens),
        "closes": rfc3339(draw.window.closes),
        "drawn": draw.secret.is_some(),
        "secret": draw.secret,
        "entries": entries,
        "order": "ascending hex HMAC-SHA256, keyed by the secret's text, of \"sneakers line draw: <product_id>|<entry hash>\"",
    }))
    .into_response())
}
