//! The cart without JavaScript: size buttons and remove buttons are plain forms. Adding a pair
//! holds it for the shopper, removing it gives it back at once: the cart is what the database
//! says the shopper holds. A signed copy lives in a cookie that the shim also writes; it tells
//! a page whether there is anything to look up.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use serde::Deserialize;

use crate::config::LimitedAction;
use crate::domain::cart::MAX_ITEMS;
use crate::domain::cart_line::EndedHold;
use crate::domain::hold::Hold;
use crate::domain::token::CART_TOKEN_MAX_AGE_MS;
use crate::domain::{Cart, CartError, ItemId, Shopper};
use crate::html::fragments::cart::{cart_of, copy_of};
use crate::inventory::holds::HoldError;
use crate::web::AppState;
use crate::web::edge::client::ClientAddr;
use crate::web::edge::csrf::check_csrf;
use crate::web::edge::error::{Audience, PageError};
use crate::web::edge::extract::{Form, Path};
use crate::web::edge::session::cookies;

/// Not HttpOnly: the shim writes it with the `serialized` token the cart channel returns.
pub const CART_COOKIE: &str = "sneakers_cart";

/// Cart routes; the caller adds the session layer.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cart/items", post(add))
        .route("/cart/items/{item_id}/delete", post(remove))
}

/// The shopper's cart, without unknown items: a guest's is the cookie (empty if missing or
/// tampered); a signed-in shopper's is the account's, which every browser of it shares.
pub async fn read_cart(
    state: &AppState,
    shopper: &Shopper,
    headers: &HeaderMap,
) -> Result<Cart, PageError> {
    let token = match shopper.account {
        Some(id) => state
            .inventory
            .account(id)
            .await?
            .and_then(|account| account.cart_token),
        None => cookie_value(headers, CART_COOKIE),
    };
    // Bound to the cart id: another session's or account's token is no cart here.
    let mut cart = Cart::deserialize(
        token.as_deref(),
        &state.tokens.cart,
        &shopper.cart_id,
        Utc::now().timestamp_millis(),
    );
    cart.retain_existing(|id| state.inventory.read(|c| c.item(id).is_some()));
    Ok(cart)
}

/// What the shopper's cart shows now: the pairs held (oldest first) and the holds that ended
/// unpaid in it. The cart's signed copy says whether to ask the database at all: an empty one
/// (most visitors) costs no query.
pub async fn read_lines(
    state: &AppState,
    shopper: &Shopper,
    headers: &HeaderMap,
) -> Result<(Vec<Hold>, Vec<EndedHold>), PageError> {
    if read_cart(state, shopper, headers).await?.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    Ok(state.inventory.cart_of(&shopper.cart_id).await?)
}

/// The signed copy of what the shopper's cart shows now, as the database says.
pub async fn current_copy(state: &AppState, shopper: &Shopper) -> Result<Cart, PageError> {
    let (holds, ended) = state.inventory.cart_of(&shopper.cart_id).await?;
    Ok(copy_of(&holds, &ended))
}

/// What the shopper holds now, as the database says (a hold past its end that the sweep has
/// not reached yet is over).
pub async fn current_holds(state: &AppState, shopper: &Shopper) -> Result<Vec<Hold>, PageError> {
    let now = Utc::now().timestamp_millis();
    let mut holds = state.inventory.holds_of(&shopper.cart_id).await?;
    holds.retain(|h| !h.is_expired(now));
    holds.retain(|h| state.inventory.read(|c| c.item(h.item_id).is_some()));
    Ok(holds)
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    cookies(headers, name).next().map(str::to_string)
}

/// `Set-Cookie` for a cart.
pub fn cart_cookie(token: &str) -> HeaderValue {
    let max_age = CART_TOKEN_MAX_AGE_MS / 1000;
    HeaderValue::from_str(&format!(
        "{CART_COOKIE}={token}; Path=/; Max-Age={max_age}; SameSite=Lax"
    ))
    .expect("a cart token is URL-safe base64 and a dot: a valid header value")
}

#[derive(Deserialize, Default)]
pub struct CartForm {
    #[serde(default)]
    item_id: String,
    #[serde(default, rename = "_csrf_token")]
    csrf_token: String,
}

impl CartForm {
    pub fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Back to the page the form was on (same site only), with an optional flash code.
fn back(headers: &HeaderMap, flash: Option<&str>) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let path = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://"))
        .and_then(|(_, rest)| rest.strip_prefix(host))
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .map(|p| p.split(['?', '#']).next().unwrap_or("/"))
        .unwrap_or("/");
    match flash {
        Some(code) => format!("{path}?cart_error={code}"),
        None => path.to_string(),
    }
}

