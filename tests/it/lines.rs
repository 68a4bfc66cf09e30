//! Waiting lines: the draw of who joined before the drop, arrival order after it, admission at
//! the line's rate, `not_admitted` before and success after, the cart channel's `queue` pushes
//! and the page that works without JavaScript.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::json;
use sneakers::domain::ProductId;
use sneakers::domain::line::shuffle_key;
use sneakers::domain::token::Tokens;

use sneakers::config::{LimitedAction, Per};

use crate::accounts::{login, signup};
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, SECRET, TestApp};
use crate::on_both_backends;
use crate::visitor::Visitor;
use crate::ws::Client;

on_both_backends!(
    the_draw_orders_early_joiners_and_late_ones_queue_behind,
    the_line_is_let_in_at_its_rate,
    who_left_loses_the_place_after_the_grace_period,
    a_place_is_a_verified_accounts,
    a_line_turned_on_after_the_drop_admits_at_its_pace
);

static MEMBERS: AtomicUsize = AtomicUsize::new(0);

/// A fresh shopper signed in to a verified account of its own (a place is an account's).
pub async fn member(app: &TestApp) -> Visitor {
    member_from(app, std::net::IpAddr::from([127, 0, 0, 1])).await
}

async fn member_from(app: &TestApp, from: std::net::IpAddr) -> Visitor {
    named_member(app, from).await.0
}

/// A [`member`] and its email.
pub async fn named_member(app: &TestApp, from: std::net::IpAddr) -> (Visitor, String) {
    let email = format!(
        "member{}@example.com",
        MEMBERS.fetch_add(1, Ordering::Relaxed)
    );
    let mut visitor = Visitor::open_from(&app.url, from).await;
    signup(&app.db, &mut visitor, &email).await;
    (visitor, email)
}

