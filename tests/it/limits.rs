//! Rate limits as a client meets them: 429 with `Retry-After` in the store's words for the one
//! over its limit, while another session or address carries on; a flooding socket is told
//! `rate_limited` and then closed 1008 while other sockets keep receiving. 127.0.0.2 stands for
//! another client address.

use sneakers::config::{LimitedAction, Per};
use std::net::IpAddr;

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp};
use crate::raw::assert_no_framework_text;
use crate::visitor::Visitor;
use crate::ws::{Client, Received};
use sneakers::config::{Rate, TrustedProxies};

const HERE: [u8; 4] = [127, 0, 0, 1];
const ELSEWHERE: [u8; 4] = [127, 0, 0, 2];

fn rate(text: &str) -> Rate {
    text.parse().unwrap_or_else(|e| panic!("{e}"))
}

/// `/metrics` has a `sneakers_rate_limited_total` line for this limit and key.
async fn counted(app: &TestApp, limit: &str, key: &str) -> bool {
    let text = app
        .http
        .get(format!("{}/metrics", app.url))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    text.lines().any(|l| {
        l.starts_with("sneakers_rate_limited_total{")
            && l.contains(&format!("limit=\"{limit}\""))
            && l.contains(&format!("key=\"{key}\""))
    })
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {:?}", response.headers()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_to_cart_over_the_session_and_address_limits() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.rates
            .set(LimitedAction::Cart, Per::Session, rate("3/min"));
        c.rates
            .set(LimitedAction::Cart, Per::Address, rate("5/min"));
    })
    .await;
    let item = app.product(true).await.items[0].id;
    let greedy = Visitor::open(&app.url).await;
    for _ in 0..3 {
        assert_eq!(greedy.add(item).await.0, 303);
    }
    let refused = greedy
        .http
        .post(format!("{}/cart/items", app.url))
        .form(&[
            ("item_id", item.to_string()),
            ("_csrf_token", greedy.csrf.clone()),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(refused.status(), 429);
    assert_eq!(retry_after(&refused), 20, "3/min: one back every 20 s");
    let body = refused.text().await.unwrap_or_default();
    assert!(
        body.contains("Slow down") && body.contains("Back to the drops"),
        "{body}"
    );
    assert_no_framework_text("429", &body);

    // A neighbour behind the same address still has the rest of the address's budget...
    let neighbour = Visitor::open(&app.url).await;
    assert_eq!(neighbour.add(item).await.0, 303);
    assert_eq!(neighbour.add(item).await.0, 303);
    assert_eq!(
        neighbour.add(item).await.0,
        429,
        "the address's five are spent"
    );
    // ...and another address is not slowed at all.
    let elsewhere = Visitor::open_from(&app.url, IpAddr::from(ELSEWHERE)).await;
    for _ in 0..3 {
        assert_eq!(elsewhere.add(item).await.0, 303);
    }
    assert!(counted(&app, "cart", "session").await);
    assert!(counted(&app, "cart", "address").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_and_session_token_limits() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.rates
            .set(LimitedAction::Checkout, Per::Session, rate("1/min"));
        c.rates
            .set(LimitedAction::Token, Per::Address, rate("2/min"));
    })
    .await;
    let item = app.product(true).await.items[0].id;
    app.set_stock(item, 10).await;
    let buyer = Visitor::open(&app.url).await;
    assert_eq!(buyer.add(item).await.0, 303);
    assert!(buyer.checkout().await.starts_with("/checkout/complete"));
    let (status, _) = buyer.post("/checkout", &[]).await;
    assert_eq!(status, 429);

    // `/session/token` answers JSON, also when it refuses.
    let token = |from: [u8; 4]| {
        let client = reqwest::Client::builder()
            .local_address(IpAddr::from(from))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let url = format!("{}/session/token", app.url);
        async move {
            client
                .get(url)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    assert_eq!(token(HERE).await.status(), 200);
    assert_eq!(token(HERE).await.status(), 200);
    let refused = token(HERE).await;
    assert_eq!(refused.status(), 429);
    assert!(retry_after(&refused) >= 1);
    let json: Value = refused.json().await.unwrap_or_default();
    assert_eq!(json["error"], "rate_limited", "{json}");
    assert_eq!(token(ELSEWHERE).await.status(), 200);
    assert!(counted(&app, "checkout", "session").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_connects_are_limited_per_session_and_address() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.rates
            .set(LimitedAction::Connect, Per::Session, rate("2/min"));
        c.rates
            .set(LimitedAction::Connect, Per::Address, rate("4/min"));
    })
    .await;
    let (token, _) = app.socket_token().await;
    let url = app.socket_url(&token);
    let _a = Client::connect(&url)
        .await
        .unwrap_or_else(|s| panic!("{s}"));
    let _b = Client::connect(&url)
        .await
        .unwrap_or_else(|s| panic!("{s}"));
    assert_eq!(Client::connect(&url).await.err(), Some(429));
    // Another session from here: its own budget, then the address's is spent.
    let (other, _) = app.socket_token().await;
    let other_url = app.socket_url(&other);
    let _c = Client::connect(&other_url)
        .await
        .unwrap_or_else(|s| panic!("{s}"));
    let _d = Client::connect(&other_url)
        .await
        .unwrap_or_else(|s| panic!("{s}"));
    assert_eq!(Client::connect(&other_url).await.err(), Some(429));
    // A shopper elsewhere connects as usual.
    let (third, _) = app.socket_token().await;
    assert!(
        Client::connect_from(IpAddr::from(ELSEWHERE), &app.socket_url(&third))
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_password_guessing_is_blocked_per_address() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.rates
            .set(LimitedAction::AdminFailures, Per::Address, rate("3/min"));
    })
    .await;
    let from = |address: [u8; 4], password: &str| {
        let client = reqwest::Client::builder()
            .local_address(IpAddr::from(address))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let request = client
            .get(format!("{}/admin/inventory", app.url))
            .basic_auth(ADMIN_USER, Some(password.to_string()));
        async move {
            request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .status()
                .as_u16()
        }
    };
    for guess in ["a", "b", "c"] {
        assert_eq!(from(HERE, guess).await, 401);
    }
    assert_eq!(from(HERE, "d").await, 429);
    // Blocked means blocked: the right password from there is refused too, for now.
    assert_eq!(from(HERE, ADMIN_PASSWORD).await, 429);
    assert_eq!(from(ELSEWHERE, ADMIN_PASSWORD).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_names_the_client_behind_a_trusted_proxy() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.connections.trusted_proxies = "127.0.0.1".parse().unwrap_or_default();
        c.rates
            .set(LimitedAction::Token, Per::Address, rate("1/min"));
    })
    .await;
    let through_router = |client: &str| {
        app.http
            .get(format!("{}/session/token", app.url))
            .header("x-forwarded-for", format!("6.6.6.6, {client}"))
            .send()
    };
    let status = |r: Result<reqwest::Response, reqwest::Error>| {
        r.unwrap_or_else(|e| panic!("{e}")).status().as_u16()
    };
    assert_eq!(status(through_router("203.0.113.5").await), 200);
    assert_eq!(status(through_router("203.0.113.5").await), 429);
    // Another shopper behind the same router, and the forged leftmost hop changes nothing.
    assert_eq!(status(through_router("203.0.113.6").await), 200);
}

