//! Email verification (issue 32, items 7 and 11): an account is made only through the link
//! mailed to its address; emails are unique in their canonical form; signup answers alike
//! whether or not an address is registered (the mail tells the owner); an unverified account
//! cannot buy a limited pair; signups are limited per address and per mailbox; mail goes out
//! through a real SMTP server from the outbox, and an outage delays it without losing or
//! doubling it.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sneakers::config::{LimitedAction, MailSettings, Per};
use sneakers::domain::ItemId;
use sneakers::store::Db;
use sneakers::store::schema::accounts;

use crate::accounts::{PASSWORD, head, login, signup, submit};
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp};
use crate::mail::{SmtpServer, follow_link, free_port, link_token, mails_to, outbox, token_in};
use crate::on_both_backends;
use crate::visitor::Visitor;

on_both_backends!(
    signup_answers_the_same_whether_or_not_the_address_is_registered,
    an_account_is_made_only_by_its_mailed_link,
    an_unverified_account_cannot_buy_a_limited_pair,
    mail_survives_an_smtp_outage_and_goes_out_once
);

/// A signup form posted: `(status, Location, body)`.
async fn sign_up_form(visitor: &Visitor, email: &str, password: &str) -> (u16, String, String) {
    submit(
        visitor,
        "/account/signup",
        &[("email", email), ("password", password)],
    )
    .await
}

async fn signed_in(visitor: &Visitor) -> bool {
    head(visitor, "/account").await.0 == 200
}

async fn signup_answers_the_same_whether_or_not_the_address_is_registered(backend: Backend) {
    let app = TestApp::start(backend).await;
    let mut ada = app.visitor().await;
    signup(&app.db, &mut ada, "ada@example.com").await;
    let before = outbox(&app.db).await.len();

    // A new address, the registered one, and the registered one with a tag and in capitals.
    let mut answers = Vec::new();
    for email in [
        "grace@example.com",
        "ada@example.com",
        "ADA+drop1@Example.com",
    ] {
        let stranger = app.visitor().await;
        let (status, location, _) = sign_up_form(&stranger, email, "another long password").await;
        let sent = stranger
            .http
            .get(format!("{}{location}", app.url))
            .send()
            .await;
        let sent = sent.unwrap_or_else(|e| panic!("{e}"));
        let status_sent = sent.status().as_u16();
        let body = sent.text().await.unwrap_or_default();
        let start = body
            .find("id=\"signup-sent\"")
            .unwrap_or_else(|| panic!("{body}"));
        answers.push((
            status,
            location,
            status_sent,
            body[start..start + 300].to_string(),
        ));
        assert!(!signed_in(&stranger).await, "{email} signed a stranger in");
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], answers[2]);
    assert_eq!(answers[0].0, 303);

    // The owner is told, twice, with no link that changes anything; the new address got its
    // link. One mail per signup.
    let mails = outbox(&app.db).await;
    assert_eq!(mails.len(), before + 3);
    let told: Vec<_> = mails[before..]
        .iter()
        .filter(|m| m.subject.contains("already have"))
        .collect();
    assert_eq!(told.len(), 2, "{mails:?}");
    assert!(told.iter().all(|m| token_in(&m.body).is_none()));
    assert_eq!(told[1].recipient, "ada+drop1@example.com");
    assert!(
        mails_to(&app.db, "grace@example.com").await[0]
            .body
            .contains("/account/verify?token=")
    );

    // Nothing changed for the owner: the old password still signs in, the new ones do not.
    let mut again = app.visitor().await;
    login(&mut again, "ada@example.com", "/").await;
    let wrong = [
        ("email", "ada@example.com"),
        ("password", "another long password"),
    ];
    let other = app.visitor().await;
    assert_eq!(submit(&other, "/account/login", &wrong).await.0, 401);
}