/// An unreleased product with no schedule, given a line letting in `per_minute`.
pub async fn lined_product(app: &TestApp, per_minute: u32) -> ProductId {
    let product = app.product(false).await;
    let response = app
        .http
        .post(format!("{}/admin/products/{}/queue", app.url, product.id))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .form(&[
            ("enabled", "1"),
            ("admit_per_minute", &per_minute.to_string()),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200);
    product.id
}

pub async fn join(visitor: &Visitor, product: ProductId) {
    let (status, location) = visitor
        .post(&format!("/products/{product}/line"), &[])
        .await;
    assert_eq!(
        (status, location),
        (303, format!("/products/{product}/line"))
    );
}

/// `data-position` and `data-admitted` of the shopper's panel on a page.
fn panel(html: &str, product: ProductId) -> (u32, bool) {
    let start = html
        .find(&format!("id=\"queue-{product}\""))
        .unwrap_or_else(|| panic!("no queue panel: {html}"));
    let tag = &html[start..start + html[start..].find('>').unwrap_or(0)];
    let attr = |name: &str| {
        let prefix = format!("{name}=\"");
        let at = tag
            .find(&prefix)
            .unwrap_or_else(|| panic!("no {name}: {tag}"))
            + prefix.len();
        tag[at..at + tag[at..].find('"').unwrap_or(0)].to_string()
    };
    (
        attr("data-position")
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
        attr("data-admitted") == "true",
    )
}

pub async fn release(app: &TestApp, product: ProductId) {
    app.admin
        .release(&product.to_string())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// A socket on the visitor's cart channel; returns it and the topic.
pub async fn cart_socket(app: &TestApp, visitor: &Visitor) -> (Client, String) {
    let (token, cart_id) = crate::ws::socket_token(&visitor.http, &app.url).await;
    let mut socket = Client::connect(&app.socket_url(&token))
        .await
        .unwrap_or_else(|status| panic!("refused: {status}"));
    let topic = format!("cart:{cart_id}");
    socket.join_ok(&topic, json!({})).await;
    (socket, topic)
}

/// The next `queue` push for `product` (other pushes skipped): `(position, admitted)`.
pub async fn next_place(socket: &mut Client, product: ProductId) -> (u32, bool) {
    loop {
        let frame = socket.frame().await;
        if frame.event == "queue" && frame.payload["product_id"] == json!(product.0) {
            let html = frame.payload["html"].as_str().unwrap_or_default();
            let (position, admitted) = panel(html, product);
            assert_eq!(frame.payload["position"], json!(position));
            assert_eq!(frame.payload["admitted"], json!(admitted));
            return (position, admitted);
        }
    }
}

async fn the_draw_orders_early_joiners_and_late_ones_queue_behind(backend: Backend) {
    let app = TestApp::start(backend).await;
    // One a minute: after the drop only the first of the line is in during this test.
    let product = lined_product(&app, 1).await;
    let mut early = Vec::new();
    for _ in 0..6 {
        let mut visitor = member(&app).await;
        join(&visitor, product).await;
        // Joining twice keeps the place.
        join(&visitor, product).await;
        let page = visitor.visit(&format!("/products/{product}/line")).await;
        assert!(page.contains("Places are drawn at random"), "{page}");
        assert!(page.contains("http-equiv=\"refresh\""), "{page}");
        early.push(visitor);
    }
    // The first of the draw watches for the moment the line opens.
    let tokens = Tokens::new(SECRET);
    let key = |v: &Visitor| shuffle_key(&tokens.line_draw, product, &v.cart_id);
    early.sort_by_key(key);
    let (mut first, _) = cart_socket(&app, &early[0]).await;
    assert_eq!(next_place(&mut first, product).await, (0, false));
    release(&app, product).await;
    while next_place(&mut first, product).await != (0, true) {}

    let mut late = Vec::new();
    for _ in 0..2 {
        let visitor = member(&app).await;
        join(&visitor, product).await;
        late.push(visitor);
    }
    for (place, visitor) in early.iter_mut().chain(late.iter_mut()).enumerate() {
        let page = visitor.visit(&format!("/products/{product}/line")).await;
        let expected = (u32::try_from(place).unwrap_or(u32::MAX), place == 0);
        assert_eq!(panel(&page, product), expected, "place {place}");
        // The product page carries the same panel.
        let page = visitor.visit(&format!("/products/{product}")).await;
        assert_eq!(
            panel(&page, product),
            expected,
            "place {place} on the product page"
        );
    }
    let inventory = app.inventory_json().await;
    let shown = inventory
        .products
        .iter()
        .find(|p| p.id == product)
        .unwrap_or_else(|| panic!("product gone"));
    assert_eq!(
        (shown.queue, shown.line_waiting, shown.line_admitted),
        (true, 7, 1)
    );
}

async fn the_line_is_let_in_at_its_rate(backend: Backend) {
    let app = TestApp::start(backend).await;
    // One every half second.
    let product = lined_product(&app, 120).await;
    let mut visitors = Vec::new();
    for _ in 0..5 {
        let visitor = member(&app).await;
        join(&visitor, product).await;
        visitors.push(visitor);
    }
    let tokens = Tokens::new(SECRET);
    visitors.sort_by_key(|v| shuffle_key(&tokens.line_draw, product, &v.cart_id));
    let last = visitors.last().unwrap_or_else(|| panic!("five visitors"));
    let (mut socket, topic) = cart_socket(&app, last).await;
    assert_eq!(
        next_place(&mut socket, product).await,
        (0, false),
        "before the drop nobody has a number"
    );
    let item = app
        .inventory_json()
        .await
        .products
        .into_iter()
        .find(|p| p.id == product)
        .and_then(|p| p.items.into_iter().find(|i| i.available_count > 0))
        .map(|i| i.id)
        .unwrap_or_else(|| panic!("nothing in stock"));
    release(&app, product).await;
    let released = Instant::now();

    // Not let in yet: the form and the socket refuse the pair.
    let (_, location) = last.add(item).await;
    assert!(location.ends_with("?cart_error=not_admitted"), "{location}");
    let msg_ref = socket
        .push(None, &topic, "add_item", json!({ "item_id": item.0 }))
        .await;
    let refused = loop {
        let frame = socket.frame().await;
        if frame.event == "phx_reply" && frame.msg_ref == json!(msg_ref) {
            break frame.payload;
        }
    };
    assert_eq!(refused["response"]["error"], "not_admitted", "{refused}");

    // Its place falls as the line moves, then it is let in.
    let mut positions = Vec::new();
    let admitted_after = loop {
        let (position, admitted) = next_place(&mut socket, product).await;
        positions.push(position);
        if admitted {
            break released.elapsed();
        }
    };
    assert!(
        positions.windows(2).all(|w| w[1] < w[0]),
        "positions only fall: {positions:?}"
    );
    assert!(positions.len() >= 2, "{positions:?}");
    // The fifth of the line is let in 4 × 0.5 s after the drop, give or take a tick.
    let expected = std::time::Duration::from_millis(2000);
    assert!(
        admitted_after + std::time::Duration::from_millis(600) >= expected
            && admitted_after <= expected + std::time::Duration::from_millis(2500),
        "let in after {admitted_after:?}"
    );
    let msg_ref = socket
        .push(None, &topic, "add_item", json!({ "item_id": item.0 }))
        .await;
    let ok = loop {
        let frame = socket.frame().await;
        if frame.event == "phx_reply" && frame.msg_ref == json!(msg_ref) {
            break frame.payload;
        }
    };
    assert_eq!(ok["status"], "ok", "{ok}");
}

async fn who_left_loses_the_place_after_the_grace_period(backend: Backend) {
    let app = TestApp::start_with(backend, |config| {
        config.line_grace = std::time::Duration::from_secs(1);
    })
    .await;
    let product = lined_product(&app, 1).await;
    // Three join; only one keeps a page open.
    let mut visitors = Vec::new();
    for _ in 0..3 {
        let visitor = member(&app).await;
        join(&visitor, product).await;
        visitors.push(visitor);
    }
    let tokens = Tokens::new(SECRET);
    visitors.sort_by_key(|v| shuffle_key(&tokens.line_draw, product, &v.cart_id));
    // The last of the draw stays; the first is let in at the drop (and keeps that).
    let stays = visitors.last().unwrap_or_else(|| panic!("three visitors"));
    let (mut socket, _) = cart_socket(&app, stays).await;
    assert_eq!(next_place(&mut socket, product).await, (0, false));
    release(&app, product).await;
    // Third at the drop, then second, then first in line once the one who left is dropped.
    let mut last = (u32::MAX, false);
    while last != (1, false) {
        last = next_place(&mut socket, product).await;
        assert!(!last.1, "only one is let in a minute");
    }
    let shown = app
        .inventory_json()
        .await
        .products
        .into_iter()
        .find(|p| p.id == product)
        .unwrap_or_else(|| panic!("product gone"));
    assert_eq!((shown.line_waiting, shown.line_admitted), (1, 1));
}

/// Bad admin forms for lines and limits get the store's own JSON error; a line that does not
/// exist is the store's 404 page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_line_and_limit_settings_are_refused_in_the_stores_words() {
    let app = TestApp::start(Backend::Sqlite).await;
    let product = app.product(true).await.id;
    for (path, form, code) in [
        ("limit", vec![("max", "-1")], "invalid_limit"),
        ("limit", vec![("max", "1000")], "invalid_limit"),
        ("queue", vec![("enabled", "maybe")], "invalid_queue"),
        (
            "queue",
            vec![("enabled", "1"), ("admit_per_minute", "0")],
            "invalid_queue",
        ),
    ] {
        let response = app
            .http
            .post(format!("{}/admin/products/{product}/{path}", app.url))
            .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
            .form(&form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), 422, "{path} {form:?}");
        let body: serde_json::Value = response.json().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body["error"], code, "{body}");
    }
    // A product without a line has no line page, and joining it is refused the same way.
    let visitor = app.visitor().await;
    let (status, page) = app.get(&format!("/products/{product}/line")).await;
    assert_eq!(status, 404);
    assert!(page.contains("waiting line"), "{page}");
    assert_eq!(
        visitor
            .post(&format!("/products/{product}/line"), &[])
            .await
            .0,
        404
    );
}