/// Behind a Heroku-style router (`DYNO` set, no `TRUSTED_PROXIES`): whatever the router's
/// address, the hop it appended to `X-Forwarded-For` is the shopper, and hops the shopper
/// wrote in front of it are not believed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_the_platform_router_the_hop_it_appended_names_the_client() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.connections.trusted_proxies = TrustedProxies::platform_router();
        c.rates
            .set(LimitedAction::Token, Per::Address, rate("1/min"));
    })
    .await;
    let through_router = |hops: &str| {
        app.http
            .get(format!("{}/session/token", app.url))
            .header("x-forwarded-for", hops.to_string())
            .send()
    };
    let status = |r: Result<reqwest::Response, reqwest::Error>| {
        r.unwrap_or_else(|e| panic!("{e}")).status().as_u16()
    };
    assert_eq!(status(through_router("6.6.6.6, 203.0.113.5").await), 200);
    assert_eq!(status(through_router("203.0.113.5").await), 429);
    // The same shopper writing other hops first is still the same shopper.
    assert_eq!(
        status(through_router("203.0.113.9, 203.0.113.5").await),
        429
    );
    // Another shopper behind the same router, even one that forges the first's address.
    assert_eq!(
        status(through_router("203.0.113.5, 203.0.113.6").await),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_socket_is_answered_rate_limited_then_closed() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.rates
            .set(LimitedAction::SocketEvents, Per::Socket, rate("10/min"));
    })
    .await;
    let product = app.product(true).await;
    let item = product.items[0].id;
    app.set_stock(item, 150).await;
    let topic = format!("product:{}", product.id);
    let mut calm = app.client().await;
    calm.join_ok(&topic, json!({})).await;
    calm.expect(&topic, "released").await;

    let mut flooder = app.client().await;
    let mut replies = Vec::new();
    for n in 0..60 {
        // The server may close before the last ones are written.
        let frame = json!([null, n.to_string(), "phoenix", "heartbeat", {}]).to_string();
        if !flooder.try_send_text(frame).await {
            break;
        }
    }
    let code = loop {
        match flooder.recv().await {
            Received::Frame(frame) => replies.push(frame),
            Received::Closed(code) => break code,
        }
    };
    let ok = replies
        .iter()
        .filter(|f| f.payload["status"] == "ok")
        .count();
    let limited = replies
        .iter()
        .filter(|f| f.payload["response"]["reason"] == "rate_limited")
        .count();
    assert_eq!(ok, 10, "the burst is answered");
    assert!(limited >= 20, "then rate_limited replies: {replies:?}");
    assert_eq!(limited, replies.len() - ok, "nothing else: {replies:?}");
    assert!(
        replies
            .iter()
            .filter(|f| f.payload["response"]["reason"] == "rate_limited")
            .all(|f| f.msg_ref.is_string()),
        "each refusal answers its ref"
    );
    assert_eq!(code, Some(1008));

    // The calm socket heard nothing of it and still gets its pushes.
    app.admin
        .sell(item, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The restock to 150 may still be on its way to the calm socket (its join came after the
    // write, not necessarily after the push): the sale's push is the one that says low.
    loop {
        let change = calm.expect(&topic, "stock_change").await;
        if change.payload["level"] == "low" {
            break;
        }
        assert_eq!(change.payload["level"], "medium", "{change:?}");
    }
    assert_eq!(calm.heartbeat().await.0, "ok");
}

/// What a cart event's reply says: `(status, error code)`.
fn cart_reply(status: &str, response: &Value) -> (String, String) {
    let error = response["error"].as_str().unwrap_or_default().to_string();
    (status.to_string(), error)
}

/// The reply to `msg_ref` on a socket, pushes before it skipped: `(status, response)`.
async fn reply_after_pushes(socket: &mut Client, msg_ref: &str) -> (String, Value) {
    loop {
        let frame = socket.frame().await;
        if frame.event == "phx_reply" && frame.msg_ref == json!(msg_ref) {
            let status = frame.payload["status"].as_str().unwrap_or_default();
            return (status.to_string(), frame.payload["response"].clone());
        }
    }
}

/// The socket and LongPoll spend the cart's budgets as its forms do: per session (shared with
/// the session's forms) and per address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cart_changes_over_sockets_and_longpoll_take_the_forms_limits() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.rates
            .set(LimitedAction::Cart, Per::Session, rate("5/min"));
        c.rates
            .set(LimitedAction::Cart, Per::Address, rate("8/min"));
    })
    .await;
    let item = app.product(true).await.items[0].id;
    app.set_stock(item, 10).await;
    let shopper = Visitor::open(&app.url).await;
    let (token, cart_id) = crate::ws::socket_token(&shopper.http, &app.url).await;
    let topic = format!("cart:{cart_id}");
    let mut socket = Client::connect(&app.socket_url(&token))
        .await
        .unwrap_or_else(|s| panic!("{s}"));
    socket.join_ok(&topic, json!({"serialized": ""})).await;
    for n in 0..5 {
        let event = if n % 2 == 0 {
            "add_item"
        } else {
            "remove_item"
        };
        let msg_ref = socket
            .push(None, &topic, event, json!({ "item_id": item.0 }))
            .await;
        let (status, response) = reply_after_pushes(&mut socket, &msg_ref).await;
        assert_eq!(cart_reply(&status, &response), ("ok".into(), String::new()));
    }
    let msg_ref = socket
        .push(None, &topic, "remove_item", json!({ "item_id": item.0 }))
        .await;
    let (status, response) = reply_after_pushes(&mut socket, &msg_ref).await;
    assert_eq!(
        cart_reply(&status, &response),
        ("error".into(), "rate_limited".into()),
        "{response}"
    );
    assert!(
        response["retry_after"].as_u64().is_some_and(|s| s >= 1),
        "{response}"
    );
    // The session's forms share that budget.
    assert_eq!(shopper.add(item).await.0, 429);

    // A neighbour over LongPoll has the three the address has left, then it is spent.
    let neighbour = Visitor::open(&app.url).await;
    let (token, cart_id) = crate::ws::socket_token(&neighbour.http, &app.url).await;
    let topic = format!("cart:{cart_id}");
    let mut poll = crate::longpoll::LpClient::open(&app.url, "/socket/longpoll", &token).await;
    poll.join_ok(&topic, json!({"serialized": ""})).await;
    let mut answers = Vec::new();
    for n in 0..4 {
        let event = if n % 2 == 0 {
            "add_item"
        } else {
            "remove_item"
        };
        let msg_ref = poll
            .push(None, &topic, event, json!({ "item_id": item.0 }))
            .await;
        let (status, response) = poll.reply_to(&msg_ref).await;
        answers.push(cart_reply(&status, &response));
    }
    let ok = ("ok".to_string(), String::new());
    let limited = ("error".to_string(), "rate_limited".to_string());
    assert_eq!(answers, [ok.clone(), ok.clone(), ok, limited]);
    assert!(counted(&app, "cart", "address").await);
}

