//! The HTTP server, through hyper's HTTP/1 builder (`axum::serve` exposes none of this):
//! a header read timeout (which also closes idle keep-alive connections), a hard cap on the
//! request head, keep-alive for a bounded number of requests, `TCP_NODELAY`, a cap on open
//! connections per client address (behind a trusted proxy: the address its `X-Forwarded-For`
//! names), WebSocket upgrades, and a graceful shutdown that stops accepting and lets in-flight
//! requests finish.
//!
//! HTTP/1 only: platform routers speak HTTP/1.1 to the app, and browsers use HTTP/2 only over
//! TLS, which the router ends.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::client::client_address;
use crate::config::Connections;
use crate::config::limits::{canonical, client_network};
use crate::html::pages::errors::error_page;

/// Heads past this are refused by hyper itself (431, no body); the store's own 431 page
/// answers heads past `extract::MAX_HEAD`, well below it.
const HARD_MAX_HEAD: usize = 96 * 1024;
/// Requests on one keep-alive connection; then it closes, so clients spread over the nodes
/// again after a scale-out.
const REQUESTS_PER_CONNECTION: u32 = 1000;
/// Refusals of over-cap connections in progress; past it they are simply closed.
const MAX_REFUSING: usize = 256;
/// A connection refused for its address gets this long to read the answer.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Open connections per client address (an IPv6 client's network, see `client_network`). A
/// slot is held for the connection's whole life, WebSocket included (the slot travels inside
/// the stream the upgrade takes over). Behind a trusted proxy every connection is the proxy's,
/// so the client is known only from a request's `X-Forwarded-For`: each request takes its
/// client's slot for the connection (a proxy may reuse a connection for another client).
#[derive(Default)]
struct PerAddress {
    open: Mutex<HashMap<IpAddr, u32>>,
}

struct Slot {
    table: Arc<PerAddress>,
    address: IpAddr,
}

