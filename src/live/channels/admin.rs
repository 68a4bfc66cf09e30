//! `admin:cart_tracker`: presence for admins. The join pushes `presence_state` and the current
//! counts; then coalesced `presence_diff`s (with the re-rendered counts) and server figures
//! arrive as broadcasts on the same topic.

use serde_json::{Value, json};

use super::forms::{self, Change};
use super::product_form;
use super::{Ctx, HandleResult, Refusal};
use crate::domain::ProductId;
use crate::domain::catalog::parse_limit;
use crate::html::fragments::admin::{Typed, limit_form};
use crate::html::fragments::product_form::FORM_ID;
use crate::live::fanout::{ADMIN_TOPIC, TOKEN_REFRESH_TOPIC, counts_html};
use crate::live::{Identity, Live};

pub struct AdminChannel;

/// A fresh admin token, so a dashboard open for days can still reconnect.
fn new_token(live: &Live) -> Value {
    json!({ "token": live.tokens.admin.sign("admin", chrono::Utc::now().timestamp_millis()) })
}

impl AdminChannel {
    pub fn route(rest: &str, identity: &Identity) -> Result<AdminChannel, Refusal> {
        match (rest, identity) {
            ("cart_tracker", Identity::Admin) => Ok(AdminChannel),
            ("cart_tracker", _) => Err("unauthorized"),
            _ => Err("unmatched topic"),
        }
    }

    pub fn join(&mut self, ctx: &mut Ctx, _payload: &Value) -> Result<Value, Value> {
        ctx.subscribe_frames(ADMIN_TOPIC);
        ctx.subscribe_info(TOKEN_REFRESH_TOPIC);
        let (state, counts) = ctx.live.presence.published();
        ctx.push("presence_state", &state);
        ctx.push("counts", &json!({ "html": counts_html(ctx.live, &counts) }));
        ctx.push("new_token", &new_token(ctx.live));
        Ok(json!({}))
    }

    /// `validate`: a live form of the dashboard (`#admin-limit-<product id>`), re-rendered
    /// from what the admin typed.
    pub fn handle_in(&mut self, ctx: &mut Ctx, event: &str, payload: &Value) -> HandleResult {
        if event != "validate" {
            return HandleResult::UnknownEvent;
        }
        let Some(change) = Change::parse(payload) else {
            return forms::unknown_form();
        };
        if change.form == FORM_ID {
            return product_form::validate(ctx.live, &change);
        }
        let Some(id) = change
            .form
            .strip_prefix("admin-limit-")
            .and_then(|id| id.parse::<ProductId>().ok())
        else {
            return forms::unknown_form();
        };
        let value = change.field("max").unwrap_or_default();
        let typed = Typed {
            value,
            error: parse_limit(Some(value)).err().map(|e| e.to_string()),
        };
        let html = ctx.live.inventory.read(|c| {
            c.product(id)
                .map(|p| limit_form(p, Some(&typed)).into_string())
        });
        html.map_or_else(forms::unknown_form, forms::rendered)
    }

    pub fn handle_info(&mut self, ctx: &mut Ctx) {
        ctx.push("new_token", &new_token(ctx.live));
    }
}
