//! Draws: entering with the card authorised (test gateway), withdrawing, the refusals, the
//! draw at close (one pair per size down the published order, void entries told why,
//! winners charged and given a paid order, the rest released), the results pushed to the
//! shoppers' open sockets, `/account`'s list, and `draw.json` recomputed by the test.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use sneakers::domain::draw::Window;
use sneakers::domain::{ItemId, ProductId};
use sneakers::store::schema::{orders, test_gateway_charges};
use sneakers::with_conn;

use crate::accounts::signup;
use crate::admin_catalog::{form_fields, new_product, set};
use crate::helpers::{Backend, TestApp, pairs_left};
use crate::on_both_backends;
use crate::visitor::Visitor;
use crate::ws::Client;

on_both_backends!(
    a_draw_takes_entries_then_tells_each_entrant_the_result,
    bad_entries_are_refused_and_leave_nothing,
    the_admin_sets_a_draw_in_the_product_form_and_watches_it,
    a_thousand_entries_from_one_address_are_refused
);

static ENTRANTS: AtomicUsize = AtomicUsize::new(0);

/// A fresh shopper signed in to a verified account of its own.
pub(crate) async fn entrant(app: &TestApp) -> Visitor {
    let email = format!(
        "entrant{}@example.com",
        ENTRANTS.fetch_add(1, Ordering::Relaxed)
    );
    let mut visitor = Visitor::open(&app.url).await;
    signup(&app.db, &mut visitor, &email).await;
    visitor
}

/// An unreleased product in draw mode, open from a minute ago for an hour.
pub(crate) async fn drawn_product(app: &TestApp) -> (ProductId, Vec<ItemId>) {
    let product = app.product(false).await;
    open_window(app, product.id, Duration::hours(1)).await;
    let items = product.items.iter().map(|i| i.id).collect();
    (product.id, items)
}

/// Sets an unreleased item's pairs (sales are refused before a release) in the database.
pub(crate) async fn stock(app: &TestApp, item: ItemId, count: i32) {
    let now = pairs_left(&app.db, item).await;
    sneakers::store::catalog::adjust_stock(&app.db, item, count - now)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("stock of {item} refused"));
    app.inventory()
        .reload()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

pub(crate) async fn open_window(app: &TestApp, product: ProductId, closes_in: Duration) {
    let now = Utc::now();
    let window =
        Window::new(now - Duration::minutes(1), now + closes_in).unwrap_or_else(|e| panic!("{e}"));
    app.inventory()
        .configure_draw(product, Some(window))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Closes the window now: every node's ticker makes the draw within a second.
pub(crate) async fn close(app: &TestApp, product: ProductId) {
    open_window(app, product, Duration::milliseconds(1)).await;
}

fn entry_form<'a>(item: &'a str, card: &'a str, street: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("item_id", item),
        ("email", "entrant@example.com"),
        ("name", "Ada Lovelace"),
        ("address_line1", street),
        ("address_line2", ""),
        ("city", "London"),
        ("postal_code", "SW1Y 4JH"),
        ("country", "GB"),
        ("card_number", card),
        ("card_exp", "12/34"),
        ("card_cvc", "123"),
    ]
}

async fn enter(
    visitor: &Visitor,
    product: ProductId,
    item: ItemId,
    card: &str,
    street: &str,
) -> (u16, String) {
    let item = item.to_string();
    visitor
        .post(
            &format!("/products/{product}/entries"),
            &entry_form(&item, card, street),
        )
        .await
}

/// A socket on the visitor's cart channel.
pub(crate) async fn cart_socket(app: &TestApp, visitor: &Visitor) -> Client {
    let (token, cart_id) = crate::ws::socket_token(&visitor.http, &app.url).await;
    let mut socket = Client::connect(&app.socket_url(&token))
        .await
        .unwrap_or_else(|status| panic!("refused: {status}"));
    socket.join_ok(&format!("cart:{cart_id}"), json!({})).await;
    socket
}