impl PerAddress {
    fn take(table: &Arc<PerAddress>, address: IpAddr, cap: u32) -> Option<Slot> {
        let mut open = table.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(address).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(Slot {
            table: Arc::clone(table),
            address,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .table
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// The slot of a connection, shared by the stream (which an upgrade takes over) and, behind a
/// trusted proxy, the requests that decide whose it is.
type HeldSlot = Arc<Mutex<Option<Slot>>>;

/// A TCP stream holding its address's slot until it is dropped.
struct Counted {
    tcp: TcpStream,
    _slot: HeldSlot,
}

/// Behind a trusted proxy: what a request needs to take its client's slot.
#[derive(Clone)]
struct ForwardedCap {
    table: Arc<PerAddress>,
    cap: u32,
    connections: Arc<Connections>,
    held: HeldSlot,
}

impl ForwardedCap {
    /// Takes the slot of the client `headers` name for this connection, unless it holds it
    /// already; `false` when that client is over its cap.
    fn take(&self, peer: IpAddr, headers: &HeaderMap) -> bool {
        let client = client_address(peer, headers, &self.connections.trusted_proxies);
        let network = client_network(client, self.connections.ipv6_prefix);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.as_ref().is_some_and(|slot| slot.address == network) {
            return true;
        }
        // The previous client's slot goes first: one connection is never counted twice.
        *held = None;
        *held = PerAddress::take(&self.table, network, self.cap);
        if held.is_none() {
            metrics::counter!("sneakers_connections_refused_total").increment(1);
            tracing::debug!(address = %client, "request refused: too many connections from this address");
        }
        held.is_some()
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

/// Serves `router` on `listener` until `stop` resolves; then stops accepting, asks every
/// connection to finish its request and close, and returns once they all have.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    connections: Connections,
    stop: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(connections.header_read_timeout)
        .max_header_size(HARD_MAX_HEAD)
        .keep_alive(true);
    let table = Arc::new(PerAddress::default());
    let connections = Arc::new(connections);
    let refusing = Arc::new(AtomicUsize::new(0));
    let tracker = TaskTracker::new();
    let draining = CancellationToken::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    if !is_connection_error(&error) {
                        // Out of file descriptors, most likely: give closing sockets a moment.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
        };
        // Small frames (a reply, then a push) must not wait for the client's delayed ACK.
        let _ = tcp.set_nodelay(true);
        let address = canonical(peer.ip());
        let held: HeldSlot = Arc::default();
        let mut forwarded = None;
        match connections.per_address {
            // Behind the platform's router every connection is the router's: its requests say
            // whose it is.
            Some(cap) if connections.trusted_proxies.contains(address) => {
                forwarded = Some(ForwardedCap {
                    table: Arc::clone(&table),
                    cap,
                    connections: Arc::clone(&connections),
                    held: Arc::clone(&held),
                });
            }
            Some(cap) => {
                let network = client_network(address, connections.ipv6_prefix);
                match PerAddress::take(&table, network, cap) {
                    Some(slot) => {
                        *held.lock().unwrap_or_else(PoisonError::into_inner) = Some(slot);
                    }
                    None => {
                        refuse(tcp, address, &refusing, &tracker);
                        continue;
                    }
                }
            }
            None => {}
        }
        let io = TokioIo::new(Counted { tcp, _slot: held });
        let connection = http
            .serve_connection(io, Connected::new(router.clone(), peer, forwarded))
            .with_upgrades();
        let draining = draining.clone();
        tracker.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = draining.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                // Timeouts, resets and malformed requests: the client's business.
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    draining.cancel();
    tracker.close();
    tracker.wait().await;
    Ok(())
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// An address over its cap gets the store's page (429) and the connection closes; the few
/// bytes it sent are read and dropped first so the answer is not lost to a reset.
fn refuse(mut tcp: TcpStream, address: IpAddr, refusing: &Arc<AtomicUsize>, tracker: &TaskTracker) {
    metrics::counter!("sneakers_connections_refused_total").increment(1);
    tracing::debug!(%address, "connection refused: too many open from this address");
    if refusing.fetch_add(1, Ordering::Relaxed) >= MAX_REFUSING {
        refusing.fetch_sub(1, Ordering::Relaxed);
        return;
    }
    let refusing = Arc::clone(refusing);
    tracker.spawn(async move {
        let body = too_many_connections_page();
        let answer = format!(
            "HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/html; charset=utf-8\r\n\
             retry-after: 5\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            tcp.write_all(answer.as_bytes()).await?;
            tcp.shutdown().await?;
            let mut sink = [0u8; 4096];
            while tcp.read(&mut sink).await? > 0 {}
            io::Result::Ok(())
        })
        .await;
        refusing.fetch_sub(1, Ordering::Relaxed);
    });
}

fn too_many_connections_page() -> String {
    error_page(
        429,
        "Too many connections",
        "Your network has more connections open to this store than it accepts. Close a few tabs and try again in a moment.",
    )
    .into_string()
}

/// A request over its client's connection cap (behind a proxy): the same page, and the
/// connection closes.
fn too_many_connections() -> axum::response::Response {
    let mut response =
        axum::response::Response::new(axum::body::Body::from(too_many_connections_page()));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The router for one connection: each request learns its peer (and behind a proxy takes its
/// client's slot), and the last request a connection may carry says so.
#[derive(Clone)]
struct Connected {
    router: Router,
    peer: SocketAddr,
    served: Arc<AtomicU32>,
    forwarded: Option<ForwardedCap>,
}

impl Connected {
    fn new(router: Router, peer: SocketAddr, forwarded: Option<ForwardedCap>) -> Connected {
        Connected {
            router,
            peer,
            served: Arc::new(AtomicU32::new(0)),
            forwarded,
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for Connected {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        if let Some(forwarded) = &self.forwarded
            && !forwarded.take(self.peer.ip(), request.headers())
        {
            return Box::pin(async { Ok(too_many_connections()) });
        }
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let last = self.served.fetch_add(1, Ordering::Relaxed) + 1 >= REQUESTS_PER_CONNECTION;
        let router = self.router.clone();
        Box::pin(async move {
            let mut response = router.oneshot(request).await?;
            if last {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response)
        })
    }
}
