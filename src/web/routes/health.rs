//! `GET /healthz`: liveness for the platform router, with this node's cluster feed.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::web::AppState;

async fn healthz(State(state): State<AppState>) -> Json<Value> {
    let cluster = state.live.cluster.status().as_str();
    Json(json!({ "status": "ok", "node": state.config.node_name, "cluster": cluster }))
}

pub fn router() -> axum::Router<crate::web::AppState> {
    axum::Router::new().route("/healthz", axum::routing::get(healthz))
}