/// The next `draw` push (other pushes skipped).
pub(crate) async fn next_result(socket: &mut Client, product: ProductId) -> Value {
    loop {
        let frame = socket.frame().await;
        if frame.event == "draw" && frame.payload["product_id"] == json!(product.0) {
            return frame.payload;
        }
    }
}

/// `data-standing` of the shopper's part of the panel on a page.
fn standing(html: &str, product: ProductId) -> String {
    let start = html
        .find(&format!("id=\"draw-{product}-mine\""))
        .unwrap_or_else(|| panic!("no draw panel: {html}"));
    let tag = &html[start..start + html[start..].find('>').unwrap_or(0)];
    let at = tag
        .find("data-standing=\"")
        .unwrap_or_else(|| panic!("no standing: {tag}"))
        + "data-standing=\"".len();
    tag[at..at + tag[at..].find('"').unwrap_or(0)].to_string()
}

/// What the test gateway's ledger holds: charges per status.
async fn charges(app: &TestApp) -> HashMap<String, i64> {
    let mut conn = app.db.get().await.unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<(String, i64)> = with_conn!(conn, |c| {
        test_gateway_charges::table
            .group_by(test_gateway_charges::status)
            .select((test_gateway_charges::status, diesel::dsl::count_star()))
            .load(c)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    });
    rows.into_iter().collect()
}

async fn paid_orders(app: &TestApp) -> i64 {
    let mut conn = app.db.get().await.unwrap_or_else(|e| panic!("{e}"));
    with_conn!(conn, |c| {
        orders::table
            .filter(orders::state.eq("paid"))
            .count()
            .get_result(c)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    })
}