/// Places in a line are verified accounts': a guest is sent to sign in, an account that has not
/// verified its email to do so, and an account's browsers share one place.
async fn a_place_is_a_verified_accounts(backend: Backend) {
    let app = TestApp::start(backend).await;
    let product = lined_product(&app, 1).await;
    let line = format!("/products/{product}/line");

    let guest = app.visitor().await;
    let (status, location) = guest.post(&line, &[]).await;
    assert_eq!(
        (status, location),
        (303, format!("/account/login?next=/products/{product}"))
    );

    let here = std::net::IpAddr::from([127, 0, 0, 1]);
    let (unverified, email) = named_member(&app, here).await;
    // As an account from before verification existed.
    {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use sneakers::store::schema::accounts;
        let mut conn = app.db.get().await.unwrap_or_else(|e| panic!("{e}"));
        sneakers::with_conn!(conn, |c| {
            diesel::update(accounts::table.filter(accounts::email.eq(&email)))
                .set(accounts::verified_ms.eq(None::<i64>))
                .execute(c)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        });
    }
    let (status, location) = unverified.post(&line, &[]).await;
    assert_eq!((status, location.as_str()), (303, "/account?verify=needed"));

    // One account in two browsers: one place.
    let (laptop, laptop_email) = named_member(&app, here).await;
    join(&laptop, product).await;
    let mut phone = app.visitor().await;
    login(&mut phone, &laptop_email, "/").await;
    join(&phone, product).await;

    let shown = app
        .inventory_json()
        .await
        .products
        .into_iter()
        .find(|p| p.id == product)
        .unwrap_or_else(|| panic!("product gone"));
    assert_eq!(shown.line_waiting, 1, "one place: the verified account's");
}