async fn an_account_is_made_only_by_its_mailed_link(backend: Backend) {
    let app = TestApp::start(backend).await;
    let mut mallory = app.visitor().await;
    // Someone signs up with an address that is not theirs: no account, nothing to sign in to.
    let (status, _, _) = sign_up_form(&mallory, "Lin@Example.com", "mallory's password!").await;
    assert_eq!(status, 303);
    assert!(!signed_in(&mallory).await);
    let form = [
        ("email", "lin@example.com"),
        ("password", "mallory's password!"),
    ];
    assert_eq!(submit(&mallory, "/account/login", &form).await.0, 401);

    // The owner signs up too and follows their own link: the account has their password.
    let mut lin = app.visitor().await;
    let (status, _, _) = sign_up_form(&lin, "lin@example.com", PASSWORD).await;
    assert_eq!(status, 303);
    let token = link_token(&app.db, "lin@example.com").await;
    // Only fetching the link's page (as a mail scanner does) confirms nothing.
    lin.visit(&format!("/account/verify?token={token}")).await;
    assert!(!signed_in(&lin).await);
    let (status, location) = follow_link(&mut lin, &token).await;
    assert_eq!((status, location.as_str()), (303, "/account?verify=done"));
    let page = lin.visit("/account").await;
    assert!(page.contains("data-verified=\"true\""), "{page}");

    // A link works once; Mallory's link, followed later, makes no second account.
    assert_eq!(follow_link(&mut lin, &token).await.0, 400);
    let first = mails_to(&app.db, "lin@example.com").await;
    let mallorys = token_in(&first[0].body).unwrap_or_else(|| panic!("no link"));
    assert_eq!(follow_link(&mut mallory, &mallorys).await.0, 409);
    assert!(!signed_in(&mallory).await);
    assert_eq!(submit(&mallory, "/account/login", &form).await.0, 401);
    // A forged token is refused with the store's page, not an error.
    let forged = "A".repeat(43);
    assert_eq!(
        mallory
            .post("/account/verify", &[("token", &forged)])
            .await
            .0,
        400
    );
    let (status, _) = head(&mallory, "/account/verify?token=junk").await;
    assert_eq!(status, 400);

    // The address signs in with a tag too: one mailbox, one account.
    let mut tagged = app.visitor().await;
    login(&mut tagged, "lin+shoes@example.com", "/").await;
    assert!(tagged.visit("/account").await.contains("lin@example.com"));
}

async fn set_unverified(db: &Db, email: &str) {
    let mut conn = db.get().await.unwrap_or_else(|e| panic!("{e}"));
    sneakers::with_conn!(conn, |c| {
        diesel::update(accounts::table.filter(accounts::email.eq(email)))
            .set(accounts::verified_ms.eq(None::<i64>))
            .execute(c)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    });
}

async fn an_unverified_account_cannot_buy_a_limited_pair(backend: Backend) {
    let app = TestApp::start(backend).await;
    let product = app.product(true).await;
    let response = reqwest::Client::new()
        .post(format!("{}/admin/products/{}/limit", app.url, product.id))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .form(&[("max", "1")])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200);
    let item: ItemId = product
        .items
        .iter()
        .find(|i| i.available_count > 0)
        .map(|i| i.id)
        .unwrap_or_else(|| panic!("nothing in stock"));

    // An account from before verification existed.
    let mut old = app.visitor().await;
    signup(&app.db, &mut old, "old@example.com").await;
    set_unverified(&app.db, "old@example.com").await;
    let page = old.visit("/account").await;
    assert!(page.contains("data-verified=\"false\""), "{page}");
    assert_eq!(
        old.add(item).await,
        (303, "/account?verify=needed".to_string())
    );
    let stock = app.item(item).await.available_count;

    // It asks for a link, follows it, and may buy.
    let before = mails_to(&app.db, "old@example.com").await.len();
    let (status, location) = old.post("/account/verify/send", &[]).await;
    assert_eq!((status, location.as_str()), (303, "/account?verify=sent"));
    assert_eq!(mails_to(&app.db, "old@example.com").await.len(), before + 1);
    let token = link_token(&app.db, "old@example.com").await;
    assert_eq!(follow_link(&mut old, &token).await.0, 303);
    old.visit("/").await;
    assert_eq!(old.add(item).await, (303, "/".to_string()));
    let location = old.checkout().await;
    assert!(
        location.starts_with("/checkout/complete?order="),
        "{location}"
    );
    assert_eq!(app.item(item).await.available_count, stock - 1);
}

