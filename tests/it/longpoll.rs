//! Phoenix's LongPoll transport over real HTTP: a client of our own (reqwest), the official
//! `phoenix` JavaScript client in Node, and two real nodes behind a round-robin proxy.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::{Value, json};
use sneakers::domain::ItemId;

use crate::admin::{count_in, until_counts};
use crate::helpers::{Backend, TestApp};
use crate::nodes::{Bus, Cluster, Node};
use crate::proxy::round_robin;
use crate::ws::{Frame, WAIT};

const WINDOW: Duration = Duration::from_millis(600);

/// A LongPoll client as phoenix.js is one: GET opens and polls, POST sends ndjson.
pub struct LpClient {
    http: reqwest::Client,
    /// The endpoint with the socket's query (`?vsn=2.0.0&token=T`).
    url: String,
    pub token: Option<String>,
    /// Send the session token as the query's `token` (older clients) instead of the header.
    pub token_in_query: bool,
    next_ref: u64,
    inbox: VecDeque<Frame>,
}

impl LpClient {
    pub fn new(base: &str, path: &str, socket_token: &str) -> LpClient {
        LpClient {
            http: reqwest::Client::new(),
            url: format!("{base}{path}?vsn=2.0.0&token={socket_token}"),
            token: None,
            token_in_query: false,
            next_ref: 0,
            inbox: VecDeque::new(),
        }
    }

    /// Opens a session; panics unless the answer is 410 with a token.
    pub async fn open(base: &str, path: &str, socket_token: &str) -> LpClient {
        let mut client = LpClient::new(base, path, socket_token);
        let (http, answer) = client.get().await;
        assert_eq!((http, &answer["status"]), (200, &json!(410)), "{answer}");
        assert_eq!(answer["messages"], json!([]));
        client.token = Some(
            answer["token"]
                .as_str()
                .unwrap_or_else(|| panic!("no token: {answer}"))
                .to_string(),
        );
        client
    }

    fn request(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let url = match (&self.token, self.token_in_query) {
            (Some(token), true) => format!("{}&token={token}", self.url),
            _ => self.url.clone(),
        };
        let mut request = self.http.request(method, url);
        if let (Some(token), false) = (&self.token, self.token_in_query) {
            request = request.header("x-phoenix-longpoll-token", token);
        }
        request
    }

    /// One GET: `(HTTP status, JSON answer)`.
    pub async fn get(&self) -> (u16, Value) {
        let response = tokio::time::timeout(WAIT, self.request(reqwest::Method::GET).send())
            .await
            .unwrap_or_else(|_| panic!("no poll answer within {WAIT:?}"))
            .unwrap_or_else(|e| panic!("GET: {e}"));
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// One POST of a raw body: `(HTTP status, JSON answer)`.
    pub async fn post(&self, body: impl Into<reqwest::Body>, content_type: &str) -> (u16, Value) {
        let response = self
            .request(reqwest::Method::POST)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST: {e}"));
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Sends a frame; returns its ref.
    pub async fn push(
        &mut self,
        join_ref: Option<&str>,
        topic: &str,
        event: &str,
        payload: Value,
    ) -> String {
        self.next_ref += 1;
        let msg_ref = self.next_ref.to_string();
        let join_ref = join_ref.map(str::to_string);
        let frame = json!([join_ref, msg_ref, topic, event, payload]).to_string();
        let (http, answer) = self.post(frame, "application/x-ndjson").await;
        assert_eq!((http, &answer), (200, &json!({"status": 200})));
        msg_ref
    }

    /// The next frame, polling for it.
    pub async fn frame(&mut self) -> Frame {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.inbox.is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no frame within {WAIT:?}"
            );
            let (http, answer) = self.get().await;
            assert_eq!(http, 200, "{answer}");
            match answer["status"].as_u64() {
                Some(200) => {
                    for message in answer["messages"].as_array().into_iter().flatten() {
                        self.inbox
                            .push_back(Frame::parse(message.as_str().unwrap_or_default()));
                    }
                }
                Some(204) => {}
                _ => panic!("poll answered {answer}"),
            }
        }
        self.inbox
            .pop_front()
            .unwrap_or_else(|| panic!("empty inbox"))
    }

