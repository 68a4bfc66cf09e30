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
    json!([join_ref, msg_ref, topic, event, payload])
        .to_string()
        .into()
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
        assert_eq!(
            salvage_refs(r#"["4","5","cart:x",{}]"#),
            (Some("4".into()), Some("5".into()), "cart:x".into())
        );
        assert_eq!(salvage_refs("garbage"), (None, None, "phoenix".into()));
    }
}
