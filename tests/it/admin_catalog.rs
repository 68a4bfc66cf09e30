//! The admin's catalog: what `/admin/inventory` says of each product (state, price, mode, pairs
//! held), and the products list and forms where a drop is prepared.

use chrono::Utc;
use serde_json::json;
use sneakers::domain::{ProductId, Shopper};

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(the_inventory_says_each_products_state_price_mode_and_holds);

async fn the_inventory_says_each_products_state_price_mode_and_holds(backend: Backend) {
    let app = TestApp::start(backend).await;
    let inventory = app.inventory_json().await;
    let live = inventory
        .products
        .iter()
        .find(|p| p.released)
        .unwrap_or_else(|| panic!("the seed has a released product"));
    assert_eq!(live.state, "live");
    assert!(live.price_cents > 0);
    assert!(["first_come", "line"].contains(&live.mode.as_str()));
    let waiting = inventory
        .products
        .iter()
        .find(|p| !p.released)
        .unwrap_or_else(|| panic!("the seed has an unreleased product"));
    assert_eq!(waiting.state, "scheduled");
    let lined = inventory.products.iter().find(|p| p.queue);
    assert!(lined.is_none_or(|p| p.mode == "line"));

    // A pair held in a cart is counted as held, and out of what others may take.
    let item = live
        .items
        .iter()
        .find(|i| i.available_count > 0)
        .unwrap_or_else(|| panic!("a size in stock"));
    assert_eq!(item.held_count, 0);
    let shopper = Shopper::guest(format!("ada-{:x}", rand::random::<u64>()));
    app.inventory()
        .hold(&shopper, item.id)
        .await
        .unwrap_or_else(|e| panic!("hold: {e}"));
    let after = app.item(item.id).await;
    assert_eq!(after.held_count, 1);
    assert_eq!(after.available_count, item.available_count - 1);

    // Every size gone: sold out.
    for i in &live.items {
        app.set_stock(i.id, 0).await;
    }
    let now = app
        .inventory_json()
        .await
        .products
        .into_iter()
        .find(|p| p.id == live.id)
        .unwrap_or_else(|| panic!("the product is still there"));
    assert_eq!(now.state, "sold_out");
}

/// The fields a browser would post from the form `#<form_id>` of `html`: inputs (checked boxes
/// and radios only), textareas and selected options, in page order. Buttons are left out.
pub fn form_fields(html: &str, form_id: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("id=\"{form_id}\""))
        .unwrap_or_else(|| panic!("no form {form_id} in {html}"));
    let end = html[start..]
        .find("</form>")
        .map_or(html.len(), |e| start + e);
    let form = &html[start..end];
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!(" {name}=\"");
        let at = tag.find(&key)? + key.len();
        let len = tag[at..].find('"')?;
        Some(unescape(&tag[at..at + len]))
    };
    let flag = |tag: &str, name: &str| {
        tag.split(|c: char| c.is_whitespace() || c == '>')
            .any(|word| word == name)
    };
    let mut fields = Vec::new();
    let mut rest = form;
    while let Some(open) = rest.find('<') {
        rest = &rest[open..];
        let close = rest.find('>').unwrap_or(rest.len() - 1);
        let tag = &rest[..=close];
        if tag.starts_with("<input") {
            let kind = attr(tag, "type").unwrap_or_default();
            if let Some(name) = attr(tag, "name") {
                let checkable = kind == "checkbox" || kind == "radio";
                if !checkable || flag(tag, "checked") {
                    fields.push((name, attr(tag, "value").unwrap_or_default()));
                }
            }
        } else if tag.starts_with("<textarea") {
            let body_end = rest.find("</textarea>").unwrap_or(close);
            if let Some(name) = attr(tag, "name") {
                fields.push((name, unescape(&rest[close + 1..body_end])));
            }
        } else if tag.starts_with("<select") {
            let body_end = rest.find("</select>").unwrap_or(close);
            let options = &rest[close + 1..body_end];
            let chosen = options
                .split("<option")
                .find(|o| flag(o, "selected"))
                .and_then(|o| attr(o, "value"));
            if let (Some(name), Some(value)) = (attr(tag, "name"), chosen) {
                fields.push((name, value));
            }
        }
        rest = &rest[close + 1..];
    }
    fields
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Sets `name` in posted `fields` (added when absent).
pub fn set(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    match fields.iter_mut().find(|(k, _)| k == name) {
        Some(field) => field.1 = value.to_string(),
        None => fields.push((name.to_string(), value.to_string())),
    }
}

