//! Shopper accounts over HTTP: signup (through a mailed link), login, logout (here or
//! everywhere), a password change and the account page. Signing in starts a server-side
//! session (a new one each time: see `inventory::sessions`), issues a device cookie (so the
//! login limiter knows this browser: `web::edge::device_cookie`), merges the guest's cart into
//! the account's and switches the browser to the account's cart topic, which every browser
//! signed in to the account shares.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::cart::{CART_COOKIE, current_copy, save};
use crate::config::LimitedAction;
use crate::domain::Shopper;
use crate::domain::account::Email;
use crate::domain::session::{SessionSecret, Subject};
use crate::html::pages::account::{self as view, FormState};
use crate::html::pages::layout::PageMeta;
use crate::inventory::accounts::{AccountError, AccountRow, Confirmed};
use crate::web::edge::client::ClientAddr;
use crate::web::edge::csrf::check_csrf;
use crate::web::edge::device_cookie::{self, device_for};
use crate::web::edge::error::{Audience, PageError};
use crate::web::edge::extract::{Form, Query};
use crate::web::edge::session::{guest_cookie, is_secure, new_cart_id, signed_in_cookie};
use crate::web::{AppState, see_other};

/// Account routes; the caller adds the session layer.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(show))
        .route("/account/signup", get(signup_form).post(signup))
        .route("/account/signup/sent", get(signup_sent))
        .route("/account/verify", get(verify_page).post(verify))
        .route("/account/verify/send", post(send_verification))
        .route("/account/login", get(login_form).post(login))
        .route("/account/logout", post(logout))
        .route("/account/logout/everywhere", post(logout_everywhere))
        .route("/account/password", post(change_password))
}

#[derive(Deserialize, Default)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default, rename = "_csrf_token")]
    csrf_token: String,
}

#[derive(Deserialize, Default)]
pub struct AccountQuery {
    /// `changed`: the password was changed.
    password: Option<String>,
    /// `done`: the email was just verified; `sent`: a link was mailed.
    verify: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize, Default)]
pub struct TokenForm {
    #[serde(default)]
    token: String,
    #[serde(default, rename = "_csrf_token")]
    csrf_token: String,
}

#[derive(Deserialize, Default)]
pub struct CsrfForm {
    #[serde(default, rename = "_csrf_token")]
    csrf_token: String,
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
    shopper: &Shopper,
    which: view::Form,
    form: FormState,
    status: StatusCode,
) -> Response {
    let meta = PageMeta::new(&state.tokens, shopper);
    (status, view::form(&meta, which, &form)).into_response()
}

async fn signup_form(State(state): State<AppState>, shopper: Shopper) -> Response {
    let form = FormState {
        email: "",
        error: None,
        next: None,
    };
    form_page(&state, &shopper, view::Form::Signup, form, StatusCode::OK)
}

async fn login_form(
    State(state): State<AppState>,
    shopper: Shopper,
    Query(query): Query<NextQuery>,
) -> Response {
    let form = FormState {
        email: "",
        error: None,
        next: query.next.as_deref().and_then(same_site),
    };
    form_page(&state, &shopper, view::Form::Login, form, StatusCode::OK)
}

/// A signup answers the same page whether the address is new (a link is mailed) or has an
/// account (its owner is told by mail): only the form's own mistakes are said here.
async fn signup(
    State(state): State<AppState>,
    shopper: Shopper,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<AccountForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &shopper, &headers, &form.csrf_token)?;
    // Per mailbox (its canonical form, so tags share one budget) and per address.
    let mailbox = Email::parse(&form.email).map(|e| e.key()).ok();
    state.limits.check(
        LimitedAction::Signup,
        client,
        mailbox.as_deref(),
        Audience::Page,
    )?;
    match state.inventory.signup(&form.email, &form.password).await {
        Ok(()) => Ok(see_other("/account/signup/sent")),
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
                &shopper,
                view::Form::Signup,
                form,
                status,
            ))
        }
        Err(other) => Err(other.into()),
    }
}

async fn signup_sent(State(state): State<AppState>, shopper: Shopper) -> Response {
    let meta = PageMeta::new(&state.tokens, &shopper);
    view::signup_sent(&meta).into_response()
}

fn link_refused(
    state: &AppState,
    shopper: &Shopper,
    status: StatusCode,
    message: &str,
) -> Response {
    let meta = PageMeta::new(&state.tokens, shopper);
    (status, view::link_refused(&meta, message)).into_response()
}

const LINK_INVALID: &str =
    "This link has expired or was already used. Sign in, or sign up again for a new link.";

