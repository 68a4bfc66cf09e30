//! The whole HTTP surface: each area's `router()` merged, the session on shopper routes, and
//! the layers every answer passes through.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use super::{
    AppState, account, admin, assets, cart, checkout, extract, health, line, longpoll, metrics,
    session, shop, socket,
};

/// No inline script or style anywhere: the shim and the CSS are files of our own.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

pub fn router(state: AppState) -> Router {
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    // Shopper routes carry a session (made on the first visit).
    let shopper = Router::new()
        .merge(shop::router())
        .merge(session::router())
        .merge(cart::router())
        .merge(checkout::router())
        .merge(account::router())
        .merge(line::router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::ensure,
        ));
    Router::new()
        .merge(shopper)
        .merge(socket::router())
        .merge(longpoll::router())
        .merge(admin::router())
        .merge(metrics::router())
        .merge(health::router())
        .merge(assets::router())
        .fallback(extract::not_found)
        .method_not_allowed_fallback(extract::method_not_allowed)
        // Inside the header layers, so the 431 page carries them too.
        .layer(axum::middleware::from_fn(extract::cap_head))
        .layer(header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "same-origin"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
