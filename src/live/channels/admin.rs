//! `admin:cart_tracker`: presence for admins. The join pushes `presence_state` and the current
//! counts; then coalesced `presence_diff`s (with the re-rendered counts) and server figures
//! arrive as broadcasts on the same topic.

use serde_json::{Value, json};

use super::{Ctx, Refusal};
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

    pub fn handle_info(&mut self, ctx: &mut Ctx) {
        ctx.push("new_token", &new_token(ctx.live));
    }
}
