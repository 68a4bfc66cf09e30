//! Phoenix Channels V2 JSON: every frame is `[join_ref, ref, topic, event, payload]`.

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Utf8Bytes;

#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub join_ref: Option<String>,
    pub msg_ref: Option<String>,
    pub topic: String,
    pub event: String,
    pub payload: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("malformed frame: not JSON")]
    NotJson,
    #[error("malformed frame: expected [join_ref, ref, topic, event, payload]")]
    Shape,
    #[error("malformed frame: {0}")]
    WrongType(&'static str),
}

/// Refs are strings (the JS client's) or null; numbers are accepted as their text, as the
/// Elixir client and hand-typed `wscat` sessions send them.
fn opt_ref(value: &Value, what: &'static str) -> Result<Option<String>, DecodeError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(DecodeError::WrongType(what)),
    }
}

pub fn decode(text: &str) -> Result<Frame, DecodeError> {
    let value: Value = serde_json::from_str(text).map_err(|_| DecodeError::NotJson)?;
    let Value::Array(mut parts) = value else {
        return Err(DecodeError::Shape);
    };
    if parts.len() != 5 {
        return Err(DecodeError::Shape);
    }
    let payload = parts.pop().unwrap_or(Value::Null);
    let Value::String(event) = &parts[3] else {
        return Err(DecodeError::WrongType("event must be a string"));
    };
    let Value::String(topic) = &parts[2] else {
        return Err(DecodeError::WrongType("topic must be a string"));
    };
    Ok(Frame {
        join_ref: opt_ref(&parts[0], "join_ref must be a string or null")?,
        msg_ref: opt_ref(&parts[1], "ref must be a string or null")?,
        topic: topic.clone(),
        event: event.clone(),
        payload,
    })
}

/// The topic and event of a frame, read from its first few dozen bytes without parsing the
/// payload: a client reading thousands of pushes can pick the ones it wants for the cost of a
/// prefix scan. `None` unless the frame starts as `[join_ref, ref, "topic", "event",` with each
/// ref null, a string or a number, and the topic and event free of escapes ([`decode`] reads
/// those). It does not check the payload: a frame it accepts may still fail to [`decode`].
pub fn peek(text: &str) -> Option<(&str, &str)> {
    /// After `[` or a `,`: skips one ref and the comma after it.
    fn skip_ref(rest: &str) -> Option<&str> {
        let rest = rest.trim_start();
        let after = if let Some(after) = rest.strip_prefix("null") {
            after
        } else if let Some(inner) = rest.strip_prefix('"') {
            let mut escaped = false;
            let end = inner.char_indices().find_map(|(i, c)| {
                let closes = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                closes.then_some(i)
            })?;
            &inner[end + 1..]
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')))
                .unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            &rest[end..]
        };
        after.trim_start().strip_prefix(',')
    }
    /// A string without escapes, then the comma after it.
    fn plain_string(rest: &str) -> Option<(&str, &str)> {
        let inner = rest.trim_start().strip_prefix('"')?;
        let end = inner.find(['"', '\\'])?;
        let after = inner[end..].strip_prefix('"')?;
        Some((&inner[..end], after.trim_start().strip_prefix(',')?))
    }
    let rest = text.trim_start().strip_prefix('[')?;
    let rest = skip_ref(skip_ref(rest)?)?;
    let (topic, rest) = plain_string(rest)?;
    let (event, _payload) = plain_string(rest)?;
    Some((topic, event))
}

/// What can still be read from a frame that failed to decode, so the error reply reaches the
/// right request.
pub fn salvage_refs(text: &str) -> (Option<String>, Option<String>, String) {
    let parts = serde_json::from_str::<Vec<Value>>(text).unwrap_or_default();
    let get = |i: usize| parts.get(i).and_then(|v| opt_ref(v, "").ok()).flatten();
    let topic = parts
        .get(2)
        .and_then(Value::as_str)
        .unwrap_or("phoenix")
        .to_string();
    (get(0), get(1), topic)
}

pub fn encode(
    join_ref: Option<&str>,
    msg_ref: Option<&str>,
    topic: &str,
    event: &str,
    payload: &Value,
) -> Utf8Bytes {
    // A tuple, not `json!([...])`: the macro would deep-copy the payload into a new `Value`
    // before writing it, and every join and push goes through here.
    serde_json::to_string(&(join_ref, msg_ref, topic, event, payload))
        .expect("a tuple of strings and a Value always serializes")
        .into()
}

/// [`encode`] for a payload already written as JSON (`payload_json` must be one JSON value):
/// a state pushed to every joiner is serialized once, and each frame only copies it.
pub fn encode_raw(
    join_ref: Option<&str>,
    msg_ref: Option<&str>,
    topic: &str,
    event: &str,
    payload_json: &str,
) -> Utf8Bytes {
    let head = serde_json::to_string(&(join_ref, msg_ref, topic, event))
        .expect("a tuple of strings always serializes");
    // `[a,b,c,d]` becomes `[a,b,c,d,<payload>]`.
    let mut text = String::with_capacity(head.len() + payload_json.len() + 1);
    text.push_str(&head[..head.len() - 1]);
    text.push(',');
    text.push_str(payload_json);
    text.push(']');
    text.into()
}

