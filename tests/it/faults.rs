//! Injected faults under a checkout storm, with real processes: a node killed with SIGKILL
//! (two nodes on PostgreSQL, one on SQLite), PostgreSQL restarted, a node told SIGTERM. Whatever
//! happens, the books balance: every checkout answered with an order has that order in the
//! database, under its cart, and pairs sold + pairs left = the stock we started with. The
//! stores come back (or the survivor carries on) and their caches end on the database's count.

use std::time::Duration;

use futures_util::future::join_all;
use sneakers::config::Database;
use sneakers::domain::ItemId;
use sneakers::store::{self, Db};
use tokio::sync::Notify;

use crate::helpers::pairs_left;
use crate::nodes::{Node, cluster_database};
use crate::pg::Dedicated;
use crate::visitor::Visitor;

/// A load test from loopback: one client address for every buyer.
pub const NODE_ENV: [(&str, &str); 2] = [("RATE_LIMIT", "off"), ("CACHE_CHECK_MS", "500")];

/// What a storm's buyers were answered.
pub struct Outcome {
    pub sold: Vec<Sold>,
    /// Checkouts answered otherwise or not at all (the fault's share, and sold out).
    pub unsold: usize,
}

/// A checkout answered with an order.
pub struct Sold {
    order: i32,
    cart_id: String,
}

/// How big a storm is and when its fault strikes.
pub struct Load {
    pub buyers: usize,
    /// Checkouts per buyer (each adds the pair again first).
    pub rounds: usize,
    /// The fault strikes once this many orders were answered, with the rest in flight.
    pub fault_after: usize,
}

/// `load.buyers` visitors on the given stores (round robin) buying one pair of `item` each
/// round, all at once, while `fault` strikes. Returns what they were answered.
pub async fn storm(
    bases: &[String],
    item: ItemId,
    load: Load,
    fault: impl Future<Output = ()>,
) -> Outcome {
    let Load {
        buyers,
        rounds,
        fault_after,
    } = load;
    let answered = std::sync::atomic::AtomicUsize::new(0);
    let visitors = join_all((0..buyers).map(|n| Visitor::open(&bases[n % bases.len()]))).await;
    let fault_due = Notify::new();
    let buying = join_all(visitors.iter().map(|visitor| {
        let (fault_due, answered) = (&fault_due, &answered);
        async move {
            let mut sold = Vec::new();
            let mut unsold = 0;
            for _ in 0..rounds {
                // A refused add (the store down, the pair gone) leaves the cart as it was.
                let _ = visitor
                    .http
                    .post(format!("{}/cart/items", visitor.base))
                    .form(&[
                        ("item_id", item.to_string()),
                        ("_csrf_token", visitor.csrf.clone()),
                    ])
                    .send()
                    .await;
                if let Some(order) = visitor.try_checkout().await.as_deref().and_then(order_of) {
                    if answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == fault_after
                    {
                        fault_due.notify_one();
                    }
                    sold.push(Sold {
                        order,
                        cart_id: visitor.cart_id.clone(),
                    });
                } else {
                    unsold += 1;
                }
            }
            (sold, unsold)
        }
    }));
    let fault = async {
        fault_due.notified().await;
        fault.await;
    };
    let (answers, ()) = tokio::join!(buying, fault);
    let unsold = answers.iter().map(|(_, unsold)| unsold).sum();
    let sold = answers.into_iter().flat_map(|(sold, _)| sold).collect();
    Outcome { sold, unsold }
}

fn order_of(location: &str) -> Option<i32> {
    location
        .strip_prefix("/checkout/complete?order=")?
        .parse()
        .ok()
}

/// Every answered order is in the database under its cart, and paid + held + left = stock.
pub async fn assert_books_balance(db: &Db, item: ItemId, stock: i32, sold: &[Sold]) {
    for answer in sold {
        let order = store::orders::find(db, answer.order, &answer.cart_id)
            .await
            .unwrap_or_else(|e| panic!("orders: {e}"));
        assert!(
            order.is_some(),
            "order {} was answered but is not in the database",
            answer.order
        );
    }
    let pairs_sold = store::holds::sold_count(db, item)
        .await
        .unwrap_or_else(|e| panic!("orders: {e}"));
    // Pairs carted but not paid (a buyer cut off mid-checkout) are held, not lost.
    let held: i64 = store::holds::held_counts(db)
        .await
        .unwrap_or_else(|e| panic!("holds: {e}"))
        .into_iter()
        .filter(|(i, _)| *i == item)
        .map(|(_, n)| n)
        .sum();
    let left = pairs_left(db, item).await;
    assert!(
        pairs_sold as usize >= sold.len(),
        "fewer pairs sold than orders answered"
    );
    assert_eq!(
        pairs_sold + held + i64::from(left),
        i64::from(stock),
        "paid {pairs_sold} + held {held} + left {left}"
    );
}

/// A released item of the node's catalog, brought to `stock` pairs.
pub async fn stocked_item(node: &Node, stock: i32) -> ItemId {
    let product = node
        .admin
        .inventory()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .products
        .into_iter()
        .find(|p| p.released)
        .unwrap_or_else(|| panic!("a released product"));
    let item = &product.items[0];
    let change = stock - item.available_count;
    let result = if change > 0 {
        node.admin.restock(item.id, change).await.map(|_| ())
    } else if change < 0 {
        node.admin.sell(item.id, -change).await.map(|_| ())
    } else {
        Ok(())
    };
    result.unwrap_or_else(|e| panic!("stock {}: {e}", item.id));
    item.id
}

