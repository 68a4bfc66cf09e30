//! Shopper accounts over HTTP: signup, login, logout and the account page. Signing in merges
//! the guest's cart into the account's and switches the session to the account's cart topic,
//! which every browser signed in to the account shares.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;

use super::cart::{CART_COOKIE, read_cart, save};
use crate::config::LimitedAction;
use crate::domain::Cart;
use crate::html::pages::account::{self as view, FormState};
use crate::html::pages::layout::PageMeta;
use crate::inventory::accounts::AccountError;
use crate::inventory::accounts::AccountRow;
use crate::web::edge::client::ClientAddr;
use crate::web::edge::csrf::check_csrf;
use crate::web::edge::error::{Audience, PageError};
use crate::web::edge::extract::{Form, Query};
use crate::web::edge::session::{Session, is_secure, new_cart_id, session_cookie};
use crate::web::{AppState, see_other};

/// Account routes; the caller adds the session layer.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(show))
        .route("/account/signup", get(signup_form).post(signup))
        .route("/account/login", get(login_form).post(login))
        .route("/account/logout", post(logout))
}

#[derive(Deserialize, Default)]
pub struct AccountForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default, rename = "_csrf_token")]
    csrf_token: String,
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

/// Where a login may send the shopper: a path of this site, nothing else.
fn same_site(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 200
        && !next.chars().any(|c| c.is_control() || c == '\\');
    ok.then_some(next)
}

fn form_page(
    state: &AppState,
    session: &Session,
    which: view::Form,
    form: FormState,
    status: StatusCode,
) -> Response {
    let meta = PageMeta::new(&state.tokens, session);
    (status, view::form(&meta, which, &form)).into_response()
}

async fn signup_form(State(state): State<AppState>, session: Session) -> Response {
    let form = FormState {
        email: "",
        error: None,
        next: None,
    };
    form_page(&state, &session, view::Form::Signup, form, StatusCode::OK)
}

async fn login_form(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<NextQuery>,
) -> Response {
    let form = FormState {
        email: "",
        error: None,
        next: query.next.as_deref().and_then(same_site),
    };
    form_page(&state, &session, view::Form::Login, form, StatusCode::OK)
}

async fn signup(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<AccountForm>,
) -> Result<Response, PageError> {
    state
        .limits
        .check(LimitedAction::Login, client, None, Audience::Page)?;
    check_csrf(&state, &session, &headers, &form.csrf_token)?;
    match state
        .inventory
        .signup(&form.email, &form.password, &new_cart_id())
        .await
    {
        Ok(account) => sign_in(&state, &session, &headers, account, "/account").await,
        Err(AccountError::Signup(refused)) => {
            let message = refused.to_string();
            let form = FormState {
                email: form.email.trim(),
                error: Some(&message),
                next: None,
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(form_page(
                &state,
                &session,
                view::Form::Signup,
                form,
                status,
            ))
        }
        Err(other) => Err(other.into()),
    }
}

async fn login(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<AccountForm>,
) -> Result<Response, PageError> {
    let account_key = form.email.trim().to_lowercase();
    state.limits.check(
        LimitedAction::Login,
        client,
        Some(&account_key),
        Audience::Page,
    )?;
    check_csrf(&state, &session, &headers, &form.csrf_token)?;
    let next = same_site(&form.next).unwrap_or("/account");
    match state.inventory.login(&form.email, &form.password).await {
        Ok(account) => sign_in(&state, &session, &headers, account, next).await,
        Err(AccountError::BadCredentials | AccountError::Signup(_)) => {
            let message = AccountError::BadCredentials.to_string();
            let form = FormState {
                email: form.email.trim(),
                error: Some(&message),
                next: same_site(&form.next),
            };
            let status = StatusCode::UNAUTHORIZED;
            Ok(form_page(&state, &session, view::Form::Login, form, status))
        }
        Err(other) => Err(other.into()),
    }
}

/// The session becomes the account's; the guest's pairs join the account's cart, which every
/// open tab of the account (in any browser, on any node) takes at once.
async fn sign_in(
    state: &AppState,
    guest: &Session,
    headers: &HeaderMap,
    account: AccountRow,
    next: &str,
) -> Result<Response, PageError> {
    let guest_cart = read_cart(state, guest, headers).await?;
    let mut cart = Cart::deserialize(
        account.cart_token.as_deref(),
        &state.tokens.cart,
        Utc::now().timestamp_millis(),
    );
    cart.retain_existing(|id| state.inventory.read(|c| c.item(id).is_some()));
    cart.merge(&guest_cart);
    let signed_in = Session {
        cart_id: account.cart_id,
        account: Some(account.id),
    };
    let cart_cookie = save(state, &signed_in, &cart).await?;
    state
        .inventory
        .move_places(&guest.cart_id, &signed_in.cart_id)
        .await?;
    let mut response = see_other(next);
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        session_cookie(&state.cookie_key, &signed_in, is_secure(headers)),
    );
    cookies.append(header::SET_COOKIE, cart_cookie);
    tracing::info!(account = %account.id, "signed in");
    Ok(response)
}

/// A fresh guest session with an empty cart; the account's cart stays with the account.
async fn logout(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<AccountForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &session, &headers, &form.csrf_token)?;
    let guest = Session::guest(new_cart_id());
    let mut response = see_other("/");
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        session_cookie(&state.cookie_key, &guest, is_secure(&headers)),
    );
    cookies.append(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!("{CART_COOKIE}=; Path=/; Max-Age=0; SameSite=Lax"))
            .expect("a fixed cookie is a valid header value"),
    );
    Ok(response)
}

async fn show(State(state): State<AppState>, session: Session) -> Result<Response, PageError> {
    let Some(id) = session.account else {
        return Ok(see_other("/account/login?next=/account"));
    };
    let Some(account) = state.inventory.account(id).await? else {
        // The account is gone (deleted by an operator): this session is a guest's again.
        return Ok(see_other("/account/login?next=/account"));
    };
    let orders = state.inventory.account_orders(id).await?;
    let meta = PageMeta::new(&state.tokens, &session);
    Ok(view::show(&meta, &account.email, &orders).into_response())
}
