//! Property tests over everything that parses what a client sends: the Phoenix frame decoder,
//! query and form parsing, the client address, signed tokens and carts, the limit settings.
//! Random and mutated inputs never panic and always end in a typed answer. Case counts are
//! bounded so the run is part of the normal `cargo test` (a few seconds); a socket-level run
//! sends mutated frames through a real socket.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{Value, json};
use sneakers::config::{Rate, TrustedProxies};
use sneakers::domain::Cart;
use sneakers::domain::token::{SOCKET_TOKEN_MAX_AGE_MS, Tokens};
use sneakers::live::protocol::{self, DecodeError};
use sneakers::web::edge::client::client_address;
use sneakers::web::edge::extract::first_wins;

use crate::helpers::{Backend, SECRET, TestApp};
use crate::ws::Received;

const VALID_FRAMES: &[&str] = &[
    r#"["1","1","product:3","phx_join",{}]"#,
    r#"[null,"7","phoenix","heartbeat",{}]"#,
    r#"["2","5","cart:abc","add_item",{"item_id":12}]"#,
    r#"["3","9","cart:abc","phx_join",{"serialized":"x.y","page":"/"}]"#,
];

/// A valid frame with a few bytes replaced, inserted or removed.
fn mutated() -> impl Strategy<Value = String> {
    (
        prop::sample::select(VALID_FRAMES),
        prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6),
    )
        .prop_map(|(frame, edits)| {
            let mut bytes = frame.as_bytes().to_vec();
            for (at, byte, kind) in edits {
                let at = at % (bytes.len() + 1);
                match kind {
                    0 if at < bytes.len() => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::hash_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Deserialize, Debug)]
#[allow(dead_code)]
struct PageQuery {
    cart_error: Option<String>,
    sold_out: Option<String>,
    order: Option<String>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_frame_decoder_answers_anything(text in ".{0,200}") {
        if protocol::decode(&text).is_ok() {
            prop_assert!(serde_json::from_str::<Vec<Value>>(&text).is_ok_and(|v| v.len() == 5));
        }
        let _ = protocol::salvage_refs(&text);
    }

    #[test]
    fn mutated_frames_decode_or_say_why(text in mutated()) {
        match protocol::decode(&text) {
            Ok(frame) => prop_assert!(serde_json::from_str::<Vec<Value>>(&text).is_ok_and(|v| v.len() == 5), "{frame:?}"),
            Err(DecodeError::NotJson | DecodeError::Shape | DecodeError::WrongType(_)) => {}
        }
        let _ = protocol::salvage_refs(&text);
    }

    #[test]
    fn five_json_values_are_a_frame_exactly_when_the_types_fit(
        parts in prop::collection::vec(json_value(), 5),
    ) {
        let text = Value::Array(parts.clone()).to_string();
        let is_ref = |v: &Value| v.is_null() || v.is_string() || v.is_number();
        let fits = is_ref(&parts[0]) && is_ref(&parts[1]) && parts[2].is_string() && parts[3].is_string();
        prop_assert_eq!(protocol::decode(&text).is_ok(), fits);
    }

    #[test]
    fn queries_and_forms_always_parse_for_pages(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        prop_assert!(first_wins::<PageQuery>(&bytes).is_ok());
    }

    #[test]
    fn repeated_names_keep_their_first_value(
        first in "[a-z0-9%+]{0,10}",
        rest in prop::collection::vec("[a-z0-9%+&=]{0,10}", 0..4),
    ) {
        let mut query = format!("order={first}");
        for value in &rest {
            query.push_str(&format!("&order={value}"));
        }
        let parsed: Result<PageQuery, _> = first_wins(query.as_bytes());
        let expected: Vec<(String, String)> = serde_urlencoded::from_str(&format!("order={first}")).unwrap_or_default();
        let expected = expected.into_iter().find(|(k, _)| k == "order").map(|(_, v)| v);
        prop_assert_eq!(parsed.ok().and_then(|q| q.order), expected);
    }

    #[test]
    fn forwarded_for_never_confuses_the_client_address(
        header in "[0-9a-f.:, ]{0,60}",
        peer in any::<[u8; 4]>(),
    ) {
        let trusted: TrustedProxies = "10.0.0.0/8".parse().unwrap_or_default();
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&header) {
            headers.insert("x-forwarded-for", value);
        }
        let peer = IpAddr::from(peer);
        let client = client_address(peer, &headers, &trusted);
        if !trusted.contains(peer) {
            prop_assert_eq!(client, peer);
        }
    }

    #[test]
    fn limit_settings_parse_or_say_why(text in ".{0,20}") {
        let _ = text.parse::<Rate>();
        let _ = text.parse::<TrustedProxies>();
    }

    #[test]
    fn forged_and_mutated_tokens_are_refused(
        token in ".{0,120}",
        edit in (any::<usize>(), any::<char>()),
    ) {
        let tokens = Tokens::new(SECRET);
        let now = 1_800_000_000_000;
        prop_assert!(tokens.socket.verify(&token, SOCKET_TOKEN_MAX_AGE_MS, now).is_err());
        let genuine = tokens.socket.sign("cart-id", now);
        let mut chars: Vec<char> = genuine.chars().collect();
        let at = edit.0 % chars.len();
        let changed = chars[at] != edit.1;
        chars[at] = edit.1;
        let tampered: String = chars.into_iter().collect();
        let verified = tokens.socket.verify(&tampered, SOCKET_TOKEN_MAX_AGE_MS, now);
        if changed {
            prop_assert!(verified.is_err() || verified.as_deref() == Ok("cart-id"));
        }
        // A forged or tampered cart is an empty cart, never an error or a panic.
        prop_assert!(Cart::deserialize(Some(&token), &tokens.cart, "cart-id", now).is_empty());
        let _ = Cart::deserialize(Some(&tampered), &tokens.cart, "cart-id", now);
    }
}

/// Mutated frames through a real socket: each gets a reply, the socket lives on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_answers_every_mutated_frame_and_lives_on() {
    let app = TestApp::start_with(Backend::Sqlite, crate::helpers::unlimited).await;
    let mut client = app.client().await;
    let (_, cart_id) = app.socket_token().await;
    let mut rng = StdRng::seed_from_u64(12);
    let mut answered = 0;
    for n in 0..300 {
        let base = VALID_FRAMES[n % VALID_FRAMES.len()].replace("abc", &cart_id);
        let mut bytes = base.into_bytes();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..bytes.len());
            bytes[at] = rng.random();
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        client.send_text(text).await;
        // Then a heartbeat, whose reply marks the end of whatever that frame brought.
        let marker = format!("marker-{n}");
        client
            .send_text(json!([null, marker, "phoenix", "heartbeat", {}]).to_string())
            .await;
        loop {
            match client.recv().await {
                Received::Frame(frame) if frame.msg_ref == json!(marker) => break,
                Received::Frame(_) => answered += 1,
                Received::Closed(code) => panic!("socket closed ({code:?}) after frame {n}"),
            }
        }
    }
    assert!(
        answered >= 300,
        "every frame got at least one reply: {answered}"
    );
    assert_eq!(client.heartbeat().await.0, "ok");
}