fn redirect_with_cart(location: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_string())],
    )
        .into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Saves a changed cart: the account's copy when signed in, the cookie for this browser, a
/// broadcast for its live tabs (every browser's, for an account).
pub async fn save(
    state: &AppState,
    shopper: &Shopper,
    cart: &Cart,
) -> Result<HeaderValue, PageError> {
    let now = Utc::now().timestamp_millis();
    let token = cart.serialize(&state.tokens.cart, &shopper.cart_id, now);
    if let Some(id) = shopper.account {
        state.inventory.save_account_cart(id, &token, now).await?;
    }
    let cookie = cart_cookie(&token);
    // Origin 0: no channel made this change, so every tab takes it.
    state.inventory.cart_changed(&shopper.cart_id, token, 0);
    Ok(cookie)
}

enum Change {
    Add,
    Remove,
}

/// Who asked for a change, and with what.
struct Request<'a> {
    shopper: &'a Shopper,
    client: std::net::IpAddr,
    headers: &'a HeaderMap,
    form: &'a CartForm,
}

async fn change(
    state: &AppState,
    request: Request<'_>,
    item: Option<&str>,
    change: Change,
) -> Result<Response, PageError> {
    let Request {
        shopper,
        client,
        headers,
        form,
    } = request;
    check_csrf(state, shopper, headers, &form.csrf_token)?;
    let limited = Some(shopper.cart_id.as_str());
    state
        .limits
        .check(LimitedAction::Cart, client, limited, Audience::Page)?;
    let refused = |error: CartError| redirect_with_cart(&back(headers, Some(error.code())), None);
    let Ok(item_id) = item.unwrap_or(&form.item_id).trim().parse::<ItemId>() else {
        return Ok(refused(CartError::InvalidItem));
    };
    match change {
        Change::Add => {
            if let Err(error) = may_hold(state, shopper, item_id).await? {
                return Ok(refused(error));
            }
            match state.inventory.hold(shopper, item_id).await {
                Ok(_) => {}
                Err(HoldError::Cart(error)) => return Ok(refused(error)),
                Err(HoldError::SignInRequired) => {
                    let next = back(headers, None);
                    return Ok(redirect_with_cart(
                        &format!("/account/login?next={next}"),
                        None,
                    ));
                }
                Err(HoldError::VerificationRequired) => {
                    return Ok(redirect_with_cart("/account?verify=needed", None));
                }
                Err(HoldError::Inventory(error)) => return Err(error.into()),
            }
        }
        Change::Remove => {
            // A held pair goes back; an ended hold's warning is dismissed.
            let holder = &shopper.cart_id;
            if !state.inventory.release_hold(holder, item_id).await?
                && !state.inventory.forget_ended(holder, item_id).await?
            {
                return Ok(refused(CartError::NotFound));
            }
        }
    }
    let cookie = save(state, shopper, &current_copy(state, shopper).await?).await?;
    Ok(redirect_with_cart(&back(headers, None), Some(cookie)))
}

/// What the cache can tell before the database is asked to hold `item_id`: the cart's room,
/// the line, the size, and the limit per customer counting what the account bought. The
/// database has the last word on stock and the limit.
async fn may_hold(
    state: &AppState,
    shopper: &Shopper,
    item_id: ItemId,
) -> Result<Result<(), CartError>, PageError> {
    let holds = current_holds(state, shopper).await?;
    if holds.iter().any(|h| h.item_id == item_id) {
        return Ok(Err(CartError::DuplicateItem));
    }
    if holds.len() >= MAX_ITEMS {
        return Ok(Err(CartError::Full));
    }
    let ordered = match shopper.account {
        Some(id) => state.inventory.ordered_limited(id).await?,
        None => Default::default(),
    };
    let mut probe = cart_of(&holds);
    Ok(state
        .inventory
        .admission(item_id, &shopper.cart_id)
        .and_then(|()| {
            state
                .inventory
                .read(|catalog| probe.add_from(catalog, item_id, &ordered))
        }))
}

/// `POST /cart/items` (`item_id`).
async fn add(
    State(state): State<AppState>,
    shopper: Shopper,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<CartForm>,
) -> Result<Response, PageError> {
    let request = Request {
        shopper: &shopper,
        client,
        headers: &headers,
        form: &form,
    };
    change(&state, request, None, Change::Add).await
}

/// `POST /cart/items/:item_id/delete`.
async fn remove(
    State(state): State<AppState>,
    shopper: Shopper,
    ClientAddr(client): ClientAddr,
    Path(item_id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CartForm>,
) -> Result<Response, PageError> {
    let request = Request {
        shopper: &shopper,
        client,
        headers: &headers,
        form: &form,
    };
    change(&state, request, Some(&item_id), Change::Remove).await
}