/// Signups are limited per address (sybils come from few) and per mailbox (each signup mails
/// it), whatever the answer would have been.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signups_are_limited_per_address_and_per_mailbox() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        let rate = |text: &str| text.parse().unwrap_or_else(|e| panic!("{e}"));
        c.rates
            .set(LimitedAction::Signup, Per::Address, rate("4/h"));
        c.rates
            .set(LimitedAction::Signup, Per::Session, rate("2/h"));
    })
    .await;
    let from = |last: u8| std::net::IpAddr::from([127, 0, 0, last]);
    // One mailbox, tags and all, from three addresses: two mails, then 429.
    for (n, email) in ["kim@example.com", "kim+a@example.com", "KIM+b@example.com"]
        .into_iter()
        .enumerate()
    {
        let visitor = Visitor::open_from(&app.url, from(10 + n as u8)).await;
        let (status, _, _) = sign_up_form(&visitor, email, PASSWORD).await;
        assert_eq!(status, if n < 2 { 303 } else { 429 }, "{email}");
    }
    assert_eq!(outbox(&app.db).await.len(), 2);
    // Fresh addresses from one client: four, then 429.
    let visitor = Visitor::open_from(&app.url, from(20)).await;
    for n in 0..5 {
        let email = format!("sybil{n}@example.com");
        let (status, _, _) = sign_up_form(&visitor, &email, PASSWORD).await;
        assert_eq!(status, if n < 4 { 303 } else { 429 }, "{email}");
    }
    // Another address is not held back by that one.
    let other = Visitor::open_from(&app.url, from(21)).await;
    assert_eq!(
        sign_up_form(&other, "new@example.com", PASSWORD).await.0,
        303
    );
}

/// The mail of a signup made while the SMTP server is down goes out once it is up, exactly
/// once, with the link that makes the account.
async fn mail_survives_an_smtp_outage_and_goes_out_once(backend: Backend) {
    let mut smtp = SmtpServer::down();
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let url = smtp.url();
    let vars = [
        ("SMTP_URL", url),
        ("MAIL_FROM", "Sneakers <shop@example.com>".to_string()),
        ("PUBLIC_URL", public.clone()),
    ];
    let mail = MailSettings::from_lookup(|key| {
        vars.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let app = TestApp::start_with(backend, |c| {
        c.port = port;
        c.mail = mail;
    })
    .await;
    let mut ada = app.visitor().await;
    assert_eq!(sign_up_form(&ada, "ada@example.com", PASSWORD).await.0, 303);

    // The server is down: the mail waits in the outbox with its error, tried again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mails = outbox(&app.db).await;
        if mails.len() == 1 && mails[0].attempts >= 2 && mails[0].last_error.is_some() {
            assert_eq!(mails[0].sent_ms, None);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{mails:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    smtp.start().await;
    let received = smtp.wait_for(1, Duration::from_secs(30)).await;
    let message = &received[0];
    assert!(message.contains("To: ada@example.com"), "{message}");
    assert!(
        message.contains("From: Sneakers <shop@example.com>"),
        "{message}"
    );
    let token = token_in(message).unwrap_or_else(|| panic!("no link in {message}"));
    assert!(
        message.contains(&format!("{public}/account/verify?token={token}")),
        "{message}"
    );
    // Recorded as sent, its link no longer kept in the database.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mails = outbox(&app.db).await;
        if mails[0].sent_ms.is_some() {
            assert_eq!(mails[0].body, "");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{mails:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _) = follow_link(&mut ada, &token).await;
    assert_eq!(status, 303);
    assert!(signed_in(&ada).await);
    // Once only: a later look finds no second copy (the poll has come round since).
    tokio::time::sleep(sneakers::mail::deliver::POLL + Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 1);
}
