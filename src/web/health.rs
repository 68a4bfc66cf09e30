use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;
use crate::live::cluster::FeedStatus;

pub async fn healthz(State(state): State<AppState>) -> Json<Value> {
    let cluster = match state.live.feed.status() {
        FeedStatus::Local => "local",
        FeedStatus::Live => "live",
        FeedStatus::Down => "down",
    };
    Json(json!({ "status": "ok", "node": state.config.node_name, "cluster": cluster }))
}
