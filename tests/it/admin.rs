//! The admin dashboard and its live presence.

use sneakers::domain::ItemId;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};
use sneakers::domain::token::{ADMIN_TOKEN_MAX_AGE_MS, Tokens};

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, SECRET, TestApp};
use crate::ws::{Client, Frame};

const TOPIC: &str = "admin:cart_tracker";

impl TestApp {
    fn admin_socket_url(&self, token: &str) -> String {
        format!(
            "{}/admin_socket/websocket?vsn=2.0.0&token={token}",
            self.url.replacen("http", "ws", 1)
        )
    }

    /// The dashboard's token, as the page hands it to the shim.
    async fn admin_token(&self) -> String {
        crate::ws::admin_token(&self.http, &self.url).await
    }

    /// An admin joined to the tracker; returns it with the initial `presence_state`.
    pub(crate) async fn admin_watching(&self) -> (Client, Value) {
        let token = self.admin_token().await;
        let mut admin = Client::connect(&self.admin_socket_url(&token))
            .await
            .unwrap_or_else(|s| panic!("refused {s}"));
        admin.join_ok(TOPIC, json!({})).await;
        let state = admin.expect(TOPIC, "presence_state").await.payload;
        admin.expect(TOPIC, "counts").await;
        let fresh = admin.expect(TOPIC, "new_token").await.payload["token"].clone();
        assert!(
            fresh.is_string(),
            "the dashboard's token is renewed on join"
        );
        (admin, state)
    }

    /// A shopper tab on `page`, joined to its cart.
    async fn shopper_tab(&self, token: &str, cart_id: &str, page: &str) -> Client {
        let mut tab = Client::connect(&self.socket_url(token))
            .await
            .unwrap_or_else(|s| panic!("refused {s}"));
        let topic = format!("cart:{cart_id}");
        tab.join_ok(&topic, json!({ "page": page })).await;
        tab.expect(&topic, "cart").await;
        tab.expect(&topic, "new_token").await;
        tab
    }
}

/// `data-count` of `id="ID"` in an html fragment.
pub fn count_in(html: &str, id: &str) -> Option<u64> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let tag = &html[at..at + html[at..].find('>')?];
    let start = tag.find("data-count=\"")? + 12;
    tag[start..start + tag[start..].find('"')?].parse().ok()
}

/// `data-count` of the `<li data-page="PAGE">` in #admin-pages.
fn page_count(html: &str, page: &str) -> Option<u64> {
    let marker = format!("data-page=\"{page}\" data-count=\"");
    let at = html.find(&marker)? + marker.len();
    html[at..at + html[at..].find('"')?].parse().ok()
}

fn item_count(html: &str, item: ItemId) -> Option<u64> {
    let marker = format!("data-item-id=\"{item}\" data-count=\"");
    let at = html.find(&marker)? + marker.len();
    html[at..at + html[at..].find('"')?].parse().ok()
}

