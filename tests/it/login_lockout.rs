//! Nobody can lock a shopper out by guessing: a stranger's wrong passwords for an email slow
//! every browser that never signed in to it (429 with the store's page), but the owner's
//! browser, which holds a device cookie from its last sign-in, logs in from any address, on any
//! node. A forged device cookie or another account's vouches for nothing.

use std::net::IpAddr;

use sneakers::config::{LimitedAction, Per, Rate};
use sneakers::web::edge::device_cookie::DEVICE_COOKIE;

use crate::accounts::{PASSWORD, signup, submit};
use crate::helpers::{Backend, TestApp};
use crate::nodes::{Bus, Cluster};
use crate::on_both_backends;
use crate::raw::assert_no_framework_text;
use crate::visitor::Visitor;

on_both_backends!(a_stranger_cannot_lock_the_owner_out);

const OWNER: &str = "owner@example.com";
const STRANGER_AT: [u8; 4] = [127, 0, 0, 2];
const OWNER_ELSEWHERE: [u8; 4] = [127, 0, 0, 3];
const FORGER_AT: [u8; 4] = [127, 0, 0, 4];

/// The defaults' ten guesses per email (and per device), but per hour, so a slow machine
/// cannot earn a guess back in the middle of a test.
fn ten_per_hour() -> Rate {
    "10/h".parse().unwrap_or_else(|e| panic!("{e}"))
}

/// The device cookie a visitor's browser would send to `/account/login`.
fn device_cookie(visitor: &Visitor) -> String {
    use reqwest::cookie::CookieStore;
    let url = format!("{}/account/login", visitor.base)
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let header = visitor
        .jar
        .cookies(&url)
        .unwrap_or_else(|| panic!("no cookies"));
    let header = header.to_str().unwrap_or_default().to_string();
    header
        .split("; ")
        .find_map(|pair| pair.strip_prefix(&format!("{DEVICE_COOKIE}=")))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no device cookie after signing in: {header}"))
}

/// A fresh browser at `from` that carries `device` (copied from another browser).
async fn carrying(base: &str, from: [u8; 4], device: &str) -> Visitor {
    let visitor = Visitor::open_from(base, IpAddr::from(from)).await;
    visitor.set_cookie(DEVICE_COOKIE, device);
    visitor
}

async fn log_in(visitor: &Visitor, email: &str, password: &str) -> (u16, String, String) {
    submit(
        visitor,
        "/account/login",
        &[("email", email), ("password", password)],
    )
    .await
}

/// Ten wrong passwords from the stranger's address; the eleventh is refused in the store's
/// words.
async fn guess_ten_times(base: &str) {
    let stranger = Visitor::open_from(base, IpAddr::from(STRANGER_AT)).await;
    for guess in 0..10 {
        let (status, _, body) = log_in(&stranger, OWNER, &format!("guess number {guess}")).await;
        assert_eq!(status, 401, "guess {guess}: {body}");
    }
    let (status, _, body) = log_in(&stranger, OWNER, "guess number 10").await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("Slow down"), "{body}");
    assert_no_framework_text("429", &body);
}

async fn a_stranger_cannot_lock_the_owner_out(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.rates
            .set(LimitedAction::Login, Per::Session, ten_per_hour());
        c.rates
            .set(LimitedAction::Login, Per::Device, ten_per_hour());
    })
    .await;
    let mut owner = app.visitor().await;
    signup(&app.db, &mut owner, OWNER).await;
    let device = device_cookie(&owner);
    guess_ten_times(&app.url).await;

    // A browser that never signed in to the account is slowed, even with the right password
    // (also with `+tags` or capitals: they are the same mailbox)...
    let untrusted = Visitor::open_from(&app.url, IpAddr::from(OWNER_ELSEWHERE)).await;
    for email in [OWNER, "Owner+drop@Example.com"] {
        let (status, _, body) = log_in(&untrusted, email, PASSWORD).await;
        assert_eq!(status, 429, "{email}: {body}");
    }
    // ...but the owner's own browser, now on another network, signs in.
    let laptop = carrying(&app.url, OWNER_ELSEWHERE, &device).await;
    let (status, location, body) = log_in(&laptop, OWNER, PASSWORD).await;
    assert_eq!((status, location.as_str()), (303, "/account"), "{body}");

    // A forged or tampered device cookie is a stranger's browser.
    let (body, tag) = device.split_once('.').unwrap_or_else(|| panic!("{device}"));
    let flipped = if tag.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{body}.{flipped}{}", &tag[1..]);
    for forged in ["forged-value", tampered.as_str()] {
        let forger = carrying(&app.url, FORGER_AT, forged).await;
        let (status, _, page) = log_in(&forger, OWNER, PASSWORD).await;
        assert_eq!(status, 429, "{forged}: {page}");
    }
    // So is one of another account: the stranger's own, from signing in to it.
    let mut stranger = Visitor::open_from(&app.url, IpAddr::from(STRANGER_AT)).await;
    signup(&app.db, &mut stranger, "stranger@example.com").await;
    let (status, _, page) = log_in(&stranger, OWNER, PASSWORD).await;
    assert_eq!(status, 429, "{page}");

    // A thief holding the owner's device cookie gets that device's budget (one was spent by
    // the laptop's sign-in), not a way around guessing.
    let thief = carrying(&app.url, FORGER_AT, &device).await;
    for guess in 0..9 {
        let (status, _, page) = log_in(&thief, OWNER, &format!("thief guess {guess}")).await;
        assert_eq!(status, 401, "guess {guess}: {page}");
    }
    let (status, _, page) = log_in(&thief, OWNER, PASSWORD).await;
    assert_eq!(status, 429, "{page}");
}

/// The device cookie is signed, not stored: one issued by node a vouches on node b, where the
/// stranger guessed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owners_browser_signs_in_on_another_node_after_a_strangers_guesses() {
    let cluster = Cluster::new(Bus::Notify).await;
    let env = [
        ("RATE_LIMIT_LOGIN_ACCOUNT", "10/h"),
        ("RATE_LIMIT_LOGIN_DEVICE", "10/h"),
    ];
    let a = cluster.node_with("a", &env).await;
    let b = cluster.node_with("b", &env).await;
    let mut owner = Visitor::open(&a.url).await;
    signup(&cluster.db, &mut owner, OWNER).await;
    let device = device_cookie(&owner);
    guess_ten_times(&b.url).await;
    let untrusted = Visitor::open_from(&b.url, IpAddr::from(OWNER_ELSEWHERE)).await;
    assert_eq!(log_in(&untrusted, OWNER, PASSWORD).await.0, 429);
    let laptop = carrying(&b.url, OWNER_ELSEWHERE, &device).await;
    let (status, location, body) = log_in(&laptop, OWNER, PASSWORD).await;
    assert_eq!((status, location.as_str()), (303, "/account"), "{body}");
}
