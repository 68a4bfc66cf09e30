//! The whole HTTP surface: each area's `router()` merged, the session on shopper routes, and
//! the layers every answer passes through.

use axum::Router;
use axum::http::{HeaderValue, Response, header};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use super::AppState;
use super::edge::{extract, secure_cookies, session};
use super::routes::{
    account, admin, admin_draws, admin_import, admin_order_actions, admin_pictures, admin_products,
    assets, cart, checkout, draws, health, line, longpoll, metrics, payments, pictures, shop,
    socket, socket_token,
};

/// No inline script or style anywhere: the shim and the CSS are files of our own.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// The policy of a page that loads a payment provider's script: that provider's `origins`
/// may serve scripts, be talked to and be framed (Stripe's card field is an iframe).
pub fn csp_allowing(origins: &[String]) -> String {
    let origins = origins.join(" ");
    format!(
        "{}; frame-src {origins}",
        CSP.replace("script-src 'self'", &format!("script-src 'self' {origins}"))
            .replace(
                "connect-src 'self'",
                &format!("connect-src 'self' {origins}")
            )
    )
}

pub fn router(state: AppState) -> Router {
    // Shopper routes carry a session (made on the first visit).
    let shopper = Router::new()
        .merge(shop::router())
        .merge(socket_token::router())
        .merge(cart::router())
        .merge(checkout::router())
        .merge(account::router())
        .merge(line::router())
        .merge(draws::router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::ensure,
        ));
    let app = Router::new()
        .merge(shopper)
        .merge(socket::router())
        .merge(longpoll::router())
        .merge(admin::router())
        .merge(admin_order_actions::router())
        .merge(admin_products::router())
        .merge(admin_pictures::router())
        .merge(admin_import::router())
        .merge(pictures::router())
        .merge(admin_draws::router())
        .merge(metrics::router())
        .merge(payments::router())
        .merge(health::router())
        .merge(assets::router())
        .fallback(extract::not_found)
        .method_not_allowed_fallback(extract::method_not_allowed)
        .with_state(state);
    // Wrapped once around the whole router, not with `Router::layer`: that wraps every route
    // in each layer and boxes it, and a request then pays a boxed clone and a boxed future
    // per layer (a tenth of a page answer's CPU under a reload storm).
    let edge = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(CompressionLayer::new())
        .map_response(security_headers)
        // Around everything that sets a cookie, the 400 and 431 pages included.
        .layer(axum::middleware::from_fn(secure_cookies::mark))
        // Inside the header layer, so the 431 and 400 pages carry them too.
        .layer(axum::middleware::from_fn(extract::check_head))
        .service(app);
    Router::new().fallback_service(edge)
}

/// What every answer says about itself, unless its handler said otherwise.
fn security_headers<B>(mut response: Response<B>) -> Response<B> {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}
