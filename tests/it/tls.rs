//! `DATABASE_URL` with `sslmode`: TLS to PostgreSQL as Heroku requires it; `rediss://` to a
//! Redis with a self-signed certificate, as Heroku's Key-Value Store hands it out.

use diesel::sql_types::Bool;
use diesel_async::RunQueryDsl;
use sneakers::config::Database;
use sneakers::error_chain::ErrorChain;
use sneakers::store::{self, Db, DbConn};

use crate::pg;

fn told(error: &dyn std::error::Error) -> String {
    ErrorChain(error).to_string()
}

async fn connection_is_encrypted(url: &str) -> Result<bool, String> {
    let database = Database::parse(Some(url)).map_err(|e| told(&e))?;
    store::migrate::run(&database).await.map_err(|e| told(&e))?;
    let db = Db::connect(&database).await.map_err(|e| told(&e))?;
    match db.get().await.map_err(|e| told(&e))? {
        DbConn::Pg(mut conn) => diesel::select(diesel::dsl::sql::<Bool>(
            "(SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
        ))
        .get_result::<bool>(&mut *conn)
        .await
        .map_err(|e| told(&e)),
        DbConn::Sqlite(_) => Err("not PostgreSQL".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_require_encrypts_and_verify_full_checks_the_certificate() {
    // Our own server, whatever DATABASE_URL says: its certificate is signed by our CA.
    let server = pg::local_server();
    let ca = server
        .ca_cert
        .clone()
        .expect("the local test server always has our CA");
    let required = pg::fresh_database_on(server, "sslmode=require").await;
    assert_eq!(connection_is_encrypted(&required).await, Ok(true));

    let plain = pg::fresh_database_on(server, "sslmode=disable").await;
    assert_eq!(connection_is_encrypted(&plain).await, Ok(false));

    let verify = format!("sslmode=verify-full&sslrootcert={}", ca.display());
    let verified = pg::fresh_database_on(server, &verify).await;
    assert_eq!(connection_is_encrypted(&verified).await, Ok(true));

    // Our CA is not a public one: full verification without it must refuse the server.
    let unverifiable = pg::fresh_database_on(server, "sslmode=verify-full").await;
    let refused = connection_is_encrypted(&unverifiable).await;
    assert!(
        refused.as_ref().is_err_and(
            |e| e.contains("cannot connect") && e.to_lowercase().contains("certificate")
        ),
        "{refused:?}"
    );
}

/// Two nodes on a TLS-only Redis whose certificate nobody signed: they connect and a sale on
/// one reaches the other's cache over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_a_rediss_bus_with_a_self_signed_certificate() {
    let redis = crate::redis::RedisServer::dedicated_tls();
    assert!(redis.url().starts_with("rediss://"));
    let cluster = crate::nodes::Cluster::with_redis(Some(redis.url())).await;
    let a = cluster.node("a").await;
    let b = cluster.node("b").await;
    assert_eq!(
        a.health().await["bus"],
        serde_json::json!({ "kind": "redis", "connected": true })
    );
    let inventory = a.admin.inventory().await.unwrap_or_else(|e| panic!("{e}"));
    let item = inventory
        .products
        .iter()
        .filter(|p| p.released)
        .flat_map(|p| &p.items)
        .find(|i| i.available_count > 1)
        .unwrap_or_else(|| panic!("a size in stock"));
    a.admin
        .sell(item.id, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while b.available_count(item.id).await != Some(item.available_count - 1) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "B never heard A's sale"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