/// The mailed link's page: a button to confirm (nothing changes on a GET).
async fn verify_page(
    State(state): State<AppState>,
    shopper: Shopper,
    Query(query): Query<TokenQuery>,
) -> Response {
    if SessionSecret::parse(&query.token).is_none() {
        return link_refused(&state, &shopper, StatusCode::BAD_REQUEST, LINK_INVALID);
    }
    let meta = PageMeta::new(&state.tokens, &shopper);
    view::confirm(&meta, &query.token).into_response()
}

/// Confirms a mailed link: the account is made (or verified) and this browser signed in to it.
async fn verify(
    State(state): State<AppState>,
    shopper: Shopper,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &shopper, &headers, &form.csrf_token)?;
    match state
        .inventory
        .confirm_email(&form.token, &new_cart_id())
        .await?
    {
        Confirmed::Verified(account) => {
            sign_in(&state, &shopper, &headers, account, "/account?verify=done").await
        }
        Confirmed::Invalid => Ok(link_refused(
            &state,
            &shopper,
            StatusCode::BAD_REQUEST,
            LINK_INVALID,
        )),
        Confirmed::Taken => Ok(link_refused(
            &state,
            &shopper,
            StatusCode::CONFLICT,
            "This address already has an account. Sign in with it.",
        )),
    }
}

/// A signed-in account that is not verified yet asks for a link.
async fn send_verification(
    State(state): State<AppState>,
    shopper: Shopper,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &shopper, &headers, &form.csrf_token)?;
    let Some(id) = shopper.account else {
        return Ok(see_other("/account/login?next=/account"));
    };
    let Some(account) = state.inventory.account(id).await? else {
        return Ok(see_other("/account/login?next=/account"));
    };
    if account.verified {
        return Ok(see_other("/account"));
    }
    let mailbox = Email::parse(&account.email).map(|e| e.key()).ok();
    state.limits.check(
        LimitedAction::Signup,
        client,
        mailbox.as_deref(),
        Audience::Page,
    )?;
    state.inventory.request_verification(&account).await?;
    Ok(see_other("/account?verify=sent"))
}

async fn login(
    State(state): State<AppState>,
    shopper: Shopper,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<AccountForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &shopper, &headers, &form.csrf_token)?;
    // The mailbox an account is found by, so `+tags` and case share one budget.
    let mailbox = Email::parse(&form.email)
        .map(|email| email.key())
        .unwrap_or_else(|_| form.email.trim().to_lowercase());
    let device = device_for(&headers, &state.tokens, &mailbox);
    state.limits.check_login(
        client,
        &mailbox,
        device.as_ref().map(|d| d.nonce.as_str()),
        Audience::Page,
    )?;
    let next = same_site(&form.next).unwrap_or("/account");
    match state.inventory.login(&form.email, &form.password).await {
        Ok(account) => sign_in(&state, &shopper, &headers, account, next).await,
        Err(AccountError::BadCredentials | AccountError::Signup(_)) => {
            let message = AccountError::BadCredentials.to_string();
            let form = FormState {
                email: form.email.trim(),
                error: Some(&message),
                next: same_site(&form.next),
            };
            let status = StatusCode::UNAUTHORIZED;
            Ok(form_page(&state, &shopper, view::Form::Login, form, status))
        }
        Err(other) => Err(other.into()),
    }
}

/// A new session for the account (an older one of this browser ends here); the guest's pairs
/// join the account's cart, which every open tab of the account (in any browser, on any node)
/// takes at once.
async fn sign_in(
    state: &AppState,
    guest: &Shopper,
    headers: &HeaderMap,
    account: AccountRow,
    next: &str,
) -> Result<Response, PageError> {
    // The pairs the guest holds join the account's.
    state
        .inventory
        .move_holds(&guest.cart_id, &account.cart_id, account.id)
        .await?;
    if let Some(previous) = guest.session {
        state.inventory.end_session(previous).await?;
    }
    let (secret, session) = state
        .inventory
        .start_session(Subject::account(account.id), &account.cart_id)
        .await?;
    let signed_in = Shopper::signed_in(account.cart_id, account.id, session.id);
    let cart = current_copy(state, &signed_in).await?;
    let cart_cookie = save(state, &signed_in, &cart).await?;
    state
        .inventory
        .move_places(&guest.cart_id, &signed_in.cart_id)
        .await?;
    let mut response = see_other(next);
    let max_age = i64::try_from(state.config.session_max_age.as_millis()).unwrap_or(i64::MAX);
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        signed_in_cookie(&state.cookie_key, &secret, is_secure(headers), max_age),
    );
    cookies.append(header::SET_COOKIE, cart_cookie);
    // A new device cookie at every sign-in: this browser's logins to the account are judged
    // by its own budget from now on, whoever guesses at the account elsewhere.
    if let Ok(email) = Email::parse(&account.email) {
        cookies.append(
            header::SET_COOKIE,
            device_cookie::issue(&state.tokens, &email.key()),
        );
    }
    tracing::info!(account = %account.id, session = %session.id, "signed in");
    Ok(response)
}

