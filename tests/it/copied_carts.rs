//! A cart belongs to its cart id: a shopper let in from a waiting line who copies the cart
//! cookie into fresh sessions or fresh accounts hands on nothing (the pages show an empty cart,
//! checkout buys nothing, the cart channel refuses the copied token), and checkout judges the
//! line on the database in its transaction, so the admitted shopper's own cart is no ticket
//! once the admission window is over. The same holds across nodes: a copy taken to another
//! node of the cluster buys nothing there either.

use std::time::Duration;

use serde_json::json;
use sneakers::domain::{ItemId, ProductId};

use sneakers::cli::AdminClient;
use sneakers::store::{self, Db};

use crate::accounts::{login, signup};
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp, pairs_left};
use crate::lines::{join, named_member, next_place};
use crate::nodes::{Bus, Node, two_nodes};
use crate::on_both_backends;
use crate::visitor::Visitor;
use crate::ws::Client;

on_both_backends!(
    a_copied_cart_buys_nothing_in_another_session_or_account,
    checkout_refuses_a_lined_pair_after_the_admission_window
);

const CART_COOKIE: &str = "sneakers_cart";
const SESSION_COOKIE: &str = "_sneakers_session";

/// Where a test's shoppers go: a test app, or one node of several on one database.
struct Shop<'a> {
    url: &'a str,
    admin: &'a AdminClient,
    db: &'a Db,
}

impl<'a> Shop<'a> {
    fn of(app: &'a TestApp) -> Shop<'a> {
        Shop {
            url: &app.url,
            admin: &app.admin,
            db: &app.db,
        }
    }

    fn node(node: &'a Node, db: &'a Db) -> Shop<'a> {
        Shop {
            url: &node.url,
            admin: &node.admin,
            db,
        }
    }

    async fn admin_post(&self, path: &str, form: &[(&str, &str)]) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), 200, "POST {path}");
    }

    /// A fresh browser signed in to a verified account of its own (a line place is one).
    async fn member(&self) -> Visitor {
        let n = MEMBERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut visitor = Visitor::open(self.url).await;
        signup(self.db, &mut visitor, &format!("copier{n}@example.com")).await;
        visitor
    }
}

static MEMBERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A lined product released with `admitted` let in (the first of its line, at the drop) and
/// two of its sizes with stock, carted by that shopper over the plain forms.
async fn admitted_with_two_pairs(shop: &Shop<'_>) -> (ProductId, Visitor, Vec<ItemId>) {
    let inventory = || async {
        shop.admin
            .inventory()
            .await
            .unwrap_or_else(|e| panic!("inventory: {e}"))
            .products
    };
    let product = inventory()
        .await
        .into_iter()
        .find(|p| !p.released)
        .unwrap_or_else(|| panic!("an unreleased product"))
        .id;
    let lined = [("enabled", "1"), ("admit_per_minute", "600")];
    shop.admin_post(&format!("/admin/products/{product}/queue"), &lined)
        .await;
    // No limit per customer: guests could buy it, were they let in.
    shop.admin_post(&format!("/admin/products/{product}/limit"), &[("max", "")])
        .await;
    let admitted = shop.member().await;
    join(&admitted, product).await;
    let (mut socket, _) = cart_socket_at(&admitted).await;
    assert_eq!(next_place(&mut socket, product).await, (0, false));
    shop.admin
        .release(&product.to_string())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    while next_place(&mut socket, product).await != (0, true) {}
    let items: Vec<ItemId> = inventory()
        .await
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

/// A socket on the visitor's cart channel, at the visitor's store.
async fn cart_socket_at(visitor: &Visitor) -> (Client, String) {
    let (token, cart_id) = crate::ws::socket_token(&visitor.http, &visitor.base).await;
    let mut socket = Client::connect(&socket_url(&visitor.base, &token))
        .await
        .unwrap_or_else(|status| panic!("refused: {status}"));
    let topic = format!("cart:{cart_id}");
    socket.join_ok(&topic, json!({})).await;
    (socket, topic)
}

fn socket_url(base: &str, token: &str) -> String {
    format!(
        "{}/socket/websocket?vsn=2.0.0&token={token}",
        base.replacen("http", "ws", 1)
    )
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

/// A fresh browser of the store at `base` holding a copy of `cookie` as its cart.
async fn with_copied_cart(base: &str, cookie: &str) -> Visitor {
    let mut thief = Visitor::open(base).await;
    thief.set_cookie(CART_COOKIE, cookie);
    thief.visit("/").await;
    thief
}

/// Joins the visitor's cart topic (at the visitor's store) with `serialized`: the reply's
/// status and response.
async fn join_with(visitor: &Visitor, serialized: &str) -> (String, serde_json::Value) {
    let (token, cart_id) = crate::ws::socket_token(&visitor.http, &visitor.base).await;
    let mut socket = Client::connect(&socket_url(&visitor.base, &token))
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
    let (product, mut admitted, items) = admitted_with_two_pairs(&Shop::of(&app)).await;
    let copied = admitted
        .cookie(CART_COOKIE)
        .unwrap_or_else(|| panic!("the admitted shopper has a cart cookie"));
    assert_eq!(cart_count(&admitted.visit("/checkout").await), "2");
    let mut stock = Vec::new();
    for item in &items {
        stock.push(pairs_left(&app.db, *item).await);
    }

    // A brand-new guest session that was never in the line.
    let mut guest = with_copied_cart(&app.url, &copied).await;
    assert_eq!(cart_count(&guest.visit("/checkout").await), "0");
    assert_eq!(
        guest.checkout().await,
        "/checkout",
        "an empty cart buys nothing"
    );
    let (status, response) = join_with(&guest, &copied).await;
    assert_eq!(
        (status.as_str(), &response["reason"]),
        ("error", &json!("foreign_cart"))
    );

    // A fresh account signed in to from a browser holding the copy: signing in merges the
    // guest's cart, and the copy is no cart of that guest's.
    let (_, email) = named_member(&app, std::net::IpAddr::from([127, 0, 0, 1])).await;
    let mut fresh = with_copied_cart(&app.url, &copied).await;
    login(&mut fresh, &email, "/").await;
    assert_eq!(cart_count(&fresh.visit("/checkout").await), "0");
    assert_eq!(fresh.checkout().await, "/checkout");
    let (status, response) = join_with(&fresh, &copied).await;
    assert_eq!(
        (status.as_str(), &response["reason"]),
        ("error", &json!("foreign_cart"))
    );

    // The shopper's own token is still theirs.
    let (status, _) = join_with(&admitted, &copied).await;
    assert_eq!(status, "ok");

    // After the shopper's own checkout, the copy is still nobody else's cart.
    let done = admitted.checkout().await;
    assert!(done.starts_with("/checkout/complete"), "{done}");
    let mut later = with_copied_cart(&app.url, &copied).await;
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
    let (product, mut admitted, items) = admitted_with_two_pairs(&Shop::of(&app)).await;
    let mut stock = Vec::new();
    for item in &items {
        stock.push(pairs_left(&app.db, *item).await);
    }
    // Nothing to wait on: the window is a span of time.
    tokio::time::sleep(WINDOW + Duration::from_millis(500)).await;
    let copied = admitted
        .cookie(CART_COOKIE)
        .unwrap_or_else(|| panic!("a cart cookie"));
    let guest = with_copied_cart(&app.url, &copied).await;
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

/// Pairs of `items` sold in paid or pending orders, as the database has them.
async fn sold(db: &Db, items: &[ItemId]) -> Vec<i64> {
    let mut sold = Vec::new();
    for item in items {
        sold.push(
            store::orders::pairs_sold(db, *item)
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    sold
}

/// Two store processes on one PostgreSQL: a shopper let in on node A carts two pairs; the
/// cart cookie copied into a fresh guest and a fresh verified account on node B buys nothing
/// there (an empty cart, checkout refused, the cart channel refuses the token), while the
/// shopper's own browser taken to node B buys both: the refusal is whose cart it is, not
/// which node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_cart_buys_nothing_on_another_node() {
    let (cluster, a, b) = two_nodes(Bus::Notify).await;
    let (on_a, on_b) = (Shop::node(&a, &cluster.db), Shop::node(&b, &cluster.db));
    let (_, admitted, items) = admitted_with_two_pairs(&on_a).await;
    let copied = admitted
        .cookie(CART_COOKIE)
        .unwrap_or_else(|| panic!("the admitted shopper has a cart cookie"));
    assert_eq!(sold(&cluster.db, &items).await, [0, 0]);

    let mut guest = with_copied_cart(&b.url, &copied).await;
    assert_eq!(cart_count(&guest.visit("/checkout").await), "0");
    assert_eq!(
        guest.checkout().await,
        "/checkout",
        "an empty cart buys nothing"
    );
    let (status, response) = join_with(&guest, &copied).await;
    assert_eq!(
        (status.as_str(), &response["reason"]),
        ("error", &json!("foreign_cart"))
    );

    let mut fresh = on_b.member().await;
    fresh.set_cookie(CART_COOKIE, &copied);
    assert_eq!(cart_count(&fresh.visit("/checkout").await), "0");
    assert_eq!(fresh.checkout().await, "/checkout");
    let (status, response) = join_with(&fresh, &copied).await;
    assert_eq!(
        (status.as_str(), &response["reason"]),
        ("error", &json!("foreign_cart"))
    );
    assert_eq!(
        sold(&cluster.db, &items).await,
        [0, 0],
        "no copy bought a pair on node B"
    );

    // The shopper's own browser (its session and its cart) on node B buys what it holds.
    let session = admitted
        .cookie(SESSION_COOKIE)
        .unwrap_or_else(|| panic!("the admitted shopper is signed in"));
    let mut owner = Visitor::blank(&b.url, std::net::IpAddr::from([127, 0, 0, 1]));
    owner.set_cookie(SESSION_COOKIE, &session);
    owner.set_cookie(CART_COOKIE, &copied);
    assert_eq!(cart_count(&owner.visit("/checkout").await), "2");
    let done = owner.checkout().await;
    assert!(done.starts_with("/checkout/complete"), "{done}");
    assert_eq!(sold(&cluster.db, &items).await, [1, 1]);
}