/// The published draw, recomputed as anyone could: HMAC-SHA256 keyed by the secret's text
/// over `sneakers line draw: <product>|<hash>`, ascending. Returns the hashes in draw order.
async fn checked_draw(app: &TestApp, product: ProductId) -> Vec<String> {
    let (status, body) = app.get(&format!("/products/{product}/draw.json")).await;
    assert_eq!(status, 200, "{body}");
    let published: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let secret = published["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("no secret: {published}"));
    let entries: Vec<String> = published["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("no entries: {published}"))
        .iter()
        .map(|h| h.as_str().unwrap_or_default().to_string())
        .collect();
    let mut recomputed: Vec<(String, String)> = entries
        .iter()
        .map(|hash| {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
            mac.update(format!("sneakers line draw: {product}|{hash}").as_bytes());
            let key: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (key, hash.clone())
        })
        .collect();
    recomputed.sort();
    let recomputed: Vec<String> = recomputed.into_iter().map(|(_, h)| h).collect();
    assert_eq!(recomputed, entries, "the published order is the secret's");
    entries
}

fn hash_on(html: &str) -> String {
    let at = html
        .find("Your entry's hash: <code>")
        .unwrap_or_else(|| panic!("no hash: {html}"))
        + "Your entry's hash: <code>".len();
    html[at..at + 64].to_string()
}

async fn a_draw_takes_entries_then_tells_each_entrant_the_result(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (product, items) = drawn_product(&app).await;
    let (small, large) = (items[0], items[1]);
    stock(&app, small, 1).await;
    stock(&app, large, 1).await;
    let page = format!("/products/{product}");

    // Ada enters for the small size, withdraws, then enters again for the large one.
    let mut ada = entrant(&app).await;
    assert!(
        ada.visit(&page)
            .await
            .contains(&format!("action=\"/products/{product}/entries\""))
    );
    assert_eq!(
        enter(&ada, product, small, "4242424242424242", "1 Ada Street").await,
        (303, page.clone())
    );
    assert_eq!(standing(&ada.visit(&page).await, product), "entered");
    // A second entry is refused: one per account.
    assert_eq!(
        enter(&ada, product, large, "4242424242424242", "1 Ada Street")
            .await
            .0,
        409
    );
    assert_eq!(
        ada.post(&format!("/products/{product}/entries/withdraw"), &[])
            .await,
        (303, page.clone())
    );
    assert_eq!(standing(&ada.visit(&page).await, product), "withdrawn");
    assert_eq!(
        enter(&ada, product, large, "4242424242424242", "1 Ada Street").await,
        (303, page.clone())
    );
    let ada_page = ada.visit(&page).await;
    assert_eq!(standing(&ada_page, product), "entered");
    assert!(ada_page.contains("card ending 4242"), "{ada_page}");
    let ada_hash = hash_on(&ada_page);

    // Grace enters for the large size too; Cat for the small one; Bob with Ada's card.
    let mut grace = entrant(&app).await;
    grace.visit(&page).await;
    assert_eq!(
        enter(&grace, product, large, "5555555555554444", "2 Grace Road")
            .await
            .0,
        303
    );
    let grace_hash = hash_on(&grace.visit(&page).await);
    let mut cat = entrant(&app).await;
    cat.visit(&page).await;
    assert_eq!(
        enter(&cat, product, small, "378282246310005", "3 Cat Lane")
            .await
            .0,
        303
    );
    let mut bob = entrant(&app).await;
    bob.visit(&page).await;
    assert_eq!(
        enter(&bob, product, small, "4242 4242 4242 4242", "4 Bob Close")
            .await
            .0,
        303
    );
    // Entered: every card authorised, one (Ada's first) released, nothing charged.
    let ledger = charges(&app).await;
    assert_eq!(ledger.get("succeeded"), None, "{ledger:?}");
    assert_eq!(ledger.get("requires_capture"), Some(&4), "{ledger:?}");

    let mut sockets = Vec::new();
    for visitor in [&ada, &grace, &cat, &bob] {
        sockets.push(cart_socket(&app, visitor).await);
    }
    let mut page_socket = app.client().await;
    let product_topic = format!("product:{product}");
    page_socket.join_ok(&product_topic, json!({})).await;
    let paid_before = paid_orders(&app).await;
    close(&app, product).await;
    let mut results = Vec::new();
    for socket in &mut sockets {
        let result = next_result(socket, product).await;
        assert!(
            result["html"]
                .as_str()
                .is_some_and(|h| h.contains(&format!("draw-{product}-mine")))
        );
        results.push(result["standing"].as_str().unwrap_or_default().to_string());
    }
    // Every page of the product hears that the draw is made.
    loop {
        let frame = page_socket.frame().await;
        if frame.event == "draw_made" {
            assert!(
                frame.payload["html"]
                    .as_str()
                    .is_some_and(|h| h.contains("The draw is made"))
            );
            break;
        }
    }
    // Bob shared Ada's card: void, told why. Cat alone for the small pair: won. One of Ada
    // and Grace won the large pair: the first of them in the published order.
    assert_eq!(results[3], "void:same_card");
    assert_eq!(results[2], "won");
    let order = checked_draw(&app, product).await;
    assert_eq!(order.len(), 3, "Bob's void entry takes no part: {order:?}");
    let ada_first =
        order.iter().position(|h| *h == ada_hash) < order.iter().position(|h| *h == grace_hash);
    let (ada_expected, grace_expected) = if ada_first {
        ("won", "lost")
    } else {
        ("lost", "won")
    };
    assert_eq!(
        (results[0].as_str(), results[1].as_str()),
        (ada_expected, grace_expected)
    );

    // The pages say the same after a reload; the winner's account lists a paid order.
    assert_eq!(standing(&bob.visit(&page).await, product), "void:same_card");
    assert_eq!(standing(&cat.visit(&page).await, product), "won");
    let account = cat.visit("/account").await;
    assert!(account.contains("You won"), "{account}");
    assert_eq!(paid_orders(&app).await, paid_before + 2);
    assert_eq!(pairs_left(&app.db, small).await, 0);
    assert_eq!(pairs_left(&app.db, large).await, 0);
    // Two captured, the other three authorisations released.
    let ledger = charges(&app).await;
    assert_eq!(ledger.get("succeeded"), Some(&2), "{ledger:?}");
    assert_eq!(ledger.get("canceled"), Some(&3), "{ledger:?}");
    assert_eq!(ledger.get("requires_capture"), None, "{ledger:?}");
    // After close nobody enters or withdraws.
    let mut late = entrant(&app).await;
    late.visit(&page).await;
    assert_eq!(
        enter(&late, product, small, "6011111111111117", "5 Late Row")
            .await
            .0,
        409
    );
    assert_eq!(
        grace
            .post(&format!("/products/{product}/entries/withdraw"), &[])
            .await
            .0,
        409
    );
}

async fn bad_entries_are_refused_and_leave_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (product, items) = drawn_product(&app).await;
    let page = format!("/products/{product}");
    // A guest is sent to sign in.
    let mut guest = Visitor::open(&app.url).await;
    guest.visit(&page).await;
    assert_eq!(
        enter(&guest, product, items[0], "4242424242424242", "1 A St").await,
        (303, format!("/account/login?next=/products/{product}"))
    );
    let mut ada = entrant(&app).await;
    ada.visit(&page).await;
    // A size of another product, a forged form, bad fields, a declined card.
    let other = app.product(true).await.items[0].id;
    assert_eq!(
        enter(&ada, product, other, "4242424242424242", "1 A St")
            .await
            .0,
        422
    );
    let item = items[0].to_string();
    let forged = ada
        .post_raw(
            &format!("/products/{product}/entries"),
            &entry_form(&item, "4242424242424242", "1 A St"),
        )
        .await;
    assert_eq!(forged.0, 403);
    let (status, _) = ada
        .post(
            &format!("/products/{product}/entries"),
            &[("item_id", &item), ("card_number", "1234")],
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        enter(&ada, product, items[0], "4000000000000002", "1 A St")
            .await
            .0,
        402
    );
    // A product without a draw has no entries.
    let plain = app.product(true).await.id;
    assert_eq!(
        enter(&ada, plain, other, "4242424242424242", "1 A St")
            .await
            .0,
        404
    );
    // Nothing was entered: the page still offers the form, nothing is held at the provider.
    assert_eq!(standing(&ada.visit(&page).await, product), "none");
    let ledger = charges(&app).await;
    assert_eq!(ledger.get("requires_capture"), None, "{ledger:?}");
    // A draw's pairs are not for carts.
    let (status, location) = ada.add(items[0]).await;
    assert_eq!(status, 303);
    assert!(location.contains("cart_error"), "{location}");
}

/// The next `draw_entries` push for the product's admin panel, as its html.
async fn next_admin_panel(admin: &mut Client, product: ProductId) -> String {
    loop {
        let frame = admin.frame().await;
        if frame.event == "draw_entries" && frame.payload["product_id"] == json!(product.0) {
            return frame.payload["html"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
    }
}

/// The entries the admin panel shows for a size.
fn entries_shown(panel: &str, size: &str) -> String {
    let row = panel
        .find(&format!("data-size=\"{size}\""))
        .unwrap_or_else(|| panic!("no row for {size}: {panel}"));
    let cell = row
        + panel[row..]
            .find("data-entries>")
            .unwrap_or_else(|| panic!("no count: {panel}"))
        + "data-entries>".len();
    panel[cell..cell + panel[cell..].find('<').unwrap_or(0)].to_string()
}

async fn the_admin_sets_a_draw_in_the_product_form_and_watches_it(backend: Backend) {
    let app = TestApp::start(backend).await;
    let minute = |at: chrono::DateTime<Utc>| at.format("%Y-%m-%dT%H:%M").to_string();
    let now = Utc::now();
    // A window closing in the past is refused beside its field, and nothing is made.
    let mut fields = new_product("DRAW-FORM-1", "soon");
    set(&mut fields, "draw_state", "open");
    set(&mut fields, "draw", "1");
    set(&mut fields, "draw_opens", &minute(now - Duration::hours(2)));
    set(
        &mut fields,
        "draw_closes",
        &minute(now - Duration::hours(1)),
    );
    let (status, _, body) = app.admin_post("/admin/products", &fields).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("entries must close in the future"), "{body}");
    // Open from a minute ago for an hour, in the admin's time zone (here UTC).
    set(
        &mut fields,
        "draw_opens",
        &minute(now - Duration::minutes(1)),
    );
    set(
        &mut fields,
        "draw_closes",
        &minute(now + Duration::hours(1)),
    );
    let (status, location, body) = app.admin_post("/admin/products", &fields).await;
    assert_eq!(status, 303, "{body}");
    let product = ProductId(
        location
            .strip_prefix("/admin/products/")
            .and_then(|rest| rest.split('/').next())
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("created: {location}")),
    );
    let (_, edit) = app.admin_get(&location).await;
    let shown = form_fields(&edit, "product-form");
    let value = |name: &str| {
        shown
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(value("draw"), "1", "the form shows draw mode on");
    assert_eq!(value("draw_closes"), minute(now + Duration::hours(1)));
    assert!(
        edit.contains(&format!("id=\"draw-admin-{product}\"")),
        "{edit}"
    );
    assert_eq!(entries_shown(&edit, "US 9"), "0");
    // Saving the form unchanged keeps the draw; the shop page offers entries.
    let (status, _, body) = app
        .admin_post(&format!("/admin/products/{product}"), &shown)
        .await;
    assert_eq!(status, 303, "{body}");
    let page = format!("/products/{product}");
    let items = app
        .inventory()
        .read(|c| {
            c.product(product)
                .map(|p| p.items.iter().map(|i| i.id).collect::<Vec<_>>())
        })
        .unwrap_or_default();
    stock(&app, items[0], 1).await;

    // The admin's page hears each entry and withdrawal, counted per size.
    let (mut admin, _) = app.admin_watching().await;
    let mut ada = entrant(&app).await;
    ada.visit(&page).await;
    assert_eq!(
        enter(&ada, product, items[0], "4242424242424242", "1 Ada Street").await,
        (303, page.clone())
    );
    assert_eq!(
        entries_shown(&next_admin_panel(&mut admin, product).await, "US 9"),
        "1"
    );
    assert_eq!(
        ada.post(&format!("/products/{product}/entries/withdraw"), &[])
            .await,
        (303, page.clone())
    );
    assert_eq!(
        entries_shown(&next_admin_panel(&mut admin, product).await, "US 9"),
        "0"
    );
    let mut grace = entrant(&app).await;
    grace.visit(&page).await;
    assert_eq!(
        enter(
            &grace,
            product,
            items[0],
            "5555555555554444",
            "2 Grace Road"
        )
        .await
        .0,
        303
    );
    assert_eq!(
        entries_shown(&next_admin_panel(&mut admin, product).await, "US 9"),
        "1"
    );

    // After the draw: the winner with the order, and the published secret.
    close(&app, product).await;
    let panel = loop {
        let panel = next_admin_panel(&mut admin, product).await;
        if panel.contains("data-secret") {
            break panel;
        }
    };
    assert!(panel.contains("Winners (1)"), "{panel}");
    assert!(panel.contains("entrant@example.com"), "{panel}");
    assert!(
        panel.contains("Passed over: the capture failed (0)"),
        "{panel}"
    );
    let (_, published) = app.get(&format!("/products/{product}/draw.json")).await;
    let published: Value = serde_json::from_str(&published).unwrap_or_else(|e| panic!("{e}"));
    let secret = published["secret"].as_str().unwrap_or_default();
    assert!(!secret.is_empty() && panel.contains(secret), "{panel}");
    // The page says the same after a reload, and the form no longer offers the window.
    let (_, edit) = app.admin_get(&location).await;
    assert!(
        edit.contains(secret) && edit.contains("Winners (1)"),
        "{edit}"
    );
    assert!(edit.contains("the window is past"), "{edit}");
}

fn rate(text: &str) -> sneakers::config::Rate {
    text.parse().unwrap_or_else(|e| panic!("{e}"))
}

/// One entry post as a bot sends it: `(status, Retry-After, body)`.
async fn entry_post(
    visitor: &Visitor,
    product: ProductId,
    item: ItemId,
) -> (u16, Option<u64>, String) {
    let item = item.to_string();
    let mut form = entry_form(&item, "4242424242424242", "1 Bot Street");
    form.push(("_csrf_token", visitor.csrf.as_str()));
    let response = visitor
        .http
        .post(format!("{}/products/{product}/entries", visitor.base))
        .form(&form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let status = response.status().as_u16();
    (
        status,
        retry_after,
        response.text().await.unwrap_or_default(),
    )
}

/// Rate limits on, the entry budgets at their default sizes per account (5) and lowered per
/// address (8, from 60, so a handful of accounts spend it), per hour instead of per minute so
/// the test's own pace on a loaded machine refills neither.
async fn a_thousand_entries_from_one_address_are_refused(backend: Backend) {
    let app = TestApp::start_with(backend, |config| {
        config.rates.enabled = true;
        let entry = sneakers::config::LimitedAction::Entry;
        config
            .rates
            .set(entry, sneakers::config::Per::Session, rate("5/h"));
        config
            .rates
            .set(entry, sneakers::config::Per::Address, rate("8/h"));
    })
    .await;
    let (product, items) = drawn_product(&app).await;
    let page = format!("/products/{product}");
    let mut bot = entrant(&app).await;
    bot.visit(&page).await;
    // One account posts a thousand entries: one is made, four are told it entered already,
    // the rest are refused by the account's budget before anything is written
    // or sent to the payment provider.
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    let mut refused = None;
    for _ in 0..1000 {
        let (status, retry_after, body) = entry_post(&bot, product, items[0]).await;
        *statuses.entry(status).or_default() += 1;
        if status == 429 && refused.is_none() {
            refused = Some((retry_after, body));
        }
    }
    assert_eq!(
        statuses,
        HashMap::from([(303, 1), (409, 4), (429, 995)]),
        "{statuses:?}"
    );
    let (retry_after, body) = refused.unwrap_or_default();
    assert!(
        retry_after.is_some_and(|s| s >= 1),
        "Retry-After: {retry_after:?}"
    );
    assert!(
        body.contains("Too many draw entries for your account in a short time")
            && body.contains("An entry you already made stands"),
        "{body}"
    );
    assert_eq!(standing(&bot.visit(&page).await, product), "entered");
    // A withdrawal spends the same budget: refused too, and the entry stands.
    let (status, _) = bot
        .post(&format!("/products/{product}/entries/withdraw"), &[])
        .await;
    assert_eq!(status, 429);
    assert_eq!(standing(&bot.visit(&page).await, product), "entered");
    // Fresh accounts from the same address: the address's budget (8, 5 spent by the
    // bot's allowed posts) lets three more in, then refuses the rest, whichever account.
    let mut made = 0;
    let mut by_address = None;
    for _ in 0..5 {
        let mut other = entrant(&app).await;
        other.visit(&page).await;
        let (status, _, body) = entry_post(&other, product, items[0]).await;
        match status {
            303 => made += 1,
            429 => by_address = Some(body),
            other => panic!("status {other}"),
        }
    }
    assert_eq!(made, 3);
    let body = by_address.unwrap_or_default();
    assert!(
        body.contains("Too many draw entries from your network"),
        "{body}"
    );
    // From another address an account enters at once.
    let mut elsewhere = Visitor::open_from(&app.url, std::net::IpAddr::from([127, 0, 0, 2])).await;
    signup(&app.db, &mut elsewhere, "elsewhere@example.com").await;
    elsewhere.visit(&page).await;
    assert_eq!(entry_post(&elsewhere, product, items[0]).await.0, 303);
    // Only the entries let through were written: 1 + 3 + 1.
    let entries = app
        .inventory()
        .draw_entries(product)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(entries.len(), 5);
}