/// The browser becomes a fresh guest with an empty cart (the account's cart stays with the
/// account).
fn as_guest(state: &AppState, headers: &HeaderMap, location: &str) -> Response {
    let mut response = see_other(location);
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        guest_cookie(&state.cookie_key, &new_cart_id(), is_secure(headers)),
    );
    cookies.append(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!("{CART_COOKIE}=; Path=/; Max-Age=0; SameSite=Lax"))
            .expect("a fixed cookie is a valid header value"),
    );
    response
}

/// Ends this browser's session: its cookie signs nobody in any more, here or on another node,
/// and its open pages' sockets close.
async fn logout(
    State(state): State<AppState>,
    shopper: Shopper,
    headers: HeaderMap,
    Form(form): Form<AccountForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &shopper, &headers, &form.csrf_token)?;
    if let Some(session) = shopper.session {
        state.inventory.end_session(session).await?;
    }
    Ok(as_guest(&state, &headers, "/"))
}

/// Ends every session of the account, this browser's included.
async fn logout_everywhere(
    State(state): State<AppState>,
    shopper: Shopper,
    headers: HeaderMap,
    Form(form): Form<AccountForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &shopper, &headers, &form.csrf_token)?;
    if let Some(account) = shopper.account {
        state
            .inventory
            .end_sessions_of(Subject::account(account), None)
            .await?;
    }
    Ok(as_guest(&state, &headers, "/"))
}

/// A new password (the current one must be given); every other session of the account ends.
async fn change_password(
    State(state): State<AppState>,
    shopper: Shopper,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let Some(id) = shopper.account else {
        return Ok(see_other("/account/login?next=/account"));
    };
    // A forged post spends no budget.
    check_csrf(&state, &shopper, &headers, &form.csrf_token)?;
    let account_key = format!("account:{id}");
    state.limits.check(
        LimitedAction::Login,
        client,
        Some(&account_key),
        Audience::Page,
    )?;
    match state
        .inventory
        .change_password(id, &form.current_password, &form.new_password)
        .await
    {
        Ok(()) => {
            state
                .inventory
                .end_sessions_of(Subject::account(id), shopper.session)
                .await?;
            Ok(see_other("/account?password=changed"))
        }
        Err(AccountError::BadCredentials) => {
            let message = "That is not your current password.";
            account_page(&state, &shopper, None, Some(message)).await
        }
        Err(AccountError::Signup(refused)) => {
            let message = refused.to_string();
            account_page(&state, &shopper, None, Some(&message)).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn account_page(
    state: &AppState,
    shopper: &Shopper,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let Some(id) = shopper.account else {
        return Ok(see_other("/account/login?next=/account"));
    };
    let Some(account) = state.inventory.account(id).await? else {
        // The account is gone (deleted by an operator): this browser is a guest's again.
        return Ok(see_other("/account/login?next=/account"));
    };
    let orders = state.inventory.account_orders(id).await?;
    let meta = PageMeta::new(&state.tokens, shopper);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let notices = view::Notices { notice, error };
    let entries = super::draws::account_entries(state, shopper).await?;
    let page = view::show(
        &meta,
        &account.email,
        account.verified,
        &orders,
        &notices,
        entries,
    );
    Ok((status, page).into_response())
}

async fn show(
    State(state): State<AppState>,
    shopper: Shopper,
    Query(query): Query<AccountQuery>,
) -> Result<Response, PageError> {
    let notice = match (query.password.as_deref(), query.verify.as_deref()) {
        (Some("changed"), _) => {
            Some("Your password was changed; every other browser was signed out.")
        }
        (_, Some("done")) => Some("Your email is verified. Welcome!"),
        (_, Some("sent")) => Some("We have mailed you a link: open it to verify your email."),
        (_, Some("needed")) => Some(
            "Limited pairs and waiting lines need a verified email: mail yourself a link below.",
        ),
        _ => None,
    };
    account_page(&state, &shopper, notice, None).await
}
