//! Server-side sessions as a shopper and a thief see them: a cookie is a new random secret at
//! each sign-in, the database keeps only its hash, a logout ends it for good (here and on the
//! other nodes, sockets included), "sign out everywhere" and a password change end the others.

use serde_json::json;
use sneakers::domain::session::SessionSecret;
use sneakers::store::Db;

use crate::accounts::{PASSWORD, head, login, signup, submit};
use crate::helpers::{Backend, TestApp};
use crate::nodes::{Bus, two_nodes};
use crate::on_both_backends;
use crate::visitor::Visitor;
use crate::ws::Client;

on_both_backends!(
    logout_ends_the_session_for_good,
    sign_out_everywhere_and_a_password_change_end_the_other_sessions,
    a_socket_opened_under_a_session_closes_at_logout
);

const COOKIE: &str = "_sneakers_session";

/// The session secret inside a signed-in cookie (its signature comes first, `s.` then the
/// secret last).
fn secret_of(cookie: &str) -> SessionSecret {
    let tail = &cookie[cookie.len().saturating_sub(43)..];
    SessionSecret::parse(tail).unwrap_or_else(|| panic!("no session secret in {cookie:?}"))
}

/// The `token_hash` of every session row.
async fn stored_hashes(db: &Db) -> Vec<String> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sneakers::store::schema::sessions;
    let mut conn = db.get().await.unwrap_or_else(|e| panic!("{e}"));
    sneakers::with_conn!(conn, |c| {
        sessions::table
            .select(sessions::token_hash)
            .load(c)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    })
}

/// A browser that only has a copy of `cookie` (someone who took it).
fn thief_with(base: &str, cookie: &str) -> Visitor {
    let thief = Visitor::blank(base, std::net::IpAddr::from([127, 0, 0, 1]));
    thief.set_cookie(COOKIE, cookie);
    thief
}