impl TestApp {
    /// An admin page's status and body.
    pub async fn admin_get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// Posts a form as the admin's browser does: `(status, location, body)`.
    pub async fn admin_post(
        &self,
        path: &str,
        fields: &[(String, String)],
    ) -> (u16, String, String) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
            .header("accept", "text/html")
            .form(fields)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, location, response.text().await.unwrap_or_default())
    }

    /// The product's edit form as posted unchanged.
    pub async fn edit_form(&self, id: ProductId) -> Vec<(String, String)> {
        let (status, page) = self.admin_get(&format!("/admin/products/{id}/edit")).await;
        assert_eq!(status, 200, "{page}");
        form_fields(&page, "product-form")
    }

    /// Creates a product through the form; returns its id.
    pub async fn create_product(&self, sku: &str, release: &str) -> ProductId {
        let (status, location, body) = self
            .admin_post("/admin/products", &new_product(sku, release))
            .await;
        assert_eq!(status, 303, "{body}");
        let id = location
            .strip_prefix("/admin/products/")
            .and_then(|rest| rest.split('/').next())
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("created: {location}"));
        ProductId(id)
    }
}

/// A new product's fields: two sizes, $180.
pub fn new_product(sku: &str, release: &str) -> Vec<(String, String)> {
    [
        ("brand", "Nike"),
        ("name", "Air Max 1 Test"),
        ("color", "Sport Red"),
        ("sku", sku),
        ("price", "$180"),
        ("description", "A classic.\n\nRe-released."),
        ("release", release),
        ("release_offset", "+00:00"),
        ("size-0-label", "US 9"),
        ("size-0-stock", "5"),
        ("size-1-label", "US 10"),
        ("size-1-stock", "3"),
        ("op", "save"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

on_both_backends!(
    a_draft_is_invisible_to_shoppers_until_it_is_released,
    an_edit_reaches_open_pages_and_a_stale_one_is_refused,
    an_archived_product_leaves_the_store_and_one_with_orders_is_not_deleted,
    a_release_time_is_taken_in_the_admins_time_zone_and_kept_by_the_scheduler,
);

async fn a_draft_is_invisible_to_shoppers_until_it_is_released(backend: Backend) {
    let app = TestApp::start(backend).await;
    let id = app.create_product("AM1-TEST", "draft").await;
    let product = app
        .inventory_json()
        .await
        .products
        .into_iter()
        .find(|p| p.id == id);
    let product = product.unwrap_or_else(|| panic!("created product {id} is in the inventory"));
    assert_eq!(
        (product.state.as_str(), product.price_cents),
        ("draft", 18_000)
    );
    let sizes: Vec<_> = product
        .items
        .iter()
        .map(|i| (i.size.as_str(), i.sku.as_str(), i.available_count))
        .collect();
    assert_eq!(
        sizes,
        [("US 9", "AM1-TEST-US9", 5), ("US 10", "AM1-TEST-US10", 3)]
    );
    // Shoppers: no page, not on `/`, no topic.
    assert_eq!(app.get(&format!("/products/{id}")).await.0, 404);
    assert!(!app.get("/").await.1.contains("Air Max 1 Test"));
    let mut client = app.client().await;
    let (_, status, response) = client.join(&format!("product:{id}"), json!({})).await;
    assert_eq!(
        (status.as_str(), response),
        ("error", json!({"reason": "not_found"}))
    );
    // The CLI cannot release a draft either.
    assert!(app.admin.release(&id.to_string()).await.is_err());
    // Listed "now": released, on `/` with its price and description.
    let mut fields = app.edit_form(id).await;
    set(&mut fields, "release", "now");
    let (status, _, body) = app
        .admin_post(&format!("/admin/products/{id}"), &fields)
        .await;
    assert_eq!(status, 303, "{body}");
    let (status, page) = app.get(&format!("/products/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("$180.00") && page.contains("<p>Re-released.</p>"),
        "{page}"
    );
    assert!(app.get("/").await.1.contains("Air Max 1 Test"));
    let (_, list) = app.admin_get("/admin/products?state=live&q=am1-test").await;
    assert!(list.contains(&format!("id=\"products-{id}\"")), "{list}");
    let (_, list) = app
        .admin_get("/admin/products?state=draft&q=am1-test")
        .await;
    assert!(list.contains("No product matches."), "{list}");
    app.assert_cache_matches_db().await;
}

async fn an_edit_reaches_open_pages_and_a_stale_one_is_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    let live = app.product(true).await;
    let topic = format!("product:{}", live.id);
    let mut client = app.client().await;
    client.join_ok(&topic, json!({})).await;
    client.expect(&topic, "released").await;
    let opened = app.edit_form(live.id).await;
    let mut fields = opened.clone();
    set(&mut fields, "price", "199");
    set(&mut fields, "name", "Renamed Runner");
    let (status, _, body) = app
        .admin_post(&format!("/admin/products/{}", live.id), &fields)
        .await;
    assert_eq!(status, 303, "{body}");
    let changed = client.expect(&topic, "product_changed").await;
    let html = changed.payload["html"].as_str().unwrap_or_default();
    assert!(
        html.contains(&format!("id=\"product-{}-price\"", live.id)) && html.contains("$199.00"),
        "{html}"
    );
    assert!(html.contains("Renamed Runner"));
    assert!(
        app.get(&format!("/products/{}", live.id))
            .await
            .1
            .contains("$199.00")
    );
    // A second admin saving the copy opened before is told, and changes nothing.
    let mut stale = opened;
    set(&mut stale, "price", "50");
    let (status, _, body) = app
        .admin_post(&format!("/admin/products/{}", live.id), &stale)
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("changed by another admin at"), "{body}");
    assert!(
        body.contains("value=\"199.00\""),
        "the current values are shown: {body}"
    );
    assert_eq!(app.product(true).await.price_cents, 19_900);
    // Bad input comes back with its error beside the field and what was typed.
    let mut bad = app.edit_form(live.id).await;
    set(&mut bad, "price", "-3");
    set(&mut bad, "size-1-label", &live.items[0].size);
    let (status, _, body) = app
        .admin_post(&format!("/admin/products/{}", live.id), &bad)
        .await;
    assert_eq!(status, 422);
    assert!(
        body.contains("A price must be more than $0.") && body.contains("value=\"-3\""),
        "{body}"
    );
    assert!(body.contains("This size is in the list twice."), "{body}");
    app.assert_cache_matches_db().await;
}

async fn an_archived_product_leaves_the_store_and_one_with_orders_is_not_deleted(backend: Backend) {
    let app = TestApp::start(backend).await;
    let live = app.product(true).await;
    let topic = format!("product:{}", live.id);
    let mut client = app.client().await;
    client.join_ok(&topic, json!({})).await;
    client.expect(&topic, "released").await;
    let (status, _, body) = app
        .admin_post(&format!("/admin/products/{}/archive", live.id), &[])
        .await;
    assert_eq!(status, 303, "{body}");
    let removed = client.expect(&topic, "product_removed").await;
    let html = removed.payload["html"].as_str().unwrap_or_default();
    assert!(html.contains("no longer available"), "{html}");
    assert_eq!(app.get(&format!("/products/{}", live.id)).await.0, 404);
    assert!(
        !app.get("/")
            .await
            .1
            .contains(&format!("data-product-id=\"{}\"", live.id))
    );
    let state = app
        .inventory_json()
        .await
        .products
        .into_iter()
        .find(|p| p.id == live.id)
        .map(|p| p.state);
    assert_eq!(state.as_deref(), Some("archived"));
    // Its pairs cannot be bought any more.
    assert!(app.admin.sell(live.items[0].id, 1).await.is_err());

    // A product nobody bought can be deleted; one with an order cannot.
    let fresh = app.create_product("DEL-ME", "draft").await;
    let (status, location, _) = app
        .admin_post(&format!("/admin/products/{fresh}/delete"), &[])
        .await;
    assert_eq!((status, location.as_str()), (303, "/admin/products"));
    assert_eq!(
        app.admin_get(&format!("/admin/products/{fresh}/edit"))
            .await
            .0,
        404
    );
    let bought = app.create_product("BOUGHT", "now").await;
    let item = app
        .inventory_json()
        .await
        .products
        .into_iter()
        .find(|p| p.id == bought)
        .map(|p| p.items[0].id);
    let item = item.unwrap_or_else(|| panic!("product {bought}"));
    let shopper = Shopper::guest(format!("cy-{:x}", rand::random::<u64>()));
    let mut cart = sneakers::domain::Cart::default();
    let _ = cart.add(item);
    app.inventory()
        .purchase(&shopper, &cart, "test")
        .await
        .unwrap_or_else(|e| panic!("purchase: {e}"));
    let (status, _, body) = app
        .admin_post(&format!("/admin/products/{bought}/delete"), &[])
        .await;
    assert_eq!(status, 409);
    assert!(body.contains("archive it instead"), "{body}");
    // Its sold size cannot be removed, only set to zero.
    let mut fields = app.edit_form(bought).await;
    set(&mut fields, "size-0-remove", "1");
    let (status, _, body) = app
        .admin_post(&format!("/admin/products/{bought}"), &fields)
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("set its stock to 0 instead"), "{body}");
    let mut fields = app.edit_form(bought).await;
    set(&mut fields, "size-0-stock", "0");
    let (status, _, body) = app
        .admin_post(&format!("/admin/products/{bought}"), &fields)
        .await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(app.item(item).await.available_count, 0);
    app.assert_cache_matches_db().await;
}

async fn a_release_time_is_taken_in_the_admins_time_zone_and_kept_by_the_scheduler(
    backend: Backend,
) {
    let app = TestApp::start(backend).await;
    let offset = chrono::FixedOffset::east_opt(3600).unwrap_or_else(|| panic!("+01:00"));
    // Two minutes ahead, in the admin's +01:00, in whole minutes as a datetime-local field sends.
    let at = (Utc::now() + chrono::Duration::minutes(2)).with_timezone(&offset);
    let local = at.format("%Y-%m-%dT%H:%M").to_string();
    let mut fields = new_product("SCHED-1", "at");
    set(&mut fields, "release_at", &local);
    set(&mut fields, "release_offset", "+01:00");
    let (status, location, body) = app.admin_post("/admin/products", &fields).await;
    assert_eq!(status, 303, "{body}");
    let (_, page) = app.admin_get(&location).await;
    let utc = at
        .with_timezone(&Utc)
        .format("%Y-%m-%d %H:%M UTC")
        .to_string();
    assert!(page.contains(&utc), "the time is shown in UTC too: {page}");
    let product = app
        .inventory_json()
        .await
        .products
        .into_iter()
        .find(|p| p.sku == "SCHED-1");
    let product = product.unwrap_or_else(|| panic!("created"));
    assert_eq!(product.state, "scheduled");
    assert_eq!(
        product
            .release_at
            .map(|t| t.format("%Y-%m-%dT%H:%M").to_string()),
        Some(at.with_timezone(&Utc).format("%Y-%m-%dT%H:%M").to_string())
    );
    // A time in the past is refused beside the field.
    let mut past = new_product("SCHED-2", "at");
    set(&mut past, "release_at", "2020-01-01T10:00");
    let (status, _, body) = app.admin_post("/admin/products", &past).await;
    assert_eq!(status, 422);
    assert!(body.contains("That time has passed"), "{body}");
    // The scheduler releases it when due (brought forward in the database: no test waits minutes).
    let topic = format!("product:{}", product.id);
    let mut client = app.client().await;
    client.join_ok(&topic, json!({})).await;
    app.schedule_release(product.id, Utc::now() + chrono::Duration::milliseconds(300))
        .await;
    let released = client.expect(&topic, "released").await;
    assert_eq!(released.payload["product_id"], json!(product.id));
}

/// The reply to `msg_ref`, whatever the admin topic broadcasts meanwhile.
async fn reply_skipping(admin: &mut crate::ws::Client, msg_ref: &str) -> serde_json::Value {
    loop {
        let frame = admin.frame().await;
        if frame.event == "phx_reply" && frame.msg_ref == json!(msg_ref) {
            return frame.payload;
        }
    }
}

on_both_backends!(the_form_is_checked_as_it_is_typed);

async fn the_form_is_checked_as_it_is_typed(backend: Backend) {
    let app = TestApp::start(backend).await;
    // The form pages carry the admin token and are live forms.
    let (_, page) = app.admin_get("/admin/products/new").await;
    assert!(
        page.contains("name=\"admin-token\"") && page.contains("data-change=\"validate\""),
        "{page}"
    );
    let (mut admin, _) = app.admin_watching().await;
    let topic = "admin:cart_tracker";
    // A new form: the price typed is wrong; the brand nobody has typed in yet is not flagged.
    let fields = json!({ "brand": "", "name": "Air", "price": "-3", "release": "draft", "size-0-label": "9" });
    let sent = admin
        .push(
            None,
            topic,
            "validate",
            json!({ "form": "product-form", "target": "price", "fields": fields }),
        )
        .await;
    let reply = reply_skipping(&mut admin, &sent).await;
    assert_eq!(reply["status"], "ok", "{reply}");
    let html = reply["response"]["html"].as_str().unwrap_or_default();
    assert!(
        html.starts_with("<form") && html.contains("id=\"product-form\""),
        "{html}"
    );
    assert!(
        html.contains("id=\"f-price-error\"") && html.contains("A price must be more than $0."),
        "{html}"
    );
    assert!(
        html.contains("value=\"-3\""),
        "what was typed stays: {html}"
    );
    assert!(
        !html.contains("id=\"f-brand-error\""),
        "untouched fields are not flagged: {html}"
    );
    // A size typed twice, on an existing product, is named as it is typed; a fixed price clears.
    let live = app.product(true).await;
    let mut posted = app.edit_form(live.id).await;
    set(&mut posted, "size-1-label", &live.items[0].size);
    let mut fields = serde_json::Map::new();
    for (k, v) in posted {
        fields.insert(k, json!(v));
    }
    let sent = admin
        .push(
            None,
            topic,
            "validate",
            json!({ "form": "product-form", "target": "size-1-label", "fields": fields }),
        )
        .await;
    let reply = reply_skipping(&mut admin, &sent).await;
    let html = reply["response"]["html"].as_str().unwrap_or_default();
    assert!(html.contains("This size is in the list twice."), "{html}");
    assert!(!html.contains("field-error\" id=\"f-price-error"), "{html}");
    assert!(
        html.contains(&format!("name=\"product_id\" value=\"{}\"", live.id)),
        "{html}"
    );
    // Nothing was saved by checking.
    assert_eq!(app.product(true).await.items.len(), live.items.len());
}

/// An admin's post to a node of a cluster: `(status, body)`.
async fn post_on(
    node: &crate::nodes::Node,
    path: &str,
    fields: &[(String, String)],
) -> (u16, String) {
    let response = node
        .http
        .post(format!("{}{path}", node.url))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .form(fields)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn edit_form_on(node: &crate::nodes::Node, id: ProductId) -> Vec<(String, String)> {
    let page = node
        .http
        .get(format!("{}/admin/products/{id}/edit", node.url))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET edit: {e}"))
        .text()
        .await
        .unwrap_or_default();
    form_fields(&page, "product-form")
}

crate::on_both_buses!(
    an_edit_on_one_node_reaches_pages_on_the_other_and_two_admins_do_not_overwrite
);

async fn an_edit_on_one_node_reaches_pages_on_the_other_and_two_admins_do_not_overwrite(
    bus: crate::nodes::Bus,
) {
    let (_cluster, a, b) = crate::nodes::two_nodes(bus).await;
    let product = a
        .admin
        .inventory()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .products
        .into_iter()
        .find(|p| p.released)
        .unwrap_or_else(|| panic!("a released product"));
    let (token, _) = a.socket_token().await;
    let mut page = crate::ws::Client::connect(
        &a.ws_url(&format!("/socket/websocket?vsn=2.0.0&token={token}")),
    )
    .await
    .unwrap_or_else(|s| panic!("refused {s}"));
    let topic = format!("product:{}", product.id);
    page.join_ok(&topic, json!({})).await;
    page.expect(&topic, "released").await;
    // Two admins open the form, one on each node.
    let on_a = edit_form_on(&a, product.id).await;
    let mut on_b = edit_form_on(&b, product.id).await;
    set(&mut on_b, "price", "211");
    let (status, body) = post_on(&b, &format!("/admin/products/{}", product.id), &on_b).await;
    // 303 to the form, which the node's client follows.
    assert!(status == 303 || status == 200, "{status}: {body}");
    assert!(!body.contains("field-error"), "{body}");
    // The page on node A re-renders the product from A's cache.
    let changed = page.expect(&topic, "product_changed").await;
    let html = changed.payload["html"].as_str().unwrap_or_default();
    assert!(html.contains("$211.00"), "{html}");
    // The admin on A saves the copy opened before: refused, told, nothing overwritten.
    let mut stale = on_a;
    set(&mut stale, "price", "5");
    let (status, body) = post_on(&a, &format!("/admin/products/{}", product.id), &stale).await;
    assert_eq!(status, 422);
    assert!(body.contains("changed by another admin at"), "{body}");
    let now = b.admin.inventory().await.unwrap_or_else(|e| panic!("{e}"));
    let price = now
        .products
        .iter()
        .find(|p| p.id == product.id)
        .map(|p| p.price_cents);
    assert_eq!(price, Some(21_100));
}
