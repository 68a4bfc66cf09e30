//! Live forms: a form marked `data-change` sends `{form, target, fields}` as the user types
//! (and again after a rejoin, `recovered: true`); its channel answers `{html}`, the form
//! re-rendered by id from those fields with what is wrong with them. The channel only finds
//! the form and renders it: the rules are the domain's.

use serde_json::{Map, Value, json};

use super::HandleResult;

/// One change of a live form, as the shim sends it.
pub struct Change<'a> {
    /// The form's element id.
    pub form: &'a str,
    fields: &'a Map<String, Value>,
    /// The field being typed in (none after a rejoin's resend).
    target: Option<&'a str>,
}

impl<'a> Change<'a> {
    pub fn parse(payload: &'a Value) -> Option<Change<'a>> {
        Some(Change {
            form: payload["form"].as_str()?,
            fields: payload["fields"].as_object()?,
            target: payload["target"].as_str(),
        })
    }

    pub fn target(&self) -> Option<&'a str> {
        self.target
    }

    /// Every `(name, value)` typed, a repeated field once per value.
    pub fn pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.fields.iter().flat_map(|(name, value)| {
            let values: Vec<&'a str> = match value {
                Value::String(s) => vec![s.as_str()],
                Value::Array(values) => values.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            values.into_iter().map(move |v| (name.as_str(), v))
        })
    }

    /// A field's value as typed (a repeated field: its first value).
    pub fn field(&self, name: &str) -> Option<&'a str> {
        match self.fields.get(name)? {
            Value::String(s) => Some(s),
            Value::Array(values) => values.first()?.as_str(),
            _ => None,
        }
    }
}

/// The form re-rendered.
pub fn rendered(html: String) -> HandleResult {
    HandleResult::Reply(Ok(json!({ "html": html })))
}

/// A change that names no form this channel renders.
pub fn unknown_form() -> HandleResult {
    HandleResult::Reply(Err(json!({
        "error": "unknown_form",
        "message": "This form cannot be checked live; send it to save it.",
    })))
}