async fn signed_in_as(visitor: &Visitor, email: &str) -> bool {
    let response = visitor
        .http
        .get(format!("{}/account", visitor.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    response.status() == 200 && response.text().await.unwrap_or_default().contains(email)
}

async fn logout_ends_the_session_for_good(backend: Backend) {
    let app = TestApp::start(backend).await;
    let mut ada = app.visitor().await;
    signup(&app.db, &mut ada, "ada@example.com").await;
    let first = ada
        .cookie(COOKIE)
        .unwrap_or_else(|| panic!("no session cookie"));

    // The database has the secret's hash, never the secret.
    let secret = secret_of(&first);
    let hashes = stored_hashes(&app.db).await;
    assert!(hashes.contains(&secret.hash()), "{hashes:?}");
    assert!(!hashes.iter().any(|h| h.contains(secret.as_str())));

    let thief = thief_with(&app.url, &first);
    assert!(
        signed_in_as(&thief, "ada@example.com").await,
        "a copied cookie works meanwhile"
    );

    let (status, location, _) = submit(&ada, "/account/logout", &[]).await;
    assert_eq!((status, location.as_str()), (303, "/"));
    assert_eq!(
        head(&thief, "/account").await,
        (303, "/account/login?next=/account".to_string()),
        "the cookie from before the logout signs nobody in"
    );
    ada.visit("/").await;
    assert!(!signed_in_as(&ada, "ada@example.com").await);

    // Each sign-in is a new session with a new secret.
    login(&mut ada, "ada@example.com", "/").await;
    let second = ada
        .cookie(COOKIE)
        .unwrap_or_else(|| panic!("no session cookie"));
    assert_ne!(secret_of(&second), secret);
    assert!(signed_in_as(&ada, "ada@example.com").await);
    assert!(!signed_in_as(&thief, "ada@example.com").await);
}

async fn sign_out_everywhere_and_a_password_change_end_the_other_sessions(backend: Backend) {
    let app = TestApp::start(backend).await;
    let email = "two@example.com";
    let mut laptop = app.visitor().await;
    signup(&app.db, &mut laptop, email).await;
    let mut phone = app.visitor().await;
    login(&mut phone, email, "/").await;
    assert!(signed_in_as(&laptop, email).await && signed_in_as(&phone, email).await);

    let (status, _, _) = submit(&phone, "/account/logout/everywhere", &[]).await;
    assert_eq!(status, 303);
    assert!(
        !signed_in_as(&laptop, email).await,
        "the laptop is signed out too"
    );
    assert!(!signed_in_as(&phone, email).await);

    // Both are guests now, with new forms to sign in with.
    laptop.visit("/").await;
    phone.visit("/").await;
    login(&mut laptop, email, "/").await;
    login(&mut phone, email, "/").await;
    laptop.visit("/account").await;
    let new = "a brand new password";
    let (status, _, body) = submit(
        &laptop,
        "/account/password",
        &[
            ("current_password", "not my password"),
            ("new_password", new),
        ],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("not your current password"), "{body}");
    assert!(
        signed_in_as(&phone, email).await,
        "a refused change ends nothing"
    );

    let (status, location, _) = submit(
        &laptop,
        "/account/password",
        &[("current_password", PASSWORD), ("new_password", new)],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/account?password=changed")
    );
    assert!(
        !signed_in_as(&phone, email).await,
        "the other browser is signed out"
    );
    let page = laptop.visit("/account?password=changed").await;
    assert!(
        page.contains("every other browser was signed out"),
        "{page}"
    );

    // The old password is gone, the new one works.
    let stranger = app.visitor().await;
    let (status, _, _) = submit(
        &stranger,
        "/account/login",
        &[("email", email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = submit(
        &stranger,
        "/account/login",
        &[("email", email), ("password", new)],
    )
    .await;
    assert_eq!(status, 303);
}

async fn a_socket_opened_under_a_session_closes_at_logout(backend: Backend) {
    let app = TestApp::start(backend).await;
    let mut ada = app.visitor().await;
    signup(&app.db, &mut ada, "socket@example.com").await;
    let (token, cart_id) = crate::ws::socket_token(&ada.http, &app.url).await;
    let mut socket = Client::connect(&app.socket_url(&token))
        .await
        .unwrap_or_else(|status| panic!("refused: {status}"));
    let topic = format!("cart:{cart_id}");
    socket.join_ok(&topic, json!({})).await;
    socket.expect(&topic, "cart").await;

    let (status, _, _) = submit(&ada, "/account/logout", &[]).await;
    assert_eq!(status, 303);
    let (code, _) = socket.until_closed().await;
    assert_eq!(code, Some(1008), "the signed-in socket is closed");
    assert_eq!(
        Client::connect(&app.socket_url(&token)).await.err(),
        Some(403),
        "its token opens nothing any more"
    );
    let (_, guest_cart) = crate::ws::socket_token(&ada.http, &app.url).await;
    assert_ne!(
        guest_cart, cart_id,
        "the browser is a guest with a cart of its own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_is_over() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.session_idle = std::time::Duration::from_millis(1500);
    })
    .await;
    let mut ada = app.visitor().await;
    signup(&app.db, &mut ada, "idle@example.com").await;
    // Used within the idle time, the session holds (each use counts).
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        assert!(signed_in_as(&ada, "idle@example.com").await);
    }
    // Expiry is a matter of time passing: nothing to await but the clock.
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    assert!(!signed_in_as(&ada, "idle@example.com").await);
}

/// However busy, a session is over `SESSION_MAX_AGE_MS` after its sign-in: the cookie the
/// browser keeps sending opens nothing any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_over_at_its_max_age_however_busy() {
    use std::time::{Duration, Instant};
    const MAX_AGE: Duration = Duration::from_secs(4);
    let app = TestApp::start_with(Backend::Sqlite, |c| c.session_max_age = MAX_AGE).await;
    let mut ada = app.visitor().await;
    signup(&app.db, &mut ada, "busy@example.com").await;
    // The session was made before this instant: its age is at least what has passed since.
    let signed_in = Instant::now();
    while signed_in.elapsed() < MAX_AGE / 2 {
        assert!(signed_in_as(&ada, "busy@example.com").await);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Still used every 300 ms (never idle): the age alone ends it. Nothing to await but the
    // clock.
    while signed_in.elapsed() < MAX_AGE + Duration::from_millis(200) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = signed_in_as(&ada, "busy@example.com").await;
    }
    assert!(!signed_in_as(&ada, "busy@example.com").await);
}

/// A logout on one node signs the session out on the other at once: its cached copy goes and
/// the socket opened there closes.
async fn logout_on_one_node_signs_out_on_the_other(bus: Bus) {
    let (cluster, a, b) = two_nodes(bus).await;
    let mut on_a = Visitor::open(&a.url).await;
    signup(&cluster.db, &mut on_a, "nodes@example.com").await;
    let cookie = on_a
        .cookie(COOKIE)
        .unwrap_or_else(|| panic!("no session cookie"));
    let on_b = thief_with(&b.url, &cookie);
    // Node b reads the session (and keeps it in its cache).
    assert!(signed_in_as(&on_b, "nodes@example.com").await);
    let (token, cart_id) = crate::ws::socket_token(&on_b.http, &b.url).await;
    let url = format!(
        "{}/socket/websocket?vsn=2.0.0&token={token}",
        b.url.replacen("http", "ws", 1)
    );
    let mut socket = Client::connect(&url)
        .await
        .unwrap_or_else(|status| panic!("refused: {status}"));
    let topic = format!("cart:{cart_id}");
    socket.join_ok(&topic, json!({})).await;

    let (status, _, _) = submit(&on_a, "/account/logout", &[]).await;
    assert_eq!(status, 303);
    let (code, _) = socket.until_closed().await;
    assert_eq!(code, Some(1008), "node b closed the session's socket");
    assert!(
        !signed_in_as(&on_b, "nodes@example.com").await,
        "node b forgot the session before closing its socket"
    );
}

crate::on_both_buses!(logout_on_one_node_signs_out_on_the_other);
