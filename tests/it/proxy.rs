//! A balancer for the tests: each request goes to the next backend in turn (round robin, no
//! sticky sessions); optionally it refuses WebSocket upgrades, as some corporate proxies do.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, header};
use axum::response::Response;

pub struct RoundRobin {
    pub url: String,
    /// Requests each backend got.
    pub served: Arc<Vec<AtomicUsize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RoundRobin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RoundRobin {
    pub fn served(&self) -> Vec<usize> {
        self.served
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect()
    }
}

/// Headers that belong to one hop, not to the request.
fn hop_by_hop(name: &HeaderName) -> bool {
    [
        header::HOST,
        header::CONNECTION,
        header::UPGRADE,
        header::TRANSFER_ENCODING,
        header::CONTENT_LENGTH,
        header::TE,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
}

pub async fn round_robin(backends: Vec<String>, refuse_upgrades: bool) -> RoundRobin {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let served: Arc<Vec<AtomicUsize>> =
        Arc::new(backends.iter().map(|_| AtomicUsize::new(0)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let counts = Arc::clone(&served);
    let handler = move |request: Request| {
        let (backends, next, http, counts) = (
            backends.clone(),
            Arc::clone(&next),
            http.clone(),
            Arc::clone(&counts),
        );
        async move {
            let (parts, body) = request.into_parts();
            if refuse_upgrades && parts.headers.contains_key(header::UPGRADE) {
                return Response::builder()
                    .status(403)
                    .body(Body::from("no WebSockets through this proxy"))
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            let at = next.fetch_add(1, Ordering::Relaxed) % backends.len();
            counts[at].fetch_add(1, Ordering::Relaxed);
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let body = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            let mut forward = http.request(parts.method.clone(), format!("{}{path}", backends[at]));
            for (name, value) in &parts.headers {
                if !hop_by_hop(name) {
                    forward = forward.header(name, value);
                }
            }
            if let Some(host) = parts.headers.get(header::HOST) {
                forward = forward.header("x-forwarded-host", host);
            }
            let mut response = Response::builder();
            let body = match forward.body(body).send().await {
                Ok(answer) => {
                    response = response.status(answer.status());
                    for (name, value) in answer.headers() {
                        if !hop_by_hop(name) {
                            response = response.header(name, value);
                        }
                    }
                    Body::from(answer.bytes().await.unwrap_or_default())
                }
                Err(error) => {
                    response = response.status(502);
                    Body::from(error.to_string())
                }
            };
            response.body(body).unwrap_or_else(|e| panic!("{e}"))
        }
    };
    let router = axum::Router::new().fallback(handler);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    RoundRobin {
        url: format!("http://{addr}"),
        served,
        task,
    }
}
