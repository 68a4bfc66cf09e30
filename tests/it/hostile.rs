//! Hostile HTTP: stalled and greedy connections, and every request the framework used to
//! answer in its own words. Real server, raw TCP where a polite client cannot misbehave.

use std::net::IpAddr;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::helpers::{Backend, TestApp};
use crate::raw::{self, assert_no_framework_text, closed_within, connect, connect_from, exchange};
use crate::ws::Client;

const OTHER_ADDRESS: [u8; 4] = [127, 0, 0, 2];

/// A response that must be the store's own HTML page.
async fn assert_page(response: reqwest::Response, status: u16, what: &str) -> String {
    assert_eq!(response.status().as_u16(), status, "{what}");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.text().await.unwrap_or_default();
    assert!(
        content_type.starts_with("text/html"),
        "{what}: {content_type} {body}"
    );
    assert!(
        body.contains("Back to the drops"),
        "{what}: not the store's page: {body}"
    );
    assert_no_framework_text(what, &body);
    body
}

/// A response that must be the store's own JSON error.
async fn assert_json(response: reqwest::Response, status: u16, code: &str, what: &str) {
    assert_eq!(response.status().as_u16(), status, "{what}");
    let body = response.text().await.unwrap_or_default();
    let json: Value =
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: not JSON: {body}"));
    assert_eq!(json["error"], code, "{what}: {json}");
    assert!(
        json["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {json}"
    );
    assert_no_framework_text(what, &body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_heads_are_closed_within_the_timeout_while_pages_answer() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.connections.header_read_timeout = Duration::from_millis(500);
    })
    .await;
    let addr = app.addr();
    // Half a head, nothing at all, and a keep-alive connection gone idle after one request.
    let mut stalled = Vec::new();
    for n in 0..20 {
        let mut stream = connect(addr).await;
        if n % 2 == 0 {
            let _ = stream
                .write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nX-Slow: ")
                .await;
        }
        stalled.push(stream);
    }
    let mut idle = connect(addr).await;
    let _ = idle
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await;
    // Meanwhile the store answers as usual. Each page on a new connection: with a 500 ms
    // keep-alive a pooled one may be closed by the server just as it is reused (on a busy
    // machine), which is the race every HTTP client has with an idle timeout, not this test's.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let page = || async {
        fresh
            .get(format!("{}/", app.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /: {e}"))
            .status()
            .as_u16()
    };
    for _ in 0..5 {
        assert_eq!(page().await, 200);
    }
    let closed = join_all(
        stalled
            .iter_mut()
            .map(|s| closed_within(s, Duration::from_secs(10))),
    )
    .await;
    assert!(
        closed.iter().all(|c| *c),
        "stalled connections left open: {closed:?}"
    );
    assert!(
        closed_within(&mut idle, Duration::from_secs(10)).await,
        "idle keep-alive left open"
    );
    assert_eq!(page().await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_over_its_connection_cap_is_refused_and_others_are_not() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.connections.per_address = Some(4);
    })
    .await;
    let addr = app.addr();
    // Two plain connections and two sockets hold the four slots of 127.0.0.1 (a socket keeps
    // its slot after the upgrade).
    // The token comes through 127.0.0.2, so no pooled keep-alive connection of 127.0.0.1
    // takes a slot.
    let elsewhere = reqwest::Client::builder()
        .local_address(IpAddr::from(OTHER_ADDRESS))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let (token, _) = crate::ws::socket_token(&elsewhere, &app.url).await;
    let held = [connect(addr).await, connect(addr).await];
    let sockets = [
        Client::connect(&app.socket_url(&token))
            .await
            .unwrap_or_else(|s| panic!("{s}")),
        Client::connect(&app.socket_url(&token))
            .await
            .unwrap_or_else(|s| panic!("{s}")),
    ];
    let refused = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(refused.status, 429, "{refused:?}");
    assert!(refused.header("retry-after").is_some(), "{refused:?}");
    assert!(refused.body.contains("Back to the drops"), "{refused:?}");
    // Another address is not affected.
    let mut other = connect_from(IpAddr::from(OTHER_ADDRESS), addr).await;
    let _ = other
        .write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(raw::read_answer(&mut other).await.status, 200);
    // A slot comes back when its connection (here: a socket) closes.
    drop(sockets);
    drop(held);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = exchange(
            addr,
            b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n",
        )
        .await;
        if answer.status == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "slots never came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads one answer's status off a connection that stays open (keep-alive).
async fn status_of_next_answer(stream: &mut tokio::net::TcpStream) -> u16 {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte)).await {
            Ok(Ok(1)) => head.push(byte[0]),
            other => panic!(
                "no answer: {other:?} after {:?}",
                String::from_utf8_lossy(&head)
            ),
        }
    }
    String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {:?}", String::from_utf8_lossy(&head)))
}