/// Reads admin pushes (heartbeating meanwhile) until the counts html satisfies `done`;
/// returns that html and how many diffs it took.
pub async fn until_counts(admin: &mut Client, done: impl Fn(&str) -> bool) -> (String, usize) {
    let mut diffs = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "admin counts never reached the expected state"
        );
        match tokio::time::timeout(Duration::from_millis(200), admin.frame()).await {
            Ok(Frame { event, payload, .. }) if event == "presence_diff" => {
                diffs += 1;
                let html = payload["html"].as_str().unwrap_or_default().to_string();
                if done(&html) {
                    return (html, diffs);
                }
            }
            Ok(_) => {}
            Err(_) => {
                admin.push(None, "phoenix", "heartbeat", json!({})).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_its_socket_are_for_admins_only() {
    let app = TestApp::start(Backend::Sqlite).await;
    let url = format!("{}/admin", app.url);
    assert_eq!(
        app.http
            .get(&url)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0),
        401
    );
    let wrong = app
        .http
        .get(&url)
        .basic_auth(ADMIN_USER, Some("guess"))
        .send()
        .await;
    assert_eq!(wrong.map(|r| r.status().as_u16()).unwrap_or(0), 401);
    let page = app
        .http
        .get(&url)
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap_or_default();
    for id in [
        "admin-shoppers",
        "admin-pages",
        "admin-items",
        "admin-server",
    ] {
        assert!(
            html.contains(&format!("id=\"{id}\"")),
            "{id} on the dashboard"
        );
    }
    assert!(
        html.contains("Release now"),
        "unreleased products have a release button"
    );
    let metrics = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(metrics, 401);

    let token = app.admin_token().await;
    assert!(Client::connect(&app.admin_socket_url(&token)).await.is_ok());
    let missing = format!(
        "{}/admin_socket/websocket?vsn=2.0.0",
        app.url.replacen("http", "ws", 1)
    );
    assert_eq!(Client::connect(&missing).await.err(), Some(403));
    assert_eq!(
        Client::connect(&app.admin_socket_url(&format!("{token}x")))
            .await
            .err(),
        Some(403)
    );
    let now = chrono::Utc::now().timestamp_millis();
    let expired = Tokens::new(SECRET)
        .admin
        .sign("admin", now - ADMIN_TOKEN_MAX_AGE_MS - 1000);
    assert_eq!(
        Client::connect(&app.admin_socket_url(&expired)).await.err(),
        Some(403)
    );
    // A shopper's token is not an admin token, and a shopper socket cannot join admin topics.
    let (shopper_token, cart_id) = app.socket_token().await;
    assert_eq!(
        Client::connect(&app.admin_socket_url(&shopper_token))
            .await
            .err(),
        Some(403)
    );
    let mut shopper = app.client().await;
    let (_, status, response) = shopper.join(TOPIC, json!({})).await;
    assert_eq!(
        (status.as_str(), response),
        ("error", json!({"reason": "unauthorized"}))
    );
    // And an admin socket serves only admin topics.
    let mut admin = Client::connect(&app.admin_socket_url(&token))
        .await
        .unwrap_or_else(|s| panic!("{s}"));
    let (_, status, _) = admin.join(&format!("cart:{cart_id}"), json!({})).await;
    assert_eq!(status, "error");
    let (_, status, _) = admin.join("product:1", json!({})).await;
    assert_eq!(status, "error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_counts_shoppers_pages_and_carted_pairs() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (mut admin, state) = app.admin_watching().await;
    assert_eq!(state, json!({}));
    let product = app.product(true).await;
    let item = product
        .items
        .iter()
        .find(|i| i.available_count > 3)
        .map(|i| i.id)
        .unwrap_or_else(|| panic!("stock"));
    let page = format!("/products/{}", product.id);

    let (token_a, cart_a) = app.socket_token().await;
    let (token_b, cart_b) = app.socket_token().await;
    let mut a_home = app.shopper_tab(&token_a, &cart_a, "/").await;
    let a_product = app.shopper_tab(&token_a, &cart_a, &page).await;
    let mut b_home = app.shopper_tab(&token_b, &cart_b, "/").await;
    let (html, _) = until_counts(&mut admin, |h| {
        count_in(h, "admin-shoppers") == Some(2) && count_in(h, "admin-pages") == Some(3)
    })
    .await;
    assert_eq!(page_count(&html, "/"), Some(2));
    assert_eq!(page_count(&html, &page), Some(1));

    // Carts: both shoppers add the same pair; it is counted per cart, not per tab.
    let topic_a = format!("cart:{cart_a}");
    let join_a = a_home
        .push(None, &topic_a, "add_item", json!({ "item_id": item }))
        .await;
    let _ = join_a;
    let topic_b = format!("cart:{cart_b}");
    b_home
        .push(None, &topic_b, "add_item", json!({ "item_id": item }))
        .await;
    let (html, _) = until_counts(&mut admin, |h| item_count(h, item) == Some(2)).await;
    assert_eq!(count_in(&html, "admin-items"), Some(2));

    // Closing a tab (killing its socket without a leave) removes that page only.
    drop(a_product);
    let (html, _) = until_counts(&mut admin, |h| count_in(h, "admin-pages") == Some(2)).await;
    assert_eq!(page_count(&html, &page), None);
    assert_eq!(count_in(&html, "admin-shoppers"), Some(2));

    // A leave removes the last tab of B: B is gone.
    b_home.push(None, &topic_b, "phx_leave", json!({})).await;
    let (html, _) = until_counts(&mut admin, |h| count_in(h, "admin-shoppers") == Some(1)).await;
    assert_eq!(item_count(&html, item), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_shopper_leaves_after_the_heartbeat_timeout() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.socket_idle_timeout = Duration::from_millis(800)
    })
    .await;
    let (mut admin, _) = app.admin_watching().await;
    let (token, cart_id) = app.socket_token().await;
    let _silent = app.shopper_tab(&token, &cart_id, "/").await;
    until_counts(&mut admin, |h| count_in(h, "admin-shoppers") == Some(1)).await;
    // The admin heartbeats while it waits; the shopper says nothing and is timed out.
    until_counts(&mut admin, |h| count_in(h, "admin-shoppers") == Some(0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_payloads_have_phoenix_presence_shape() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (mut admin, _) = app.admin_watching().await;
    let (token, cart_id) = app.socket_token().await;
    let mut tab = app.shopper_tab(&token, &cart_id, "/").await;
    let diff = admin.expect(TOPIC, "presence_diff").await.payload;
    let meta = &diff["joins"][&cart_id]["metas"][0];
    let (phx_ref, online_at) = (meta["phx_ref"].clone(), meta["online_at"].clone());
    assert!(phx_ref.is_string() && online_at.is_i64(), "{meta}");
    let mut expected = json!({
        "joins": { &cart_id: { "metas": [ { "page": "/", "items": [], "online_at": online_at, "phx_ref": phx_ref } ] } },
        "leaves": {},
    });
    let mut without_html = diff.clone();
    assert!(
        without_html
            .as_object_mut()
            .and_then(|o| o.remove("html"))
            .is_some_and(|h| h.is_string())
    );
    assert_eq!(without_html, expected);

    // A second admin gets the same entry in presence_state.
    let (_, state) = app.admin_watching().await;
    assert_eq!(state, expected["joins"]);

    // Leaving shows up as a leave of exactly that meta.
    let topic = format!("cart:{cart_id}");
    tab.push(None, &topic, "phx_leave", json!({})).await;
    let diff = admin.expect(TOPIC, "presence_diff").await.payload;
    if let Some(o) = expected.as_object_mut() {
        let joins = o.remove("joins").unwrap_or_default();
        o.insert("joins".into(), json!({}));
        o.insert("leaves".into(), joins);
    }
    let mut without_html = diff;
    without_html.as_object_mut().map(|o| o.remove("html"));
    assert_eq!(without_html, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_joins_makes_a_handful_of_admin_pushes() {
    let app = TestApp::start_with(Backend::Sqlite, crate::helpers::unlimited).await;
    let (mut admin, _) = app.admin_watching().await;
    let shoppers = join_all((0..500).map(|_| async {
        let (token, cart_id) = app.socket_token().await;
        let client = Client::connect(&app.socket_url(&token))
            .await
            .unwrap_or_else(|s| panic!("refused {s}"));
        (client, cart_id)
    }))
    .await;
    // Everyone joins at once.
    let joined = join_all(
        shoppers
            .into_iter()
            .map(|(mut client, cart_id)| async move {
                client
                    .join_ok(&format!("cart:{cart_id}"), json!({ "page": "/" }))
                    .await;
                client
            }),
    )
    .await;
    let (html, diffs) =
        until_counts(&mut admin, |h| count_in(h, "admin-shoppers") == Some(500)).await;
    assert!(diffs <= 8, "{diffs} admin pushes for one burst");
    assert_eq!(page_count(&html, "/"), Some(500));
    drop(joined);
    let metrics = app
        .http
        .get(format!("{}/metrics", app.url))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap_or_default();
    assert!(text.contains("sneakers_channel_joins_total"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_updates_the_dashboard_row_live() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (mut admin, _) = app.admin_watching().await;
    let coming = app.product(false).await;
    app.admin
        .release(&coming.sku)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    loop {
        let frame = admin.frame().await;
        if frame.event == "released" {
            let html = frame.payload["html"].as_str().unwrap_or_default();
            assert!(
                html.contains(&format!("id=\"admin-product-{}\"", coming.id)),
                "{html}"
            );
            assert!(
                html.contains("Released") && !html.contains("Release now"),
                "{html}"
            );
            break;
        }
    }
}
