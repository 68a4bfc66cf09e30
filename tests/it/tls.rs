//! `DATABASE_URL` with `sslmode`: TLS to PostgreSQL as Heroku requires it.

use diesel::sql_types::Bool;
use diesel_async::RunQueryDsl;
use sneakers::config::Database;
use sneakers::store::{self, Db, DbConn};

use crate::pg;

async fn connection_is_encrypted(url: &str) -> Result<bool, String> {
    let database = Database::parse(Some(url)).map_err(|e| e.to_string())?;
    store::migrate::run(&database)
        .await
        .map_err(|e| e.to_string())?;
    let db = Db::connect(&database).await.map_err(|e| e.to_string())?;
    match db.get().await.map_err(|e| e.to_string())? {
        DbConn::Pg(mut conn) => diesel::select(diesel::dsl::sql::<Bool>(
            "(SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
        ))
        .get_result::<bool>(&mut *conn)
        .await
        .map_err(|e| e.to_string()),
        DbConn::Sqlite(_) => Err("not PostgreSQL".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_require_encrypts_and_verify_full_checks_the_certificate() {
    let Some(ca) = pg::server().ca_cert.clone() else {
        eprintln!(
            "NOT TESTED: TLS modes need the tests' own PostgreSQL (DATABASE_URL names an external server)"
        );
        return;
    };
    let required = pg::fresh_database("sslmode=require").await;
    assert_eq!(connection_is_encrypted(&required).await, Ok(true));

    let plain = pg::fresh_database("sslmode=disable").await;
    assert_eq!(connection_is_encrypted(&plain).await, Ok(false));

    let verified =
        pg::fresh_database(&format!("sslmode=verify-full&sslrootcert={}", ca.display())).await;
    assert_eq!(connection_is_encrypted(&verified).await, Ok(true));

    // Our CA is not a public one: full verification without it must refuse the server.
    let unverifiable = pg::fresh_database("sslmode=verify-full").await;
    let refused = connection_is_encrypted(&unverifiable).await;
    assert!(
        refused.as_ref().is_err_and(
            |e| e.contains("cannot connect") && e.to_lowercase().contains("certificate")
        ),
        "{refused:?}"
    );
}