pub fn reply(
    join_ref: Option<&str>,
    msg_ref: Option<&str>,
    topic: &str,
    ok: bool,
    response: Value,
) -> Utf8Bytes {
    let status = if ok { "ok" } else { "error" };
    encode(
        join_ref,
        msg_ref,
        topic,
        "phx_reply",
        &json!({ "status": status, "response": response }),
    )
}

pub fn error_reply(
    join_ref: Option<&str>,
    msg_ref: Option<&str>,
    topic: &str,
    reason: &str,
) -> Utf8Bytes {
    reply(join_ref, msg_ref, topic, false, json!({ "reason": reason }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_join() {
        let frame = decode(r#"["1","1","product:3","phx_join",{}]"#);
        assert_eq!(
            frame,
            Ok(Frame {
                join_ref: Some("1".into()),
                msg_ref: Some("1".into()),
                topic: "product:3".into(),
                event: "phx_join".into(),
                payload: json!({}),
            })
        );
        let heartbeat = decode(r#"[null,"7","phoenix","heartbeat",{}]"#);
        assert_eq!(
            heartbeat.map(|f| (f.join_ref, f.msg_ref)),
            Ok((None, Some("7".into())))
        );
        assert_eq!(
            decode(r#"[1,2,"t","e",{}]"#).map(|f| f.msg_ref),
            Ok(Some("2".into()))
        );
    }

    #[test]
    fn rejects_what_is_not_a_frame() {
        assert_eq!(decode("nope"), Err(DecodeError::NotJson));
        assert_eq!(decode("{}"), Err(DecodeError::Shape));
        assert_eq!(decode(r#"["1","1","t","e"]"#), Err(DecodeError::Shape));
        assert!(matches!(
            decode(r#"["1","1",5,"e",{}]"#),
            Err(DecodeError::WrongType(_))
        ));
        assert!(matches!(
            decode(r#"[{},"1","t","e",{}]"#),
            Err(DecodeError::WrongType(_))
        ));
        assert!(matches!(
            decode(r#"["1","1","t",null,{}]"#),
            Err(DecodeError::WrongType(_))
        ));
    }

    #[test]
    fn peeks_at_topic_and_event_without_the_payload() {
        let push = r#"[null,null,"product:3","stock_change",{"html":"<b>\"x\"</b>","item_id":12}]"#;
        assert_eq!(peek(push), Some(("product:3", "stock_change")));
        let reply = r#"["1","2","cart:abc","phx_reply",{"status":"ok","response":{}}]"#;
        assert_eq!(peek(reply), Some(("cart:abc", "phx_reply")));
        assert_eq!(
            peek(r#" [ 1 , "a\"b" , "phoenix" , "heartbeat" , {}]"#),
            Some(("phoenix", "heartbeat"))
        );
        // The payload is not read: a broken one still peeks, and decode rejects it.
        assert_eq!(peek(r#"[null,null,"t","e",{"#), Some(("t", "e")));
        assert!(decode(r#"[null,null,"t","e",{"#).is_err());
        assert_eq!(peek(r#"["1","1","t","e"]"#), None);
        assert_eq!(peek(r#"["1","1","t\u0041","e",{}]"#), None);
        assert_eq!(peek(r#"[{},"1","t","e",{}]"#), None);
        assert_eq!(peek(r#"["1","1",5,"e",{}]"#), None);
        assert_eq!(peek("garbage"), None);
        assert_eq!(peek(""), None);
    }

    #[test]
    fn encodes_replies_and_pushes() {
        let ok = reply(Some("1"), Some("2"), "product:1", true, json!({}));
        assert_eq!(
            ok.as_str(),
            r#"["1","2","product:1","phx_reply",{"response":{},"status":"ok"}]"#
        );
        let push = encode(
            None,
            None,
            "product:1",
            "released",
            &json!({"product_id": 1}),
        );
        assert_eq!(
            push.as_str(),
            r#"[null,null,"product:1","released",{"product_id":1}]"#
        );
        let raw = encode_raw(
            Some("3"),
            None,
            "product:1",
            "stock_change",
            r#"{"level":"low"}"#,
        );
        assert_eq!(
            raw.as_str(),
            r#"["3",null,"product:1","stock_change",{"level":"low"}]"#
        );
        assert_eq!(
            salvage_refs(r#"["4","5","cart:x",{}]"#),
            (Some("4".into()), Some("5".into()), "cart:x".into())
        );
        assert_eq!(salvage_refs("garbage"), (None, None, "phoenix".into()));
    }
}
