//! Shopper accounts and limits per customer, as a browser without JavaScript and as a socket
//! client see them; the limit under a race of one account's checkouts on two real nodes.

use futures_util::future::join_all;
use serde_json::json;
use sneakers::config::{LimitedAction, Per};
use sneakers::domain::{ItemId, ProductId};

use sneakers::store::Db;

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp, pairs_left};
use crate::mail::{follow_link, link_token};
use crate::nodes::{Bus, two_nodes};
use crate::on_both_backends;
use crate::visitor::Visitor;
use crate::ws::Client;

on_both_backends!(
    signup_login_and_logout,
    an_order_placed_signed_in_shows_on_the_account,
    a_limited_drop_sends_guests_to_login_and_holds_its_limit
);

pub const PASSWORD: &str = "correct horse battery";

/// POSTs a form with the page's CSRF token; `(status, Location, body)`.
pub async fn submit(
    visitor: &Visitor,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("_csrf_token", &visitor.csrf));
    let response = visitor
        .http
        .post(format!("{}{path}", visitor.base))
        .header("referer", format!("{}/", visitor.base))
        .form(&form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, location, response.text().await.unwrap_or_default())
}

/// Signs up as a shopper does: the form, then the mailed link (read from the store's outbox
/// in `db`), which makes the account and signs this browser in.
pub async fn signup(db: &Db, visitor: &mut Visitor, email: &str) {
    let (status, location, body) = submit(
        visitor,
        "/account/signup",
        &[("email", email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/account/signup/sent"),
        "{body}"
    );
    let token = link_token(db, &email.trim().to_lowercase()).await;
    let (status, location) = follow_link(visitor, &token).await;
    assert_eq!((status, location.as_str()), (303, "/account?verify=done"));
    visitor.visit("/").await;
}

pub async fn login(visitor: &mut Visitor, email: &str, next: &str) -> String {
    let (status, location, body) = submit(
        visitor,
        "/account/login",
        &[("email", email), ("password", PASSWORD), ("next", next)],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    visitor.visit("/").await;
    location
}

/// The status of a GET, without following redirects; `(status, Location)`.
pub async fn head(visitor: &Visitor, path: &str) -> (u16, String) {
    let response = visitor
        .http
        .get(format!("{}{path}", visitor.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (response.status().as_u16(), location)
}

async fn set_limit(base: &str, product: ProductId, max: &str) {
    let response = reqwest::Client::new()
        .post(format!("{base}/admin/products/{product}/limit"))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .form(&[("max", max)])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200, "set the limit");
}

async fn signup_login_and_logout(backend: Backend) {
    let app = TestApp::start(backend).await;
    let mut ada = app.visitor().await;
    assert_eq!(
        head(&ada, "/account").await,
        (303, "/account/login?next=/account".to_string())
    );

    // Refusals keep the form and the email, with a clear message.
    let (status, _, body) = submit(
        &ada,
        "/account/signup",
        &[("email", "Ada@Example.com"), ("password", "short")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("at least 10 characters"), "{body}");
    assert!(body.contains("value=\"Ada@Example.com\""), "{body}");

    signup(&app.db, &mut ada, "  Ada@Example.com ").await;
    let page = ada.visit("/account").await;
    assert!(page.contains("ada@example.com"), "{page}");

    // A second signup for the address answers as a first one would (see `verification`).
    let mut copycat = app.visitor().await;
    let (status, location, body) = submit(
        &copycat,
        "/account/signup",
        &[("email", "ada@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/account/signup/sent"),
        "{body}"
    );

    // One answer for a wrong password and for an unknown email.
    let mut answers = Vec::new();
    for email in ["ada@example.com", "nobody@example.com"] {
        let (status, _, body) = submit(
            &copycat,
            "/account/login",
            &[("email", email), ("password", "wrong password!")],
        )
        .await;
        assert_eq!(status, 401, "{body}");
        let start = body
            .find("id=\"form-error\"")
            .unwrap_or_else(|| panic!("{body}"));
        answers.push(body[start..start + 120].to_string());
    }
    assert_eq!(answers[0], answers[1]);

    // Logging in elsewhere; `next` only goes to this site.
    let location = login(&mut copycat, "ADA@example.com", "/checkout").await;
    assert_eq!(location, "/checkout");
    assert!(copycat.visit("/account").await.contains("ada@example.com"));
    let mut third = app.visitor().await;
    assert_eq!(
        login(&mut third, "ada@example.com", "//evil.example/").await,
        "/account"
    );

    let (status, location, _) = submit(&ada, "/account/logout", &[]).await;
    assert_eq!((status, location.as_str()), (303, "/"));
    ada.visit("/").await;
    assert_eq!(head(&ada, "/account").await.0, 303);
}

async fn an_order_placed_signed_in_shows_on_the_account(backend: Backend) {
    let app = TestApp::start(backend).await;
    let product = app.product(true).await;
    let item = product
        .items
        .iter()
        .find(|i| i.available_count > 0)
        .map(|i| i.id)
        .unwrap_or_else(|| panic!("nothing in stock"));
    let mut shopper = app.visitor().await;
    signup(&app.db, &mut shopper, "orders@example.com").await;
    assert!(shopper.visit("/account").await.contains("No orders yet"));
    assert_eq!(shopper.add(item).await.0, 303);
    let location = shopper.checkout().await;
    let order_id = location
        .strip_prefix("/checkout/complete?order=")
        .unwrap_or_else(|| panic!("checkout went to {location}"))
        .to_string();
    let page = shopper.visit("/account").await;
    assert!(
        page.contains(&format!("data-order-id=\"{order_id}\"")),
        "{page}"
    );
    assert!(page.contains(&product.name), "{page}");
    assert!(
        page.contains(&format!(
            "id=\"order-{order_id}-state\" data-order-state=\"paid\""
        )),
        "the account shows the order paid: {page}"
    );

    // With /account open, admins ship the order, then refund it: the page follows, live.
    let token = crate::visitor::meta(&page, "socket-token")
        .unwrap_or_else(|| panic!("no socket token on /account"));
    let mut tab = Client::connect(&app.socket_url(&token))
        .await
        .unwrap_or_else(|s| panic!("refused {s}"));
    let topic = format!("cart:{}", shopper.cart_id);
    tab.join_ok(&topic, json!({ "serialized": null, "page": "/account" }))
        .await;
    tab.expect(&topic, "cart").await;
    tab.expect(&topic, "new_token").await;
    let admin = reqwest::Client::new();
    for (action, state, words) in [
        ("fulfil", "fulfilled", "has shipped."),
        ("refund", "refunded", "was refunded."),
    ] {
        let moved = admin
            .post(format!("{}/admin/orders/{order_id}/{action}", app.url))
            .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
            .form(&[("tracking", "1Z999AA1"), ("restock", "0")])
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(moved.status(), 200, "{action}");
        // The cart is read again too (a paid order's holds are gone): skip its push.
        let pushed = loop {
            let frame = tab.frame().await;
            if frame.topic == topic && frame.event == "order" {
                break frame.payload;
            }
        };
        assert_eq!(pushed["state"], json!(state), "{pushed}");
        let html = pushed["html"].as_str().unwrap_or_default();
        assert!(
            html.contains(&format!(
                "id=\"order-{order_id}-state\" data-order-state=\"{state}\""
            )),
            "{html}"
        );
        assert_eq!(
            pushed["announce"],
            json!(format!("Order #{order_id} {words}")),
            "{pushed}"
        );
    }
    let page = shopper.visit("/account").await;
    assert!(
        page.contains(&format!(
            "id=\"order-{order_id}-state\" data-order-state=\"refunded\""
        )),
        "a reload shows what was pushed: {page}"
    );

    // Another shopper sees neither the order page nor the account.
    let stranger = app.visitor().await;
    let (status, _) = head(&stranger, &format!("/checkout/complete?order={order_id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_cart_follows_the_shopper_across_browsers() {
    let app = TestApp::start(Backend::Sqlite).await;
    let product = app.product(true).await;
    let ids: Vec<ItemId> = product
        .items
        .iter()
        .filter(|i| i.available_count > 0)
        .map(|i| i.id)
        .take(2)
        .collect();
    let (x, y) = (ids[0], ids[1]);

    // A guest carts a pair, then signs up: the pair stays.
    let mut laptop = app.visitor().await;
    assert_eq!(laptop.add(x).await.0, 303);
    signup(&app.db, &mut laptop, "cart@example.com").await;
    assert!(
        laptop
            .visit("/checkout")
            .await
            .contains(&format!("data-item-id=\"{x}\""))
    );

    // A second browser signs in: same cart topic, same pairs, live.
    let mut phone = app.visitor().await;
    login(&mut phone, "cart@example.com", "/").await;
    assert_eq!(phone.cart_id, laptop.cart_id);
    let (token, cart_id) = crate::ws::socket_token(&phone.http, &app.url).await;
    let mut socket = Client::connect(&app.socket_url(&token))
        .await
        .unwrap_or_else(|status| panic!("refused: {status}"));
    // Its cookie holds nothing: the account's cart is what it gets.
    socket
        .join_ok(&format!("cart:{cart_id}"), json!({ "serialized": "" }))
        .await;
    let pushed = socket.expect(&format!("cart:{cart_id}"), "cart").await;
    assert_eq!(pushed.payload["count"], 1, "{:?}", pushed.payload);
    socket.expect(&format!("cart:{cart_id}"), "new_token").await;

    assert_eq!(laptop.add(y).await.0, 303);
    let mut pushed = socket.expect(&format!("cart:{cart_id}"), "cart").await;
    if pushed.payload["count"] == 1 {
        // The login's own broadcast of the cart (one pair) is routed by the fan-out task, which
        // may reach the topic only after this socket joined: one echo of that state may come
        // first (the full suite once caught it).
        pushed = socket.expect(&format!("cart:{cart_id}"), "cart").await;
    }
    assert_eq!(pushed.payload["count"], 2, "{:?}", pushed.payload);
    let html = pushed.payload["html"].as_str().unwrap_or_default();
    assert!(html.contains(&format!("data-item-id=\"{y}\"")), "{html}");

    // The phone removes a pair over its socket; the laptop's next page shows it gone.
    let topic = format!("cart:{cart_id}");
    let msg_ref = socket
        .push(None, &topic, "remove_item", json!({ "item_id": x.0 }))
        .await;
    assert_eq!(socket.reply_to(&msg_ref).await.0, "ok");
    let mut gone = false;
    for _ in 0..50 {
        let page = laptop.visit("/checkout").await;
        if !page.contains(&format!("data-item-id=\"{x}\"")) {
            gone = true;
            break;
        }
        // The socket saves the account's cart a moment after it replies.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(gone, "the laptop still shows the removed pair");

    // Signing out leaves an empty guest cart.
    let (status, _, _) = submit(&phone, "/account/logout", &[]).await;
    assert_eq!(status, 303);
    let page = phone.visit("/checkout").await;
    assert!(page.contains("Your cart is empty"), "{page}");
    assert_ne!(phone.cart_id, laptop.cart_id);
}

async fn a_limited_drop_sends_guests_to_login_and_holds_its_limit(backend: Backend) {
    let app = TestApp::start(backend).await;
    let product = app.product(true).await;
    set_limit(&app.url, product.id, "1").await;
    let shown = app.inventory_json().await;
    let limited = shown
        .products
        .iter()
        .find(|p| p.id == product.id)
        .unwrap_or_else(|| panic!("product gone"));
    assert_eq!(limited.max_per_customer, Some(1));
    let page = app.get(&format!("/products/{}", product.id)).await.1;
    assert!(page.contains("Limit 1 per customer"), "{page}");
    let ids: Vec<ItemId> = product
        .items
        .iter()
        .filter(|i| i.available_count > 0)
        .map(|i| i.id)
        .take(2)
        .collect();

    // A guest must sign in to hold a pair of it (the limit counts an account's pairs).
    let mut guest = app.visitor().await;
    assert_eq!(
        guest.add(ids[0]).await,
        (303, "/account/login?next=/".to_string())
    );
    signup(&app.db, &mut guest, "limit@example.com").await;
    assert_eq!(guest.add(ids[0]).await, (303, "/".to_string()));
    // The second size of the product is over the limit already in the cart.
    let (status, location) = guest.add(ids[1]).await;
    assert_eq!(status, 303);
    assert!(
        location.ends_with("?cart_error=limit_reached"),
        "{location}"
    );
    let location = guest.checkout().await;
    assert!(
        location.starts_with("/checkout/complete?order="),
        "{location}"
    );

    // Bought one: the next is refused by the form, the socket and the checkout.
    let (_, location) = guest.add(ids[1]).await;
    assert!(
        location.ends_with("?cart_error=limit_reached"),
        "{location}"
    );
    let (token, cart_id) = crate::ws::socket_token(&guest.http, &app.url).await;
    let mut socket = Client::connect(&app.socket_url(&token))
        .await
        .unwrap_or_else(|status| panic!("refused: {status}"));
    let topic = format!("cart:{cart_id}");
    socket.join_ok(&topic, json!({})).await;
    socket.expect(&topic, "cart").await;
    socket.expect(&topic, "new_token").await;
    let msg_ref = socket
        .push(None, &topic, "add_item", json!({ "item_id": ids[1].0 }))
        .await;
    let (status, response) = socket.reply_to(&msg_ref).await;
    assert_eq!(
        (status.as_str(), &response["error"]),
        ("error", &json!("limit_reached"))
    );

    // Raised to 2, a second pair may go; past it the checkout says which product and why.
    set_limit(&app.url, product.id, "2").await;
    assert_eq!(guest.add(ids[1]).await.1, "/");
    set_limit(&app.url, product.id, "1").await;
    let location = guest.checkout().await;
    assert_eq!(location, format!("/checkout?limit={}", product.id));
    let page = guest.visit(&location).await;
    assert!(page.contains("is limited to 1 per customer"), "{page}");
    assert!(page.contains(&product.name), "{page}");

    // Cleared, the pair can be bought.
    set_limit(&app.url, product.id, "").await;
    assert!(
        guest
            .checkout()
            .await
            .starts_with("/checkout/complete?order=")
    );
}

/// Two browsers of one account, on two nodes, check out the same limited pair at once, round
/// after round: each round sells exactly one pair.
async fn the_limit_holds_when_one_account_checks_out_on_two_nodes_at_once(bus: Bus) {
    let (cluster, a, b) = two_nodes(bus).await;
    let db = &cluster.db;
    let inventory = a.admin.inventory().await.unwrap_or_else(|e| panic!("{e}"));
    let product = inventory
        .products
        .iter()
        .find(|p| p.released && p.items.iter().any(|i| i.available_count >= 10))
        .unwrap_or_else(|| panic!("no stocked product"));
    let item = product
        .items
        .iter()
        .find(|i| i.available_count >= 10)
        .map(|i| i.id)
        .unwrap_or_else(|| panic!("no stocked size"));
    set_limit(&a.url, product.id, "1").await;
    let stock = pairs_left(db, item).await;
    const ROUNDS: usize = 5;
    for round in 0..ROUNDS {
        let email = format!("racer{round}@example.com");
        let mut on_a = Visitor::open(&a.url).await;
        signup(&cluster.db, &mut on_a, &email).await;
        let mut on_b = Visitor::open(&b.url).await;
        login(&mut on_b, &email, "/").await;
        assert_eq!(on_a.add(item).await.0, 303);
        // Both browsers pay for the one pair the account holds: one order, paid once, which
        // both are shown (or the cart is empty for the later one).
        let outcomes = join_all([on_a.checkout(), on_b.checkout()]).await;
        let mut orders: Vec<&String> = outcomes
            .iter()
            .filter(|l| l.starts_with("/checkout/complete?order="))
            .collect();
        orders.dedup();
        assert_eq!(orders.len(), 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes.iter().all(|l| l == orders[0] || l == "/checkout"),
            "round {round}: {outcomes:?}"
        );
    }
    // The database's count: a node's cache may still be hearing of the other's last sale.
    let left = pairs_left(db, item).await;
    assert_eq!(stock - left, ROUNDS as i32);
}

crate::on_both_buses!(the_limit_holds_when_one_account_checks_out_on_two_nodes_at_once);

/// Guessing passwords is slowed per account (whatever address it comes from) and per address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_attempts_are_limited_per_account_and_per_address() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.rates.set(
            LimitedAction::Login,
            Per::Session,
            "2/min".parse().unwrap_or_else(|e| panic!("{e}")),
        );
        c.rates.set(
            LimitedAction::Login,
            Per::Address,
            "5/min".parse().unwrap_or_else(|e| panic!("{e}")),
        );
    })
    .await;
    let mut owner = app.visitor().await;
    signup(&app.db, &mut owner, "target@example.com").await;
    let wrong = [
        ("email", "target@example.com"),
        ("password", "not the password"),
    ];
    // Two guesses at one account from two addresses, then the third is refused.
    let first = Visitor::open_from(&app.url, std::net::IpAddr::from([127, 0, 0, 2])).await;
    assert_eq!(submit(&first, "/account/login", &wrong).await.0, 401);
    let second = Visitor::open_from(&app.url, std::net::IpAddr::from([127, 0, 0, 3])).await;
    assert_eq!(submit(&second, "/account/login", &wrong).await.0, 401);
    let (status, _, body) = submit(&second, "/account/login", &wrong).await;
    assert_eq!(status, 429, "{body}");
    // Other accounts from the first address still answer, up to the address's budget (five,
    // one spent above).
    for i in 0..5 {
        let email = format!("other{i}@example.com");
        let form = [("email", email.as_str()), ("password", "not the password")];
        let expected = if i < 4 { 401 } else { 429 };
        assert_eq!(
            submit(&first, "/account/login", &form).await.0,
            expected,
            "guess {i}"
        );
    }
}
