//! `admin:cart_tracker`: presence for admins. The join pushes `presence_state` and the current
//! counts; then coalesced `presence_diff`s (with the re-rendered counts) and server figures
//! arrive as broadcasts on the same topic.

use serde_json::{Value, json};

use super::{Ctx, Refusal};
use crate::html::fragments as views;
use crate::live::{Identity, Live};

pub const TOPIC: &str = "admin:cart_tracker";

pub struct AdminChannel;

/// `{html}` with every count fragment, rendered from the presence state and the cache.
pub fn counts_html(live: &Live) -> String {
    let counts = live.presence.counts();
    live.inventory
        .read(|catalog| views::admin::counts(&counts, catalog))
        .into_string()
}

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
        ctx.subscribe_frames(TOPIC);
        ctx.subscribe_info(super::cart::TOKEN_REFRESH_TOPIC);
        let (state, counts) = ctx.live.presence.published();
        ctx.push("presence_state", &state);
        let html = ctx
            .live
            .inventory
            .read(|catalog| views::admin::counts(&counts, catalog));
        ctx.push("counts", &json!({ "html": html.into_string() }));
        ctx.push("new_token", &new_token(ctx.live));
        Ok(json!({}))
    }

    pub fn handle_info(&mut self, ctx: &mut Ctx) {
        ctx.push("new_token", &new_token(ctx.live));
    }
}
