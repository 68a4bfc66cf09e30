//! What a node costs PostgreSQL: its pool opens at most `DATABASE_POOL_SIZE` connections
//! however many requests need one at once (the others wait their turn), beside the NOTIFY
//! bus's one `LISTEN` connection.

use futures_util::future::join_all;

use crate::faults::stocked_item;
use crate::helpers::pairs_left;
use crate::nodes::{Node, cluster_database};

/// The node's connections to its database, by the `application_name` its URL gives them.
async fn connections_named(url: &str, name: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(connection);
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = $1 AND datname = current_database()",
            &[&name],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_opens_no_more_database_connections_than_its_pool_size() {
    let (url, db) = cluster_database().await;
    let pooled = format!("{url}&application_name=sneakers-pooled");
    let node = Node::start_with(
        &pooled,
        "a",
        &[("DATABASE_POOL_SIZE", "2"), ("RATE_LIMIT", "off")],
    )
    .await;
    let item = stocked_item(&node, 100).await;
    // Thirty sales at once, each needing a connection: they queue for the two, none fails.
    let sales = join_all((0..30).map(|_| node.admin.sell(item, 1))).await;
    assert!(sales.iter().all(Result::is_ok), "{sales:?}");
    assert_eq!(pairs_left(&db, item).await, 70);
    assert_eq!(connections_named(&url, "sneakers-pooled").await, 2);
    // And the bus's listener, which has a name of its own.
    assert_eq!(connections_named(&url, "sneakers-listen-a").await, 1);
}
