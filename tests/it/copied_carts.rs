//! A cart belongs to its cart id: a shopper let in from a waiting line who copies the cart
//! cookie into fresh sessions or fresh accounts hands on nothing (the pages show an empty cart,
//! checkout buys nothing, the cart channel refuses the copied token), and checkout judges the
//! line on the database in its transaction, so the admitted shopper's own cart is no ticket
//! once the admission window is over.

use std::time::Duration;

use serde_json::json;
use sneakers::domain::{ItemId, ProductId};

use crate::accounts::login;
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp, pairs_left};
use crate::lines::{cart_socket, join, lined_product, member, named_member, next_place, release};
use crate::on_both_backends;
use crate::visitor::Visitor;
use crate::ws::Client;

on_both_backends!(
    a_copied_cart_buys_nothing_in_another_session_or_account,
    checkout_refuses_a_lined_pair_after_the_admission_window
);

const CART_COOKIE: &str = "sneakers_cart";

/// A lined product released with `admitted` let in (the first of its line, at the drop) and
/// two of its sizes with stock, carted by that shopper over the plain forms.
async fn admitted_with_two_pairs(app: &TestApp) -> (ProductId, Visitor, Vec<ItemId>) {
    let product = lined_product(app, 600).await;
    // No limit per customer: guests could buy it, were they let in.
    let response = app
        .http
        .post(format!("{}/admin/products/{product}/limit", app.url))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .form(&[("max", "")])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200);
    let admitted = member(app).await;
    join(&admitted, product).await;
    let (mut socket, _) = cart_socket(app, &admitted).await;
    assert_eq!(next_place(&mut socket, product).await, (0, false));
    release(app, product).await;
    while next_place(&mut socket, product).await != (0, true) {}
    let items: Vec<ItemId> = app
        .inventory_json()
        .await
        .products
        .into_iter()
        .find(|p| p.id == product)
        .map(|p| {
            p.items
                .into_iter()
                .filter(|i| i.available_count > 0)
                .map(|i| i.id)
                .take(2)
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(items.len(), 2, "two sizes in stock");
    for item in &items {
        let (status, location) = admitted.add(*item).await;
        assert_eq!(
            (status, location.contains("cart_error")),
            (303, false),
            "{location}"
        );
    }
    (product, admitted, items)
}

/// The pairs in the cart, as the header's cart link on a page says.
fn cart_count(html: &str) -> String {
    let marker = "class=\"cart-link__count\">";
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no cart link: {html}"))
        + marker.len();
    html[at..at + html[at..].find('<').unwrap_or(0)].to_string()
}

/// A fresh browser holding a copy of `cookie` as its cart.
async fn with_copied_cart(app: &TestApp, cookie: &str) -> Visitor {
    let mut thief = app.visitor().await;
    thief.set_cookie(CART_COOKIE, cookie);
    thief.visit("/").await;
    thief
}

/// Joins the visitor's cart topic with `serialized`: the reply's status and response.
async fn join_with(
    app: &TestApp,
    visitor: &Visitor,
    serialized: &str,
) -> (String, serde_json::Value) {
    let (token, cart_id) = crate::ws::socket_token(&visitor.http, &app.url).await;
    let mut socket = Client::connect(&app.socket_url(&token))
        .await
        .unwrap_or_else(|status| panic!("refused: {status}"));
    let (_, status, response) = socket
        .join(
            &format!("cart:{cart_id}"),
            json!({ "serialized": serialized, "page": "/" }),
        )
        .await;
    (status, response)
}

async fn a_copied_cart_buys_nothing_in_another_session_or_account(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (product, mut admitted, items) = admitted_with_two_pairs(&app).await;
    let copied = admitted
        .cookie(CART_COOKIE)
        .unwrap_or_else(|| panic!("the admitted shopper has a cart cookie"));
    assert_eq!(cart_count(&admitted.visit("/checkout").await), "2");
    let mut stock = Vec::new();
    for item in &items {
        stock.push(pairs_left(&app.db, *item).await);
    }

    // A brand-new guest session that was never in the line.
    let mut guest = with_copied_cart(&app, &copied).await;
    assert_eq!(cart_count(&guest.visit("/checkout").await), "0");
    assert_eq!(
        guest.checkout().await,
        "/checkout",
        "an empty cart buys nothing"
    );
    let (status, response) = join_with(&app, &guest, &copied).await;
    assert_eq!(
        (status.as_str(), &response["reason"]),
        ("error", &json!("foreign_cart"))
    );

    // A fresh account signed in to from a browser holding the copy: signing in merges the
    // guest's cart, and the copy is no cart of that guest's.
    let (_, email) = named_member(&app, std::net::IpAddr::from([127, 0, 0, 1])).await;
    let mut fresh = with_copied_cart(&app, &copied).await;
    login(&mut fresh, &email, "/").await;
    assert_eq!(cart_count(&fresh.visit("/checkout").await), "0");
    assert_eq!(fresh.checkout().await, "/checkout");
    let (status, response) = join_with(&app, &fresh, &copied).await;
    assert_eq!(
        (status.as_str(), &response["reason"]),
        ("error", &json!("foreign_cart"))
    );

    // The shopper's own token is still theirs.
    let (status, _) = join_with(&app, &admitted, &copied).await;
    assert_eq!(status, "ok");

    // After the shopper's own checkout, the copy is still nobody else's cart.
    let done = admitted.checkout().await;
    assert!(done.starts_with("/checkout/complete"), "{done}");
    let mut later = with_copied_cart(&app, &copied).await;
    assert_eq!(cart_count(&later.visit("/checkout").await), "0");
    assert_eq!(later.checkout().await, "/checkout");

    for (item, before) in items.iter().zip(stock) {
        assert_eq!(
            pairs_left(&app.db, *item).await,
            before,
            "only the admitted shopper's pair of {item} of {product} was sold (held at add)"
        );
    }
}

async fn checkout_refuses_a_lined_pair_after_the_admission_window(backend: Backend) {
    const WINDOW: Duration = Duration::from_secs(3);
    let app = TestApp::start_with(backend, |config| config.line_admission = WINDOW).await;
    let (product, mut admitted, items) = admitted_with_two_pairs(&app).await;
    let mut stock = Vec::new();
    for item in &items {
        stock.push(pairs_left(&app.db, *item).await);
    }
    // Nothing to wait on: the window is a span of time.
    tokio::time::sleep(WINDOW + Duration::from_millis(500)).await;
    let copied = admitted
        .cookie(CART_COOKIE)
        .unwrap_or_else(|| panic!("a cart cookie"));
    let guest = with_copied_cart(&app, &copied).await;
    assert_eq!(guest.checkout().await, "/checkout");

    // The pairs were carted while let in, but the window is over: checkout, judging the line
    // in its transaction, sells nothing and says why on the product's page.
    assert_eq!(
        admitted.checkout().await,
        format!("/products/{product}?cart_error=not_admitted")
    );
    let page = admitted
        .visit(&format!("/products/{product}?cart_error=not_admitted"))
        .await;
    assert!(page.contains("once you are let in"), "{page}");
    assert_eq!(
        cart_count(&admitted.visit("/checkout").await),
        "0",
        "the lined pairs left the cart"
    );
    for (item, before) in items.iter().zip(stock) {
        assert_eq!(
            pairs_left(&app.db, *item).await,
            before + 1,
            "{item} was not sold: its hold went back"
        );
    }
}