/// Joining lines is limited per address, however many accounts it has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_joins_are_limited_per_address() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        let rate = "3/min".parse().unwrap_or_else(|e| panic!("{e}"));
        c.rates.set(LimitedAction::Line, Per::Address, rate);
    })
    .await;
    let product = lined_product(&app, 1).await;
    let line = format!("/products/{product}/line");
    let crowd = std::net::IpAddr::from([127, 0, 0, 40]);
    for n in 0..4 {
        let visitor = member_from(&app, crowd).await;
        let (status, _) = visitor.post(&line, &[]).await;
        assert_eq!(status, if n < 3 { 303 } else { 429 }, "join {n}");
    }
    let elsewhere = member_from(&app, std::net::IpAddr::from([127, 0, 0, 41])).await;
    join(&elsewhere, product).await;
}

crate::on_both_buses!(two_nodes_let_a_line_in_at_its_rate_not_twice_it);

/// Two nodes both tick the line: together they let it in at its rate, not at twice it, and a
/// shopper who joined on one node hears its place fall and its turn come on the other.
async fn two_nodes_let_a_line_in_at_its_rate_not_twice_it(bus: crate::nodes::Bus) {
    let (cluster, a, b) = crate::nodes::two_nodes(bus).await;
    let product = a
        .admin
        .inventory()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .products
        .into_iter()
        .find(|p| !p.released)
        .map(|p| p.id)
        .unwrap_or_else(|| panic!("an unreleased product"));
    // One a second.
    let response = a
        .http
        .post(format!("{}/admin/products/{product}/queue", a.url))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .form(&[("enabled", "1"), ("admit_per_minute", "60")])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200);
    let mut visitors = Vec::new();
    for n in 0..5 {
        // Members sign up and join on either node.
        let node = if n % 2 == 0 { &a } else { &b };
        let email = format!(
            "member{}@example.com",
            MEMBERS.fetch_add(1, Ordering::Relaxed)
        );
        let mut visitor = Visitor::open(&node.url).await;
        signup(&cluster.db, &mut visitor, &email).await;
        let (status, location) = visitor
            .post(&format!("/products/{product}/line"), &[])
            .await;
        assert_eq!(
            (status, location),
            (303, format!("/products/{product}/line"))
        );
        visitors.push(visitor);
    }
    let tokens = Tokens::new(SECRET);
    visitors.sort_by_key(|v| shuffle_key(&tokens.line_draw, product, &v.cart_id));
    let last = visitors.last().unwrap_or_else(|| panic!("five visitors"));
    // The last of the draw watches on B (the session cookie is good on every node).
    let (token, cart_id) = crate::ws::socket_token(&last.http, &b.url).await;
    let mut socket =
        Client::connect(&b.ws_url(&format!("/socket/websocket?vsn=2.0.0&token={token}")))
            .await
            .unwrap_or_else(|status| panic!("refused: {status}"));
    socket.join_ok(&format!("cart:{cart_id}"), json!({})).await;
    assert_eq!(next_place(&mut socket, product).await, (0, false));
    a.admin
        .release(&product.to_string())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let released = Instant::now();
    let mut positions = Vec::new();
    let admitted_after = loop {
        let (position, admitted) = next_place(&mut socket, product).await;
        positions.push(position);
        if admitted {
            break released.elapsed();
        }
    };
    assert!(
        positions.windows(2).all(|w| w[1] < w[0]),
        "positions only fall: {positions:?}"
    );
    // The fifth is let in 4 × 1 s after the drop, give or take a tick; two nodes each letting
    // in at the rate would have taken 2 s.
    assert!(
        admitted_after >= std::time::Duration::from_millis(3300)
            && admitted_after <= std::time::Duration::from_millis(6500),
        "let in after {admitted_after:?}"
    );
}

