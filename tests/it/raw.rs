//! Raw TCP for what a well-behaved HTTP client cannot send: half a request head, a bad chunk,
//! a connection from another loopback address, and checks that the server closed one.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::TestApp;

/// Texts of axum, hyper and serde that must never reach a client.
pub const FRAMEWORK_TEXT: &[&str] = &[
    "Failed to deserialize",
    "Invalid URL",
    "Connection header",
    "did not include",
    "Failed to buffer",
    "error reading a body",
    "length limit exceeded",
    "Cannot parse",
    "Missing request extension",
    "duplicate field",
];

pub fn assert_no_framework_text(what: &str, body: &str) {
    for text in FRAMEWORK_TEXT {
        assert!(
            !body.contains(text),
            "{what}: framework text {text:?} in {body}"
        );
    }
}

impl TestApp {
    pub fn addr(&self) -> SocketAddr {
        self.url
            .trim_start_matches("http://")
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", self.url))
    }
}

/// A TCP connection to `to` from the loopback address `from` (127.0.0.x are all this machine,
/// and each is its own client address to the store).
pub async fn connect_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap_or_else(|e| panic!("socket: {e}"));
    socket
        .bind(SocketAddr::new(from, 0))
        .unwrap_or_else(|e| panic!("bind {from}: {e}"));
    socket
        .connect(to)
        .await
        .unwrap_or_else(|e| panic!("connect {to} from {from}: {e}"))
}

pub async fn connect(to: SocketAddr) -> TcpStream {
    connect_from(IpAddr::from([127, 0, 0, 1]), to).await
}

/// A response read to the end of the connection.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// Reads what the server sends until it closes the connection (at most 10 s).
pub async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut bytes)).await;
    match read {
        Ok(Ok(_)) => {}
        // A reset after the answer was sent still leaves the answer readable.
        Ok(Err(_)) => {}
        Err(_) => panic!("the server neither answered nor closed within 10 s: {bytes:?}"),
    }
    let text = String::from_utf8_lossy(&bytes).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// Sends `request` as it is and reads the answer.
pub async fn exchange(to: SocketAddr, request: &[u8]) -> Answer {
    let mut stream = connect(to).await;
    stream
        .write_all(request)
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    read_answer(&mut stream).await
}

/// Waits until the server closes `stream` (EOF or reset), reading and dropping anything it
/// sends; `false` if it is still open after `limit`.
pub async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut sink = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}