/// Behind the platform's router every connection comes from the router: the cap counts the
/// connections of each shopper its `X-Forwarded-For` names, not the router's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_the_platform_router_the_connection_cap_counts_each_shopper() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.connections.per_address = Some(2);
        c.connections.trusted_proxies = sneakers::config::TrustedProxies::platform_router();
    })
    .await;
    let addr = app.addr();
    let request = |client: &str, close: bool| {
        let connection = if close { "Connection: close\r\n" } else { "" };
        format!(
            "GET /healthz HTTP/1.1\r\nHost: shop\r\nX-Forwarded-For: 6.6.6.6, {client}\r\n{connection}\r\n"
        )
    };
    const SHOPPER: &str = "203.0.113.5";
    const NEIGHBOUR: &str = "203.0.113.6";
    // Two keep-alive connections from the router carry one shopper, and stay open.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(addr).await;
        let _ = stream.write_all(request(SHOPPER, false).as_bytes()).await;
        assert_eq!(status_of_next_answer(&mut stream).await, 200);
        held.push(stream);
    }
    // A third for that shopper is refused in the store's words, and closed.
    let refused = exchange(addr, request(SHOPPER, false).as_bytes()).await;
    assert_eq!(refused.status, 429, "{refused:?}");
    assert!(refused.header("retry-after").is_some(), "{refused:?}");
    assert!(refused.body.contains("Back to the drops"), "{refused:?}");
    // Another shopper behind the same router is served.
    let neighbour = exchange(addr, request(NEIGHBOUR, true).as_bytes()).await;
    assert_eq!(neighbour.status, 200, "{neighbour:?}");
    // A connection the router reuses for another shopper hands the first one's slot over
    // (before it answers): the first shopper may open one again.
    let _ = held[0]
        .write_all(request(NEIGHBOUR, false).as_bytes())
        .await;
    assert_eq!(status_of_next_answer(&mut held[0]).await, 200);
    let again = exchange(addr, request(SHOPPER, true).as_bytes()).await;
    assert_eq!(again.status, 200, "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_get_431() {
    let app = TestApp::start(Backend::Sqlite).await;
    let cookie = format!("big={}", "x".repeat(64 * 1024));
    let response = app
        .http
        .get(format!("{}/", app.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_page(response, 431, "64 KB cookie").await;
    let response = app
        .http
        .get(format!("{}/session/token", app.url))
        .header("x-padding", "y".repeat(20 * 1024))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_json(
        response,
        431,
        "headers_too_large",
        "20 KB header on the API",
    )
    .await;
    // Far past the caps the HTTP server refuses by itself, still with 431.
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: shop\r\nX-Huge: {}\r\nConnection: close\r\n\r\n",
        "z".repeat(200 * 1024)
    );
    let answer = exchange(app.addr(), huge.as_bytes()).await;
    assert_eq!(answer.status, 431, "{}", answer.head);
    assert_no_framework_text("200 KB header", &answer.body);
}

/// RFC 9112: an HTTP/1.1 request without exactly one proper `Host` is a 400, the store's own
/// (HTTP/1.0 may leave it out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_its_host_gets_400() {
    let app = TestApp::start(Backend::Sqlite).await;
    for (what, request) in [
        ("no Host", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"),
        (
            "two Hosts",
            "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n",
        ),
        (
            "a Host with userinfo",
            "GET / HTTP/1.1\r\nHost: user@shop\r\nConnection: close\r\n\r\n",
        ),
        (
            "no Host on the API",
            "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
        ),
    ] {
        let answer = exchange(app.addr(), request.as_bytes()).await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.head);
        assert_no_framework_text(what, &answer.body);
        let page = answer.body.contains("Back to the drops");
        let json = answer.body.contains("\"bad_request\"");
        assert!(
            page || json,
            "{what}: not the store's answer: {}",
            answer.body
        );
    }
    for (what, request) in [
        ("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n"),
        (
            "HTTP/1.1 with Host",
            "GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n",
        ),
    ] {
        let answer = exchange(app.addr(), request.as_bytes()).await;
        assert_eq!(answer.status, 200, "{what}: {}", answer.head);
    }
}

