//! WebSocket protocol violations, written as raw frames (no client library would send them),
//! each answered with its RFC 6455 close code; the node and other sockets carry on.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp};
use crate::raw::connect;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame as a client writes it: `first` is FIN/RSV/opcode, the payload masked unless
/// `masked` is false, with a length field as long as the payload needs.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut bytes = vec![first];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => bytes.push(mask_bit | n as u8),
        n if n <= 0xffff => {
            bytes.push(mask_bit | 126);
            bytes.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            bytes.push(mask_bit | 127);
            bytes.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        bytes.extend_from_slice(&MASK);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    } else {
        bytes.extend_from_slice(payload);
    }
    bytes
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

/// An upgraded shopper socket on a raw TCP stream.
async fn open(app: &TestApp) -> TcpStream {
    let (token, _) = app.socket_token().await;
    let mut stream = connect(app.addr()).await;
    let request = format!(
        "GET /socket/websocket?vsn=2.0.0&token={token} HTTP/1.1\r\nHost: shop\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream
            .read_exact(&mut byte)
            .await
            .unwrap_or_else(|e| panic!("handshake: {e}"));
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream
}

/// Reads server frames until a close frame and returns its code (`None`: closed without one,
/// or with an empty close).
async fn close_code(stream: &mut TcpStream) -> Option<u16> {
    let read = async {
        loop {
            let mut header = [0u8; 2];
            stream.read_exact(&mut header).await.ok()?;
            let len = match header[1] & 0x7f {
                126 => {
                    let mut ext = [0u8; 2];
                    stream.read_exact(&mut ext).await.ok()?;
                    u64::from(u16::from_be_bytes(ext))
                }
                127 => {
                    let mut ext = [0u8; 8];
                    stream.read_exact(&mut ext).await.ok()?;
                    u64::from_be_bytes(ext)
                }
                n => u64::from(n),
            };
            let mut payload = vec![0u8; usize::try_from(len).ok()?];
            stream.read_exact(&mut payload).await.ok()?;
            if header[0] & 0x0f == 0x8 {
                return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .unwrap_or_else(|_| panic!("no close within 10 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_protocol_violation_gets_its_close_code() {
    let app = TestApp::start(Backend::Sqlite).await;
    let mut bystander = app.client().await;
    let huge_length = {
        // A binary frame claiming 2^62 bytes.
        let mut bytes = vec![0x82, 0x80 | 127];
        bytes.extend_from_slice(&(1u64 << 62).to_be_bytes());
        bytes.extend_from_slice(&MASK);
        bytes
    };
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "invalid UTF-8 text",
            frame(0x81, &[0xff, 0xfe, 0xfd], true),
            1007,
        ),
        (
            "invalid UTF-8 split over fragments",
            [frame(0x01, &[0xe2, 0x82], true), frame(0x80, &[0x28], true)].concat(),
            1007,
        ),
        ("an unmasked frame", frame(0x81, b"[]", false), 1002),
        ("a fragmented ping", frame(0x09, b"hi", true), 1002),
        (
            "a control frame over 125 bytes",
            frame(0x89, &[b'x'; 126], true),
            1002,
        ),
        ("a reserved data opcode", frame(0x83, b"x", true), 1002),
        ("a reserved control opcode", frame(0x8b, b"", true), 1002),
        ("reserved bits", frame(0xc1, b"[]", true), 1002),
        (
            "a continuation with nothing to continue",
            frame(0x80, b"x", true),
            1002,
        ),
        ("a 2^62-byte length", huge_length, 1009),
        (
            "a 70 KB message",
            frame(0x81, &[b' '; 70 * 1024], true),
            1009,
        ),
        (
            "a close code nobody may send",
            frame(0x88, &close_payload(1005, b""), true),
            1002,
        ),
        (
            "a close code out of range",
            frame(0x88, &close_payload(999, b""), true),
            1002,
        ),
        ("a one-byte close", frame(0x88, &[3], true), 1002),
        (
            "a close reason that is not UTF-8",
            frame(0x88, &close_payload(1000, &[0xff]), true),
            1007,
        ),
        (
            "a clean close",
            frame(0x88, &close_payload(1000, b"bye"), true),
            1000,
        ),
    ];
    for (what, bytes, expected) in cases {
        let mut stream = open(&app).await;
        stream
            .write_all(&bytes)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(close_code(&mut stream).await, Some(expected), "{what}");
    }
    // The node and its other sockets never noticed.
    assert_eq!(bystander.heartbeat().await.0, "ok");
    assert_eq!(app.get("/").await.0, 200);
}