    /// Frames until `event` on `topic` (others are skipped).
    pub async fn until(&mut self, topic: &str, event: &str) -> Frame {
        loop {
            let frame = self.frame().await;
            if frame.topic == topic && frame.event == event {
                return frame;
            }
        }
    }

    /// The reply to `msg_ref` (pushes before it are skipped): `(status, response)`.
    pub async fn reply_to(&mut self, msg_ref: &str) -> (String, Value) {
        loop {
            let frame = self.frame().await;
            if frame.event == "phx_reply" && frame.msg_ref == json!(msg_ref) {
                let status = frame.payload["status"].as_str().unwrap_or_default();
                return (status.to_string(), frame.payload["response"].clone());
            }
        }
    }

    pub async fn join_ok(&mut self, topic: &str, payload: Value) -> String {
        self.next_ref += 1;
        let join_ref = self.next_ref.to_string();
        let frame = json!([join_ref, join_ref, topic, "phx_join", payload]).to_string();
        let (http, answer) = self.post(frame, "application/json").await;
        assert_eq!((http, &answer), (200, &json!({"status": 200})));
        let (status, response) = self.reply_to(&join_ref).await;
        assert_eq!(status, "ok", "join {topic}: {response}");
        join_ref
    }
}

async fn short_window(backend: Backend) -> TestApp {
    TestApp::start_with(backend, |config| config.longpoll_window = WINDOW).await
}

/// Waits (polling the node's count) until this node holds no longpoll session.
async fn until_no_sessions(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !app.live().longpoll.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the session never expired"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Open (410) -> join product and cart -> a sale arrives as `stock_change` and `cart` ->
/// an empty window is 204 -> unpolled past 1.5 windows the session is gone (410).
async fn a_session_joins_hears_a_sale_and_expires(backend: Backend) {
    let app = short_window(backend).await;
    let product = app.product(true).await;
    let item = product.items[0].id;
    app.set_stock(item, 1).await;
    let (socket_token, cart_id) = app.socket_token().await;
    let mut lp = LpClient::open(&app.url, "/socket/longpoll", &socket_token).await;

    let product_topic = format!("product:{}", product.id);
    let cart_topic = format!("cart:{cart_id}");
    lp.join_ok(&product_topic, json!({})).await;
    let cart_ref = lp
        .join_ok(&cart_topic, json!({ "serialized": null, "page": "/" }))
        .await;
    lp.until(&cart_topic, "cart").await;
    let add = lp
        .push(
            Some(&cart_ref),
            &cart_topic,
            "add_item",
            json!({ "item_id": item }),
        )
        .await;
    let (status, response) = lp.reply_to(&add).await;
    assert_eq!(status, "ok", "{response}");
    assert_eq!(response["count"], json!(1));

    assert_eq!(response["holds"][0]["item_id"], json!(item), "{response}");
    // The hold took the last pair (its push may come before the reply); a restock arrives
    // as `stock_change`.
    assert_eq!(app.item(item).await.available_count, 0);
    app.admin
        .restock(item, 1)
        .await
        .unwrap_or_else(|e| panic!("restock: {e}"));
    until_level(&mut lp, &product_topic, "low").await;

    // Nothing more to say: the window passes empty (the older client's query token too).
    lp.token_in_query = true;
    let (http, answer) = lp.get().await;
    assert_eq!((http, &answer["status"]), (200, &json!(204)), "{answer}");
    assert_eq!(answer["token"].as_str(), lp.token.as_deref());
    lp.token_in_query = false;

    // Left alone past 1.5 windows, the session is dropped: polls and sends get 410.
    until_no_sessions(&app).await;
    let (_, answer) = lp.get().await;
    assert_eq!(answer["status"], json!(410), "{answer}");
    let (_, answer) = lp
        .post(r#"[null,"9","phoenix","heartbeat",{}]"#, "application/json")
        .await;
    assert_eq!(answer, json!({"status": 410}));
}

/// Bodies that are not frames get the store's JSON error; the session lives on.
async fn bad_bodies_are_refused_and_the_session_lives_on(backend: Backend) {
    let app = short_window(backend).await;
    let (socket_token, _) = app.socket_token().await;
    let mut lp = LpClient::open(&app.url, "/socket/longpoll", &socket_token).await;
    let heartbeat = r#"[null,"1","phoenix","heartbeat",{}]"#;
    let cases: Vec<(Vec<u8>, &str, u16)> = vec![
        (b"not json".to_vec(), "application/json", 400),
        (br#"{"topic":"phoenix"}"#.to_vec(), "application/json", 400),
        (b"[1,2,3]".to_vec(), "application/json", 400),
        (
            format!("{heartbeat}\nbm90IGEgZnJhbWU=").into_bytes(),
            "application/x-ndjson",
            400,
        ),
        (vec![0xff, 0xfe, 0x00], "application/json", 400),
        (Vec::new(), "application/json", 400),
        (
            vec![heartbeat; 101].join("\n").into_bytes(),
            "application/x-ndjson",
            413,
        ),
        (
            format!(
                r#"[null,"1","phoenix","heartbeat",{{"x":"{}"}}]"#,
                "y".repeat(9_000)
            )
            .into_bytes(),
            "application/json",
            413,
        ),
        (vec![b'['; 70_000], "application/json", 413),
    ];
    for (body, content_type, want) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(40)]).to_string();
        let (http, answer) = lp.post(body, content_type).await;
        assert_eq!(http, want, "{shown}: {answer}");
        assert_eq!(answer["status"], json!(want), "{shown}: {answer}");
        assert!(answer["error"].is_string(), "{shown}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{shown}: {answer}"
        );
    }
    // Nothing of those was dispatched, and the session still answers.
    let msg_ref = lp.push(None, "phoenix", "heartbeat", json!({})).await;
    let frame = lp.frame().await;
    assert_eq!(
        frame.event, "phx_reply",
        "only the heartbeat's reply: {frame:?}"
    );
    assert_eq!(frame.msg_ref, json!(msg_ref));
    // A frame the channels cannot use is answered as over a WebSocket.
    let unknown = lp.push(None, "nowhere:1", "phx_join", json!({})).await;
    let (status, response) = lp.reply_to(&unknown).await;
    assert_eq!(
        (status.as_str(), &response["reason"]),
        ("error", &json!("unmatched topic"))
    );
    assert_eq!(app.get("/healthz").await.0, 200);
}