/// Turns a product's line on at `per_minute`.
async fn turn_line_on(app: &TestApp, product: ProductId, per_minute: u32) {
    let response = app
        .http
        .post(format!("{}/admin/products/{product}/queue", app.url))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .form(&[
            ("enabled", "1"),
            ("admit_per_minute", &per_minute.to_string()),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200);
}

/// Whether the visitor's line page shows them let in.
async fn let_in(visitor: &mut Visitor, product: ProductId) -> bool {
    panel(
        &visitor.visit(&format!("/products/{product}/line")).await,
        product,
    )
    .1
}

/// Adds a pair of `product` and checks out: where checkout sent the visitor.
async fn buy_one(app: &TestApp, visitor: &Visitor, product: ProductId) -> String {
    let item = app
        .inventory_json()
        .await
        .products
        .into_iter()
        .find(|p| p.id == product)
        .and_then(|p| p.items.into_iter().find(|i| i.available_count > 0))
        .map(|i| i.id)
        .unwrap_or_else(|| panic!("nothing in stock"));
    let (_, location) = visitor.add(item).await;
    assert!(!location.contains("cart_error"), "{location}");
    visitor.checkout().await
}

/// A line turned on for a product released long ago lets in from that moment at its rate
/// (12 joiners at 60 a minute: not 8 within 2 s), and those let in can buy; a product released
/// without a release time (as seeded) admits too.
async fn a_line_turned_on_after_the_drop_admits_at_its_pace(backend: Backend) {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use futures_util::future::join_all;
    use sneakers::store::schema::products;

    let app = TestApp::start(backend).await;
    let catalog = app.inventory_json().await.products;
    let without_line = |released: bool| {
        catalog
            .iter()
            .find(|p| p.released == released && !p.queue)
            .map(|p| p.id)
            .unwrap_or_else(|| panic!("no product with released={released} and no line"))
    };
    let (product, seeded) = (without_line(false), without_line(true));
    release(&app, product).await;
    // Released ten minutes ago: at 60 a minute, pacing from the drop would let 600 in at once.
    {
        let ago = (chrono::Utc::now() - chrono::Duration::minutes(10)).naive_utc();
        let mut conn = app.db.get().await.unwrap_or_else(|e| panic!("{e}"));
        sneakers::with_conn!(conn, |c| {
            diesel::update(products::table.filter(products::id.eq(product.0)))
                .set(products::released_at.eq(Some(ago)))
                .execute(c)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        });
    }
    let mut joiners = Vec::new();
    for _ in 0..12 {
        joiners.push(member(&app).await);
    }
    turn_line_on(&app, product, 60).await;
    let started = Instant::now();
    join_all(joiners.iter().map(|v| join(v, product))).await;
    // Nothing to wait on: the pace is a matter of time.
    tokio::time::sleep(std::time::Duration::from_secs(2).saturating_sub(started.elapsed())).await;
    let admitted = app
        .inventory_json()
        .await
        .products
        .into_iter()
        .find(|p| p.id == product)
        .map(|p| p.line_admitted)
        .unwrap_or_else(|| panic!("product gone"));
    assert!(
        admitted <= 3,
        "{admitted} of 12 let in within 2 s of the line starting, at 60 a minute"
    );
    // Those let in can buy.
    let (mut socket, _) = cart_socket(&app, &joiners[0]).await;
    let mut first = None;
    while first.is_none() {
        for (n, joiner) in joiners.iter_mut().enumerate() {
            if let_in(joiner, product).await {
                first = Some(n);
                break;
            }
        }
        if first.is_none() {
            // The next move of the line (any place) comes as a push to the first joiner.
            next_place(&mut socket, product).await;
        }
    }
    let buyer = &joiners[first.unwrap_or_default()];
    let done = buy_one(&app, buyer, product).await;
    assert!(done.starts_with("/checkout/complete"), "{done}");

    // Seeded as released, with no release time: the line still lets its first in.
    turn_line_on(&app, seeded, 60).await;
    let mut shopper = member(&app).await;
    join(&shopper, seeded).await;
    let (mut socket, _) = cart_socket(&app, &shopper).await;
    let wait = async { while next_place(&mut socket, seeded).await != (0, true) {} };
    tokio::time::timeout(std::time::Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("nobody let in from the line of a released product"));
    assert!(let_in(&mut shopper, seeded).await);
    let done = buy_one(&app, &shopper, seeded).await;
    assert!(done.starts_with("/checkout/complete"), "{done}");
}