/// One IPv6 subscriber holds a whole /64: its addresses share one budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_clients_are_counted_per_64() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.connections.trusted_proxies = "127.0.0.1".parse().unwrap_or_default();
        c.rates
            .set(LimitedAction::Token, Per::Address, rate("3/min"));
    })
    .await;
    let from = |client: String| {
        app.http
            .get(format!("{}/session/token", app.url))
            .header("x-forwarded-for", client)
            .send()
    };
    let status = |r: Result<reqwest::Response, reqwest::Error>| {
        r.unwrap_or_else(|e| panic!("{e}")).status().as_u16()
    };
    let mut statuses = Vec::new();
    for n in 1..=30 {
        statuses.push(status(from(format!("2001:db8:5:6::{n:x}")).await));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        27,
        "{statuses:?}"
    );
    // The next /64 is someone else.
    assert_eq!(status(from("2001:db8:5:7::1".into()).await), 200);
}

/// A flood of logins with new emails from one address: once the address is over its budget
/// nothing more is kept, a post without its CSRF token keeps nothing at all, and what was kept
/// goes once its budgets are full again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_logins_keep_nothing_and_idle_keys_go() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.rates.set(LimitedAction::Login, Per::Address, rate("5/h"));
        c.rates
            .set(LimitedAction::Login, Per::Session, rate("10/h"));
    })
    .await;
    let limiter = &app.live().limiter;
    let bot = Visitor::open(&app.url).await;
    let before = limiter.keys();
    let mut statuses = Vec::new();
    for n in 0..100 {
        let email = format!("victim{n}@example.com");
        let form = [("email", email.as_str()), ("password", "wrong password")];
        statuses.push(bot.post("/account/login", &form).await.0);
    }
    let tried = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(tried, 5, "{statuses:?}");
    // The address and the five emails it let through; the 95 refused kept nothing.
    assert_eq!(limiter.keys() - before, 1 + tried);
    let kept = limiter.keys();
    for n in 0..100 {
        let email = format!("forged{n}@example.com");
        let form = [("email", email.as_str()), ("password", "wrong password")];
        assert_eq!(bot.post_raw("/account/login", &form).await.0, 403);
    }
    assert_eq!(limiter.keys(), kept, "a forged post keeps nothing");
    // Once every budget is full again (an hour on), the sweep forgets them all.
    let later = std::time::Instant::now() + std::time::Duration::from_secs(2 * 3600);
    limiter.forget_idle_at(later);
    assert_eq!(limiter.keys(), 0);
}