/// A bad socket token is status 403 (the client stops); the admin door wants the admin's.
async fn bad_tokens_are_forbidden(backend: Backend) {
    let app = short_window(backend).await;
    let (socket_token, _) = app.socket_token().await;
    for (path, token) in [
        ("/socket/longpoll", "garbage"),
        ("/socket/longpoll", ""),
        ("/admin_socket/longpoll", socket_token.as_str()),
    ] {
        let (http, answer) = LpClient::new(&app.url, path, token).get().await;
        assert_eq!(
            (http, &answer["status"]),
            (200, &json!(403)),
            "{path}: {answer}"
        );
        assert_eq!(answer["error"], json!("forbidden"));
        assert!(answer.get("token").is_none(), "{answer}");
    }
    let admin_token = crate::ws::admin_token(&app.http, &app.url).await;
    let mut admin = LpClient::open(&app.url, "/admin_socket/longpoll", &admin_token).await;
    admin.join_ok("admin:cart_tracker", json!({})).await;
    admin.until("admin:cart_tracker", "presence_state").await;
    // A forged session token is no session: a POST is 410, a GET opens a new one.
    let mut forged = LpClient::new(&app.url, "/socket/longpoll", &socket_token);
    forged.token = Some("eyJkIjoiYXxiIiwidCI6MH0.AAAA".into());
    assert_eq!(
        forged.post("[]", "application/json").await.1,
        json!({"status": 410})
    );
    assert_eq!(forged.get().await.1["status"], json!(410));
}

