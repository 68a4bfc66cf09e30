//! One `localstripe` (a Stripe-compatible server from PyPI, installed by `scripts/test` into
//! `target/test-venv`) per test run, and what a test needs of it: the Stripe settings that
//! point a store at it, the card tokens Stripe.js would make in the browser, a webhook
//! registration, and its own view of intents and refunds.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sneakers::config::StripeSettings;
use tokio::sync::OnceCell;

pub const SECRET_KEY: &str = "sk_test_sneakers";
pub const PUBLISHABLE_KEY: &str = "pk_test_sneakers";
pub const WEBHOOK_SECRET: &str = "whsec_sneakers_test";

static BASE: OnceCell<String> = OnceCell::const_new();

fn binary() -> std::path::PathBuf {
    let venv = std::env::var("SNEAKERS_TEST_VENV").map_or_else(
        |_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv"),
        std::path::PathBuf::from,
    );
    let bin = venv.join("bin/localstripe");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/test (it installs tests/python/requirements.txt), or \
         python3 -m venv target/test-venv && target/test-venv/bin/pip install -r tests/python/requirements.txt",
        bin.display()
    );
    bin
}

/// The running localstripe's address, started on first use. It runs from a thread that lives
/// as long as the test binary and dies with it (the parent-death signal), so no run leaves one
/// behind.
pub async fn base() -> &'static str {
    BASE.get_or_init(|| async {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port: {e}"));
        let bin = binary();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut command = Command::new(&bin);
            command
                .args(["--port", &port.to_string(), "--from-scratch"])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the child when
            // this (never-ending) thread's process goes.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = command.spawn();
            let _ = tx.send(child.as_ref().map(|_| ()).map_err(|e| e.to_string()));
            if let Ok(mut child) = child {
                let _ = child.wait();
            }
        });
        rx.recv()
            .unwrap_or_else(|e| panic!("localstripe thread: {e}"))
            .unwrap_or_else(|e| panic!("cannot start localstripe: {e}"));
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let up = http
                .get(format!("{base}/v1/payment_intents"))
                .bearer_auth(SECRET_KEY)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "localstripe did not answer at {base}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        base
    })
    .await
}

/// The settings that point a store at localstripe.
pub async fn settings() -> StripeSettings {
    StripeSettings {
        secret_key: SECRET_KEY.into(),
        publishable_key: PUBLISHABLE_KEY.into(),
        webhook_secret: WEBHOOK_SECRET.into(),
        api_base: base().await.to_string(),
    }
}

/// Asks localstripe to deliver its events to `url` (as a Stripe dashboard's endpoint does).
pub async fn register_webhook(name: &str, url: &str) {
    let response = reqwest::Client::new()
        .post(format!("{}/_config/webhooks/{name}", base().await))
        .form(&[("url", url), ("secret", WEBHOOK_SECRET)])
        .send()
        .await
        .unwrap_or_else(|e| panic!("webhook config: {e}"));
    assert!(response.status().is_success(), "webhook config refused");
}

/// What Stripe.js does in the browser with a card the shopper typed: a token made with the
/// publishable key; the store gets the card's id, never its number.
pub async fn card(number: &str) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!("{}/v1/tokens", base().await))
        .form(&[
            ("key", PUBLISHABLE_KEY),
            ("card[number]", number),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2030"),
            ("card[cvc]", "123"),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("token: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("token body: {e}"));
    body["card"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no card in {body}"))
        .to_string()
}

/// A call to localstripe's API with the secret key (the test's own look at Stripe's books).
pub async fn api(method: reqwest::Method, path: &str, form: &[(&str, &str)]) -> Value {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", base().await))
        .bearer_auth(SECRET_KEY);
    if !form.is_empty() {
        request = request.form(form);
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{path} body: {e}"))
}

/// An intent as localstripe holds it.
pub async fn intent(id: &str) -> Value {
    api(
        reqwest::Method::GET,
        &format!("/v1/payment_intents/{id}"),
        &[],
    )
    .await
}

/// How many charges Stripe made for an intent (its charge list has no filter: read it all).
pub async fn charges_of(intent: &str) -> usize {
    let mut seen = 0;
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(last) => format!("/v1/charges?limit=100&starting_after={last}"),
            None => "/v1/charges?limit=100".to_string(),
        };
        let page = api(reqwest::Method::GET, &path, &[]).await;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        seen += data
            .iter()
            .filter(|c| c["payment_intent"] == intent)
            .count();
        match (page["has_more"].as_bool(), data.last()) {
            (Some(true), Some(last)) => after = last["id"].as_str().map(str::to_string),
            _ => return seen,
        }
    }
}

/// Cents refunded of an intent's charge, as Stripe's books say.
pub async fn refunded_of(intent: &str) -> i64 {
    let pi = self::intent(intent).await;
    let Some(charge) = pi["latest_charge"]
        .as_str()
        .map(str::to_string)
        .or_else(|| pi["latest_charge"]["id"].as_str().map(str::to_string))
    else {
        return 0;
    };
    let charge = api(reqwest::Method::GET, &format!("/v1/charges/{charge}"), &[]).await;
    charge["amount_refunded"].as_i64().unwrap_or(0)
}