/// `sneakers_rate_limit_keys` as a store process's `/metrics` says it now.
async fn keys_in_metrics(node: &crate::nodes::Node) -> f64 {
    let text = node
        .http
        .get(format!("{}/metrics", node.url))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix("sneakers_rate_limit_keys "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sneakers_rate_limit_keys in /metrics: {text}"))
}

/// What an operator watching `/metrics` sees during a login flood from one address (a store
/// process of its own, rate limits on as in production): the limiter's keys grow by what the
/// address was allowed, and not at all for the posts refused over its budget or for CSRF.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_add_no_limiter_key_in_metrics() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite://{}", dir.path().join("shop.db").display());
    let env = [
        ("RATE_LIMIT", "on"),
        ("RATE_LIMIT_LOGIN_ADDRESS", "5/h"),
        ("RATE_LIMIT_LOGIN_ACCOUNT", "10/h"),
    ];
    let node = crate::nodes::Node::start_with(&url, "solo", &env).await;
    let bot = Visitor::open(&node.url).await;
    let before = keys_in_metrics(&node).await;
    let mut statuses = Vec::new();
    for n in 0..60 {
        let email = format!("victim{n}@example.com");
        let form = [("email", email.as_str()), ("password", "wrong password")];
        statuses.push(bot.post("/account/login", &form).await.0);
    }
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    assert_eq!((count(401), count(429)), (5, 55), "{statuses:?}");
    let allowed = keys_in_metrics(&node).await;
    // The address and the five mailboxes it was allowed to try.
    assert_eq!(allowed - before, 6.0);
    for n in 0..60 {
        let email = format!("forged{n}@example.com");
        let form = [("email", email.as_str()), ("password", "wrong password")];
        assert_eq!(bot.post_raw("/account/login", &form).await.0, 403);
    }
    assert_eq!(
        keys_in_metrics(&node).await,
        allowed,
        "refused posts add no key"
    );
}