/// An admin watching presence sees a longpoll shopper join, and leave once the session is
/// dropped for not polling.
async fn an_idle_session_leaves_presence(backend: Backend) {
    let app = short_window(backend).await;
    let (mut admin, _) = app.admin_watching().await;
    let (socket_token, cart_id) = app.socket_token().await;
    let mut lp = LpClient::open(&app.url, "/socket/longpoll", &socket_token).await;
    lp.join_ok(
        &format!("cart:{cart_id}"),
        json!({ "serialized": null, "page": "/longpoll-page" }),
    )
    .await;
    until_counts(&mut admin, |html| {
        count_in(html, "admin-shoppers") == Some(1)
    })
    .await;
    // No more polls: 1.5 windows later the session ends and its shopper leaves.
    until_counts(&mut admin, |html| {
        count_in(html, "admin-shoppers") == Some(0)
    })
    .await;
    assert!(app.live().longpoll.is_empty());
}

crate::on_both_backends!(
    a_session_joins_hears_a_sale_and_expires,
    bad_bodies_are_refused_and_the_session_lives_on,
    bad_tokens_are_forbidden,
    an_idle_session_leaves_presence,
);

/// Two real nodes behind a round-robin proxy: every other poll and send lands on the node that
/// does not hold the session, and is relayed over the cluster bus.
async fn longpoll_across_two_nodes_behind_a_round_robin_balancer(bus: Bus) {
    let cluster = Cluster::new(bus).await;
    let env = [("LONGPOLL_WINDOW_MS", "800"), ("RATE_LIMIT", "off")];
    let a = cluster.node_with("a", &env).await;
    let b = cluster.node_with("b", &env).await;
    let proxy = round_robin(vec![a.url.clone(), b.url.clone()], false).await;
    let inventory = a.admin.inventory().await.unwrap_or_else(|e| panic!("{e}"));
    let product = inventory
        .products
        .iter()
        .find(|p| p.released)
        .unwrap_or_else(|| panic!("a released product"));
    let stocked = product
        .items
        .iter()
        .find(|i| i.available_count >= 2)
        .unwrap_or_else(|| panic!("a size with two pairs"));
    let item: ItemId = stocked.id;
    a.admin
        .sell(item, stocked.available_count - 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (socket_token, cart_id) = a.socket_token().await;

    let mut lp = LpClient::open(&proxy.url, "/socket/longpoll", &socket_token).await;
    let product_topic = format!("product:{}", product.id);
    let cart_topic = format!("cart:{cart_id}");
    lp.join_ok(&product_topic, json!({})).await;
    let cart_ref = lp
        .join_ok(&cart_topic, json!({ "serialized": null, "page": "/" }))
        .await;
    let add = lp
        .push(
            Some(&cart_ref),
            &cart_topic,
            "add_item",
            json!({ "item_id": item }),
        )
        .await;
    let (status, response) = lp.reply_to(&add).await;
    assert_eq!(status, "ok", "{response}");
    // The hold took the last pair; a restock on the other node brings the size back, and
    // the session hears it wherever it lives.
    b.admin
        .restock(item, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    until_level(&mut lp, &product_topic, "low").await;
    // Both nodes took requests, and an empty window is 204 whichever answers.
    for _ in 0..2 {
        assert_eq!(lp.get().await.1["status"], json!(204));
    }
    let served = proxy.served();
    assert!(
        served.iter().all(|&n| n >= 4),
        "requests per node: {served:?}"
    );
    // The official client over LongPoll, through the same balancer.
    phoenix_client_hears_a_sale(&proxy.url, &a, &socket_token, &cart_id, None).await;
}

crate::on_both_buses!(longpoll_across_two_nodes_behind_a_round_robin_balancer);

/// The official `phoenix` client (Node, `transport: LongPoll`) joins a product and a cart
/// through `base`, and hears a restock's `stock_change` and its cart's push.
async fn phoenix_client_hears_a_sale(
    base: &str,
    node: &Node,
    socket_token: &str,
    cart_id: &str,
    fallback_ms: Option<u64>,
) {
    let inventory = node
        .admin
        .inventory()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let product = inventory
        .products
        .iter()
        .find(|p| p.released)
        .unwrap_or_else(|| panic!("a released product"));
    let item = product
        .items
        .iter()
        .rev()
        .find(|i| i.available_count > 0)
        .unwrap_or_else(|| panic!("a size in stock"));
    let mut js = crate::js::PhoenixJs::start_with(
        &format!("{base}/socket"),
        socket_token,
        &[
            (format!("product:{}", product.id), json!({})),
            (
                format!("cart:{cart_id}"),
                json!({ "serialized": null, "page": "/" }),
            ),
        ],
        fallback_ms,
    );
    if fallback_ms.is_some() {
        let opened = js.until(|line| line["open"].is_string()).await;
        assert_eq!(
            opened["open"],
            json!("longpoll"),
            "the upgrade is refused: {opened}"
        );
    }
    js.until_joined(&[
        &format!("cart:{cart_id}"),
        &format!("product:{}", product.id),
    ])
    .await;
    js.send(json!({ "push": format!("cart:{cart_id}"), "event": "add_item", "payload": { "item_id": item.id } }))
        .await;
    let reply = js.until(|line| line["reply"].is_object()).await;
    assert_eq!(reply["reply"]["status"], json!("ok"), "{reply}");
    // The pair is held; the rest of the size sells: the page hears it sold out (or, when the
    // hold took the last pair, whose push may have come before the reply, hears it back).
    let rest = item.available_count - 1;
    let level = if rest > 0 {
        node.admin
            .sell(item.id, rest)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        "out"
    } else {
        node.admin
            .restock(item.id, 1)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        "low"
    };
    let change = js
        .until(|line| {
            line["event"] == json!("stock_change") && line["payload"]["level"] == json!(level)
        })
        .await;
    assert_eq!(change["payload"]["item_id"], json!(item.id));
}

/// The official client in Node over LongPoll against one store, and its admin's Presence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_phoenix_client_over_longpoll() {
    let app = short_window(Backend::Sqlite).await;
    let admin_token = crate::ws::admin_token(&app.http, &app.url).await;
    let mut admin = crate::js::PhoenixJs::start(
        &format!("{}/admin_socket", app.url),
        &admin_token,
        &[("admin:cart_tracker".to_string(), json!({}))],
    );
    admin
        .until(|line| line["joined"] == json!("admin:cart_tracker"))
        .await;
    let (socket_token, cart_id) = app.socket_token().await;
    let mut shopper = crate::js::PhoenixJs::start(
        &format!("{}/socket", app.url),
        &socket_token,
        &[(
            format!("cart:{cart_id}"),
            json!({ "serialized": null, "page": "/js" }),
        )],
    );
    shopper
        .until(|line| line["joined"] == json!(format!("cart:{cart_id}")))
        .await;
    // Presence syncs on the admin's side: the shopper is listed under its cart id.
    admin
        .until(|line| {
            line["presence"]
                .as_array()
                .is_some_and(|keys| keys.contains(&json!(cart_id)))
        })
        .await;
    drop(shopper);
    admin
        .until(|line| {
            line["presence"]
                .as_array()
                .is_some_and(|keys| !keys.contains(&json!(cart_id)))
        })
        .await;
}

/// The official client with `longPollFallbackMs`, WebSocket first, behind a balancer over two
/// nodes that refuses upgrades: it falls back to LongPoll by itself and stays live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_falls_back_when_upgrades_are_refused() {
    let cluster = Cluster::new(Bus::Notify).await;
    let env = [("LONGPOLL_WINDOW_MS", "800"), ("RATE_LIMIT", "off")];
    let a = cluster.node_with("a", &env).await;
    let b = cluster.node_with("b", &env).await;
    let proxy = round_robin(vec![a.url.clone(), b.url.clone()], true).await;
    let (socket_token, cart_id) = a.socket_token().await;
    phoenix_client_hears_a_sale(&proxy.url, &b, &socket_token, &cart_id, Some(500)).await;
}

/// Skips `stock_change`s until one at `level` (a hold's own may come first).
async fn until_level(lp: &mut LpClient, topic: &str, level: &str) {
    loop {
        let change = lp.until(topic, "stock_change").await;
        if change.payload["level"] == json!(level) {
            return;
        }
    }
}
