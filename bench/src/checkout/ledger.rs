//! What the store's database says about one item: orders in all, order lines of the item, pairs
//! left. Read straight from the database (the spawned store's SQLite file, the PostgreSQL
//! database, or with `--url` the one DATABASE_URL names), not through the store, so the
//! `checkout` bench checks what was written rather than what was answered.

use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use sneakers::config::{Database, SslMode};

use crate::error::BenchError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ledger {
    /// Rows in `orders`.
    pub orders: i64,
    /// Rows in `order_items` for the item (each is one pair sold).
    pub lines: i64,
    /// `item_availabilities.available_count` of the item.
    pub left: i64,
}

impl Ledger {
    /// What was written between `self` and `after`.
    pub fn since(&self, after: &Ledger) -> Ledger {
        Ledger {
            orders: after.orders - self.orders,
            lines: after.lines - self.lines,
            left: after.left,
        }
    }
}

const ORDERS: &str = "SELECT COUNT(*) AS n FROM orders";
const LINES: &str = "SELECT COUNT(*) AS n FROM order_items WHERE item_id = $1";
const LEFT: &str = "SELECT available_count AS n FROM item_availabilities WHERE item_id = $1";

pub async fn read(database: &Database, item_id: i32) -> Result<Ledger, BenchError> {
    match database {
        Database::Sqlite { path } => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || read_sqlite(&path, item_id))
                .await
                .map_err(|e| BenchError::Database(format!("the SQLite read failed: {e}")))?
        }
        Database::Postgres(target) => {
            if matches!(target.ssl_mode, SslMode::Require | SslMode::VerifyFull) {
                return Err(BenchError::Database(format!(
                    "{} needs TLS, which the bench's check does not speak; use sslmode=disable \
                     or prefer for a local database",
                    target.redacted()
                )));
            }
            read_postgres(&target.url, item_id).await
        }
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Pairs {
    #[diesel(sql_type = Integer)]
    n: i32,
}

fn read_sqlite(path: &Path, item_id: i32) -> Result<Ledger, BenchError> {
    let failed =
        |e: &dyn std::fmt::Display| BenchError::Database(format!("SQLite {}: {e}", path.display()));
    if !path.is_file() {
        return Err(failed(&"no such file"));
    }
    // mode=rw: never create a file that is not there; the store keeps it in WAL mode, which a
    // reader needs write access to (for the shared-memory index).
    let mut conn = SqliteConnection::establish(&sqlite_uri(path)).map_err(|e| failed(&e))?;
    diesel::sql_query("PRAGMA busy_timeout = 5000")
        .execute(&mut conn)
        .map_err(|e| failed(&e))?;
    let sqlite = |query: &str| query.replace("$1", "?");
    let orders = diesel::sql_query(ORDERS)
        .get_result::<Count>(&mut conn)
        .map_err(|e| failed(&e))?
        .n;
    let lines = diesel::sql_query(sqlite(LINES))
        .bind::<Integer, _>(item_id)
        .get_result::<Count>(&mut conn)
        .map_err(|e| failed(&e))?
        .n;
    let left = diesel::sql_query(sqlite(LEFT))
        .bind::<Integer, _>(item_id)
        .get_result::<Pairs>(&mut conn)
        .map_err(|e| failed(&e))?
        .n;
    Ok(Ledger {
        orders,
        lines,
        left: i64::from(left),
    })
}

/// `file:<path>?mode=rw`, with the characters a URI gives meaning to escaped.
fn sqlite_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => uri.push_str(&format!("%{:02X}", c as u32)),
            c => uri.push(c),
        }
    }
    uri.push_str("?mode=rw");
    uri
}

async fn read_postgres(url: &str, item_id: i32) -> Result<Ledger, BenchError> {
    let failed = |e: tokio_postgres::Error| BenchError::Database(format!("PostgreSQL: {e}"));
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(failed)?;
    let driver = tokio::spawn(connection);
    let read = async {
        let orders: i64 = client.query_one(ORDERS, &[]).await?.try_get(0)?;
        let lines: i64 = client.query_one(LINES, &[&item_id]).await?.try_get(0)?;
        let left: i32 = client.query_one(LEFT, &[&item_id]).await?.try_get(0)?;
        Ok::<_, tokio_postgres::Error>(Ledger {
            orders,
            lines,
            left: i64::from(left),
        })
    };
    let ledger = read.await.map_err(failed);
    drop(client);
    let _ = driver.await;
    ledger
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_sqlite_uri() {
        assert_eq!(
            sqlite_uri(Path::new("/tmp/a b/bench.db")),
            "file:/tmp/a b/bench.db?mode=rw"
        );
        assert_eq!(
            sqlite_uri(Path::new("x?#%.db")),
            "file:x%3F%23%25.db?mode=rw"
        );
    }

    #[test]
    fn what_was_written_in_between() {
        let before = Ledger {
            orders: 3,
            lines: 1,
            left: 100,
        };
        let after = Ledger {
            orders: 103,
            lines: 101,
            left: 0,
        };
        assert_eq!(
            before.since(&after),
            Ledger {
                orders: 100,
                lines: 100,
                left: 0
            }
        );
    }

    #[test]
    fn reads_a_sqlite_store() {
        let dir =
            std::env::temp_dir().join(format!("sneakers-bench-ledger-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("ledger.db");
        let mut conn = SqliteConnection::establish(&path.to_string_lossy()).expect("new db");
        for statement in [
            "CREATE TABLE orders (id INTEGER PRIMARY KEY)",
            "CREATE TABLE order_items (id INTEGER PRIMARY KEY, order_id INTEGER, item_id INTEGER)",
            "CREATE TABLE item_availabilities (item_id INTEGER, available_count INTEGER)",
            "INSERT INTO orders (id) VALUES (1), (2), (3)",
            "INSERT INTO order_items (order_id, item_id) VALUES (1, 7), (2, 7), (3, 8)",
            "INSERT INTO item_availabilities VALUES (7, 98), (8, 4)",
        ] {
            diesel::sql_query(statement)
                .execute(&mut conn)
                .expect(statement);
        }
        drop(conn);
        let ledger = read_sqlite(&path, 7);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            ledger.ok(),
            Some(Ledger {
                orders: 3,
                lines: 2,
                left: 98
            })
        );
    }

    #[tokio::test]
    async fn a_missing_sqlite_file_is_an_error_not_a_new_file() {
        let path =
            std::env::temp_dir().join(format!("sneakers-bench-none-{}.db", std::process::id()));
        let database = Database::Sqlite { path: path.clone() };
        assert!(matches!(
            read(&database, 1).await,
            Err(BenchError::Database(_))
        ));
        assert!(!path.exists());
    }
}
