//! The admin API's edges: credentials, bad input, and static files.

use crate::helpers::{ADMIN_PASSWORD, Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_need_the_right_credentials() {
    let app = TestApp::start(Backend::Sqlite).await;
    let url = format!("{}/admin/inventory", app.url);
    let none = app
        .http
        .get(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none.status(), 401);
    assert!(
        none.headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("Basic"))
    );
    let wrong = app
        .http
        .get(&url)
        .basic_auth("admin", Some("nope"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(wrong.status(), 401);
    let sell = app
        .http
        .post(format!("{}/admin/items/1/sell", app.url))
        .basic_auth("admin", Some(format!("{ADMIN_PASSWORD}x")))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sell.status(), 401);
    let right = app
        .http
        .get(&url)
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(right.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_admin_input_gets_a_clear_error() {
    let app = TestApp::start(Backend::Sqlite).await;
    let item = app.product(true).await.items[0].id;
    let post = |path: String, body: &'static str| {
        app.http
            .post(format!("{}{path}", app.url))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let cases = [
        (
            format!("/admin/items/{item}/restock"),
            "count=abc",
            422,
            "invalid_count",
        ),
        (
            format!("/admin/items/{item}/restock"),
            "",
            422,
            "invalid_count",
        ),
        (
            format!("/admin/items/{item}/restock"),
            "count=-5",
            422,
            "invalid_count",
        ),
        (
            format!("/admin/items/{item}/sell"),
            "count=1&count=2",
            422,
            "invalid_form",
        ),
        ("/admin/items/xyz/sell".to_string(), "", 404, "not_found"),
    ];
    for (path, body, status, code) in cases {
        let response = post(path.clone(), body)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status().as_u16(), status, "{path} {body}");
        let json: serde_json::Value = response.json().await.unwrap_or_default();
        assert_eq!(json["error"], code, "{path} {body}: {json}");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let huge = "count=".to_string() + &"9".repeat(100_000);
    let response = app
        .http
        .post(format!("{}/admin/items/{item}/restock", app.url))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .body(huge)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 413);
    // A bare POST sells one pair.
    let before = app.item(item).await.available_count;
    if before > 0 {
        let response = post(format!("/admin/items/{item}/sell"), "")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), 200);
        assert_eq!(app.item(item).await.available_count, before - 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_are_fingerprinted_and_revalidated() {
    let app = TestApp::start(Backend::Sqlite).await;
    let (_, page) = app.get("/").await;
    let start = page
        .find("/static/css/app.css?v=")
        .unwrap_or_else(|| panic!("no stylesheet link"));
    let href = &page[start..start + page[start..].find('"').unwrap_or(0)];
    let response = app
        .http
        .get(format!("{}{href}", app.url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert!(header("content-type").is_some_and(|t| t.starts_with("text/css")));
    assert!(header("cache-control").is_some_and(|c| c.contains("immutable")));
    let etag = header("etag").unwrap_or_else(|| panic!("no etag"));
    let again = app
        .http
        .get(format!("{}/static/css/app.css", app.url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.status(), 304);
    assert_eq!(app.get("/static/nope.js").await.0, 404);
    let (_, health) = app.get("/healthz").await;
    let health: serde_json::Value = serde_json::from_str(&health).unwrap_or_default();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["node"], "test-node");
    assert_eq!(
        health["bus"],
        serde_json::json!({ "kind": "local", "connected": true }),
        "{health}"
    );
}
