//! `GET /healthz`: liveness for the platform router, with this node's cluster feed and bus.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::web::AppState;

async fn healthz(State(state): State<AppState>) -> Json<Value> {
    let cluster = &state.live.cluster;
    Json(json!({
        "status": "ok",
        "node": cluster.node(),
        "cluster": cluster.status().as_str(),
        "bus": { "kind": cluster.bus().as_str(), "connected": cluster.connected() },
    }))
}

pub fn router() -> axum::Router<crate::web::AppState> {
    axum::Router::new().route("/healthz", axum::routing::get(healthz))
}