/// The headers that keep a page from being framed, sniffed or fed foreign scripts: on pages,
/// gzipped pages, assets, and every refusal the store makes (the 431 among them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::start(Backend::Sqlite).await;
    let page = app
        .http
        .get(format!("{}/", app.url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let script = page
        .split("<script")
        .nth(1)
        .and_then(|tag| tag.split(" src=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no script on the page: {page}"))
        .to_string();
    let get = |path: &str| app.http.get(format!("{}{path}", app.url));
    let requests = [
        ("the index", get("/")),
        (
            "the index gzipped",
            get("/").header("accept-encoding", "gzip"),
        ),
        ("a product", get("/products/1")),
        ("the shim", get(&script)),
        ("the health check", get("/healthz")),
        ("an unknown page", get("/no/such/page")),
        ("a wrong method", app.http.delete(format!("{}/", app.url))),
        (
            "a 64 KB cookie",
            get("/").header("cookie", format!("big={}", "x".repeat(64 * 1024))),
        ),
    ];
    for (what, request) in requests {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let headers = response.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{what} ({}) has no {name}", response.status()))
        };
        assert!(
            header("content-security-policy").contains("frame-ancestors 'none'"),
            "{what}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(header("referrer-policy"), "same-origin", "{what}");
        assert_eq!(header("x-frame-options"), "DENY", "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejection_is_the_stores_own_answer() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.connections.body_timeout = Duration::from_millis(500);
    })
    .await;
    let get = |path: &str| app.http.get(format!("{}{path}", app.url)).send();
    let ok = |r: Result<reqwest::Response, reqwest::Error>| r.unwrap_or_else(|e| panic!("{e}"));

    // Repeated and unknown query values: the first wins, the rest is ignored.
    for path in [
        "/?cart_error=sold_out&cart_error=b&utm_source=x",
        "/checkout?sold_out=1&sold_out=2",
        "/checkout/complete?order=abc&order=1",
    ] {
        let response = ok(get(path).await);
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        assert!(status == 200 || status == 404, "{path}: {status}");
        assert_no_framework_text(path, &body);
    }
    let asset = ok(get("/static/app.js?v=1&v=2").await);
    assert_eq!(asset.status(), 200);

    // Undecodable and unknown paths, wrong methods.
    assert_page(ok(get("/products/%ff").await), 404, "/products/%ff").await;
    assert_page(ok(get("/products/07").await), 404, "/products/07").await;
    assert_page(ok(get("/no/such/page").await), 404, "unknown page").await;
    let post_home = ok(app.http.post(format!("{}/", app.url)).send().await);
    assert_page(post_home, 405, "POST /").await;
    let admin = |r: reqwest::RequestBuilder| {
        r.basic_auth(
            crate::helpers::ADMIN_USER,
            Some(crate::helpers::ADMIN_PASSWORD),
        )
    };
    let unknown_api = ok(admin(app.http.get(format!("{}/admin/nothing", app.url)))
        .send()
        .await);
    assert_json(unknown_api, 404, "not_found", "unknown admin route").await;
    let bad_id = ok(
        admin(app.http.post(format!("{}/admin/items/%ff/sell", app.url)))
            .send()
            .await,
    );
    assert_json(bad_id, 404, "not_found", "undecodable admin id").await;
    let no_login = ok(app.http.get(format!("{}/admin", app.url)).send().await);
    assert_page(no_login, 401, "dashboard without credentials").await;

    // A socket address asked without a handshake, with or without a repeated vsn.
    for path in [
        "/socket/websocket",
        "/socket/websocket?vsn=2.0.0&vsn=1",
        "/admin_socket/websocket",
    ] {
        assert_json(ok(get(path).await), 400, "not_a_websocket", path).await;
    }
    // With a handshake the first vsn wins and the socket opens.
    let (token, _) = app.socket_token().await;
    let twice = format!(
        "{}/socket/websocket?vsn=2.0.0&vsn=1&token={token}",
        app.url.replacen("http", "ws", 1)
    );
    assert!(Client::connect(&twice).await.is_ok());

    // Bodies: too large (declared and streamed), a bad chunk, one that never arrives.
    let visitor = app.visitor().await;
    let big_form = format!(
        "item_id=1&_csrf_token={}&pad={}",
        visitor.csrf,
        "x".repeat(2 << 20)
    );
    let declared = ok(visitor
        .http
        .post(format!("{}/cart/items", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big_form.clone())
        .send()
        .await);
    assert_page(declared, 413, "2 MB form").await;
    let mut chunked = b"POST /cart/items HTTP/1.1\r\nHost: shop\r\n\
        Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\
        Connection: close\r\n\r\n"
        .to_vec();
    for _ in 0..4 {
        chunked.extend_from_slice(
            format!("{:x}\r\n{}\r\n", 16 * 1024, "x".repeat(16 * 1024)).as_bytes(),
        );
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let streamed = exchange(app.addr(), &chunked).await;
    assert_eq!(streamed.status, 413, "{}", streamed.head);
    assert!(streamed.body.contains("Back to the drops"), "{streamed:?}");
    let bad_chunk = exchange(
        app.addr(),
        b"POST /cart/items HTTP/1.1\r\nHost: shop\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nitem_id=1\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(bad_chunk.status, 400, "{bad_chunk:?}");
    assert!(
        bad_chunk.body.contains("Back to the drops"),
        "{bad_chunk:?}"
    );
    assert_no_framework_text("bad chunk", &bad_chunk.body);
    let slow = exchange(
        app.addr(),
        b"POST /cart/items HTTP/1.1\r\nHost: shop\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\nConnection: close\r\n\r\nitem_id=1",
    )
    .await;
    assert_eq!(slow.status, 408, "{slow:?}");
    assert!(slow.body.contains("Back to the drops"), "{slow:?}");
    let api_body = ok(
        admin(app.http.post(format!("{}/admin/items/1/restock", app.url)))
            .body("count=".to_string() + &"9".repeat(100_000))
            .send()
            .await,
    );
    assert_json(api_body, 413, "body_too_large", "huge admin body").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_channel_per_product_whatever_the_spelling() {
    let app = TestApp::start(Backend::Sqlite).await;
    let product = app.product(true).await;
    let mut client = app.client().await;
    let topic = format!("product:{}", product.id);
    client.join_ok(&topic, json!({})).await;
    client.expect(&topic, "released").await;
    for alias in [
        format!("product:0{}", product.id),
        format!("product:+{}", product.id),
    ] {
        let (_, status, response) = client.join(&alias, json!({})).await;
        assert_eq!(
            (status.as_str(), response),
            ("error", json!({"reason": "unmatched topic"})),
            "{alias}"
        );
    }
    assert_eq!(app.live().hub.subscriber_count(&topic), 1);
}