/// Waits until the node serves and shows the database's count of `item`.
pub async fn until_node_matches_db(node: &Node, db: &Db, item: ItemId) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let truth = store::catalog::stock(db, item)
            .await
            .ok()
            .flatten()
            .map(|(c, _)| c);
        let shown = node.available_count(item).await;
        if shown.is_some() && shown == truth {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {} shows {shown:?} of item {item}, the database {truth:?}",
            node.name
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_one_of_two_nodes_mid_checkout() {
    let (url, db) = cluster_database().await;
    let mut a = Node::start_with(&url, "a", &NODE_ENV).await;
    let b = Node::start_with(&url, "b", &NODE_ENV).await;
    let item = stocked_item(&a, 80).await;
    until_node_matches_db(&b, &db, item).await;
    let bases = [a.url.clone(), b.url.clone()];
    let Outcome { sold, unsold } = storm(
        &bases,
        item,
        Load {
            buyers: 120,
            rounds: 1,
            fault_after: 10,
        },
        async {
            // SIGKILL: no drain, no goodbye, commits without their NOTIFY.
            a.kill_hard();
        },
    )
    .await;
    assert!(!sold.is_empty());
    // Without the fault every one of them would have bought.
    assert!(
        sold.len() < 80 && unsold > 0,
        "the fault cut no checkout: {} sold",
        sold.len()
    );
    assert_books_balance(&db, item, 80, &sold).await;
    // The survivor ends on the truth (what A sold without telling it comes by the heal).
    until_node_matches_db(&b, &db, item).await;
    let a = Node::start_with(&url, "a", &NODE_ENV).await;
    until_node_matches_db(&a, &db, item).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load() {
    // A server of this test's own: the shared one serves every other test.
    let postgres = Dedicated::start();
    let url = postgres.seeded_database().await;
    let database = Database::parse(Some(&url)).unwrap_or_else(|e| panic!("{e}"));
    let a = Node::start_with(&url, "a", &NODE_ENV).await;
    let b = Node::start_with(&url, "b", &NODE_ENV).await;
    let item = stocked_item(&a, 1000).await;
    let bases = [a.url.clone(), b.url.clone()];
    let Outcome { sold, unsold } = storm(
        &bases,
        item,
        Load {
            buyers: 40,
            rounds: 8,
            fault_after: 40,
        },
        postgres.restart(),
    )
    .await;
    assert!(!sold.is_empty());
    // Without the fault every one of them would have bought.
    assert!(
        sold.len() < 320 && unsold > 0,
        "the fault cut no checkout: {} sold",
        sold.len()
    );
    // The pool of this test was made after the restart: its connections are fresh.
    let db = Db::connect(&database)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_books_balance(&db, item, 1000, &sold).await;
    for node in [&a, &b] {
        node.until_feed("live").await;
        until_node_matches_db(node, &db, item).await;
        // And it sells again.
        let buyer = Visitor::open(&node.url).await;
        assert_eq!(buyer.add(item).await.0, 303);
        assert!(
            buyer.checkout().await.starts_with("/checkout/complete"),
            "node {}",
            node.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_of_one_of_two_nodes_mid_storm() {
    let (url, db) = cluster_database().await;
    let mut a = Node::start_with(&url, "a", &NODE_ENV).await;
    let b = Node::start_with(&url, "b", &NODE_ENV).await;
    let item = stocked_item(&a, 500).await;
    until_node_matches_db(&b, &db, item).await;
    let bases = [a.url.clone(), b.url.clone()];
    let exited = std::sync::Mutex::new(None);
    let Outcome { sold, unsold } = storm(
        &bases,
        item,
        Load {
            buyers: 80,
            rounds: 3,
            fault_after: 20,
        },
        async {
            let status = tokio::task::block_in_place(|| a.terminate(Duration::from_secs(30)));
            *exited
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(status);
        },
    )
    .await;
    let status = exited
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    assert!(status.is_some_and(|s| s.success()), "A's exit: {status:?}");
    assert!(!sold.is_empty());
    // Without the fault every one of them would have bought.
    assert!(
        sold.len() < 240 && unsold > 0,
        "the fault cut no checkout: {} sold",
        sold.len()
    );
    assert_books_balance(&db, item, 500, &sold).await;
    until_node_matches_db(&b, &db, item).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_sqlite_store_mid_checkout() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite://{}", dir.path().join("shop.db").display());
    let mut node = Node::start_with(&url, "solo", &NODE_ENV).await;
    let item = stocked_item(&node, 60).await;
    let Outcome { sold, unsold } = storm(
        &[node.url.clone()],
        item,
        Load {
            buyers: 100,
            rounds: 1,
            fault_after: 20,
        },
        async {
            node.kill_hard();
        },
    )
    .await;
    assert!(!sold.is_empty());
    // Without the fault every one of them would have bought.
    assert!(
        sold.len() < 60 && unsold > 0,
        "the fault cut no checkout: {} sold",
        sold.len()
    );
    // The file is consistent after the kill (WAL recovery on open) and the books balance.
    let database = Database::parse(Some(&url)).unwrap_or_else(|e| panic!("{e}"));
    let db = Db::connect(&database)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_books_balance(&db, item, 60, &sold).await;
    drop(db);
    // The store comes back on the same file with the same count.
    let node = Node::start_with(&url, "solo", &NODE_ENV).await;
    let database = Database::parse(Some(&url)).unwrap_or_else(|e| panic!("{e}"));
    let db = Db::connect(&database)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    until_node_matches_db(&node, &db, item).await;
}
