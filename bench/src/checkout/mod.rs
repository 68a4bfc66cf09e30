//! `sneakers-bench checkout`: N buyers race for K pairs through the real HTTP checkout, as
//! browsers without JavaScript do. Connect: each buyer (its own cookie jar and connection)
//! loads `/` and carts the pair, then waits. Measure: all of them post `/checkout` at once.
//! Verify: the orders are counted in the database itself. Exactly K orders, N - K sold-out
//! answers and K pairs gone (sold + left = stock) are right; anything else is a wrong result.

mod buyer;
mod ledger;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::Options;
use crate::error::BenchError;
use crate::harness::{Harness, Node, ServerArgs, interruptible};
use crate::http::{set_stock_of_first_item, stock_of};
use crate::procs::{Usage, UsageReport, ensure_open_files, rss_bytes};
use crate::report::{Report, Summary, Unit, note, per_sec, progress, secs};
use crate::ws::Target;
use buyer::{Answer, Buyer, Outcome};
use ledger::Ledger;

#[derive(Args, Debug, Clone, PartialEq)]
pub struct CheckoutArgs {
    /// Buyers, each with its own cookie jar and connection.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub buyers: u32,
    /// Pairs for sale: one size of a released product is set to exactly this many first.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub stock: u32,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Buyers loading the page and carting the pair at once (before the race).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// Seconds to wait for any one request.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// Seconds to wait after the race before reading the server's memory again: what it gives
    /// back once the storm is over.
    #[arg(long, default_value_t = 5)]
    pub settle: u64,
}

pub async fn run(options: &Options, args: CheckoutArgs) -> Result<(), BenchError> {
    ensure_open_files(u64::from(args.buyers), &format!("{} buyers", args.buyers))?;
    let harness = Harness::store(options.server_bin.as_deref(), &args.server, 1).await?;
    note(format!(
        "checkout: {} buyers for {} pairs against {} at {}",
        args.buyers,
        args.stock,
        harness.what,
        harness.addresses()
    ));
    let what = harness.what.clone();
    let outcome = match harness.nodes.first() {
        Some(node) => interruptible(bench(&args, node)).await,
        None => Err(BenchError::Usage("no store to bench".into())),
    };
    let measured = harness.finish(outcome).await?;
    let (report, problems) = report(&args, &what, &measured);
    report.print(options.json);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(BenchError::Wrong(problems.join("; ")))
    }
}

/// The buyers who carted the pair, waiting for the start.
struct Carted {
    buyers: JoinSet<Option<Outcome>>,
    go: watch::Sender<bool>,
    stats: CartStats,
}

struct CartStats {
    carted: usize,
    failed: usize,
    first_error: Option<String>,
    took: Duration,
}

/// How the race went.
struct Race {
    orders: usize,
    sold_out: usize,
    errors: BTreeMap<String, usize>,
    latencies: Vec<Duration>,
    /// From the start to the last answer.
    wall: Duration,
    /// From the start to the last order's answer: when the pairs were all sold. Every sold-out
    /// answer waits for it (a buyer is refused only once the last pair is gone).
    sold_by: Option<Duration>,
    server: UsageReport,
}

/// Everything measured, for the report.
struct Measured {
    item_id: i32,
    carting: CartStats,
    race: Race,
    /// Pairs left, as the store's admin API says.
    left: i32,
    /// What the database says was written during the race, or why it could not be read.
    written: Result<Ledger, String>,
    database: String,
    /// The server's resident memory `--settle` seconds after the race.
    settled_rss: Option<u64>,
}

async fn bench(args: &CheckoutArgs, node: &Node) -> Result<Measured, BenchError> {
    let admin = node.admin()?;
    let picked = set_stock_of_first_item(&admin.api, args.stock as i32).await?;
    let item_id = picked.item_id;
    note(format!(
        "product {} ({}), item {item_id} (size {}): set to {} pairs, was {}",
        picked.product_id, picked.product, picked.size, args.stock, picked.was
    ));
    let unknown = || "the store's database is unknown".to_string();
    let before = match &node.database {
        Some(database) => ledger::read(database, item_id)
            .await
            .map_err(|e| e.to_string()),
        None => Err(unknown()),
    };

    let Carted { buyers, go, stats } = cart_everyone(args, node, item_id).await?;
    let race = race(buyers, go, stats.carted, node.pid).await;
    let left = stock_of(&admin.api, item_id).await?;
    let written = match (&node.database, before) {
        (Some(database), Ok(before)) => ledger::read(database, item_id)
            .await
            .map(|after| before.since(&after))
            .map_err(|e| e.to_string()),
        (_, Err(reason)) => Err(reason),
        (None, Ok(_)) => Err(unknown()),
    };
    if let Err(reason) = &written {
        note(format!("orders not counted in the database: {reason}"));
    }
    let settled_rss = match node.pid {
        Some(pid) => {
            tokio::time::sleep(Duration::from_secs(args.settle)).await;
            rss_bytes(pid)
        }
        None => None,
    };
    Ok(Measured {
        settled_rss,
        item_id,
        carting: stats,
        race,
        left,
        written,
        database: node
            .database
            .as_ref()
            .map_or_else(|| "unknown".into(), |d| d.describe()),
    })
}

/// The connect step: every buyer loads the page and carts the pair, `concurrency` at a time,
/// then waits for the start.
async fn cart_everyone(
    args: &CheckoutArgs,
    node: &Node,
    item_id: i32,
) -> Result<Carted, BenchError> {
    let n = args.buyers as usize;
    let timeout = Duration::from_secs(args.timeout);
    let target = Target::resolve(&node.base, timeout).await?;
    let base: Arc<str> = Arc::from(node.base.as_str());
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<Result<(), String>>();
    let (go, go_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(args.concurrency as usize));
    let mut buyers = JoinSet::new();
    let bar = progress(n as u64, "carting");
    let started = Instant::now();
    for id in 0..args.buyers {
        let buyer = Buyer::new(id, &target, &base, item_id, timeout)?;
        let (ready, mut go, gate) = (ready_tx.clone(), go_rx.clone(), Arc::clone(&gate));
        buyers.spawn(async move {
            let csrf = {
                let Ok(_permit) = gate.acquire().await else {
                    return None;
                };
                buyer.cart_the_pair().await
            };
            let csrf = match csrf {
                Ok(csrf) => {
                    let _ = ready.send(Ok(()));
                    csrf
                }
                Err(reason) => {
                    let _ = ready.send(Err(reason));
                    return None;
                }
            };
            if go.wait_for(|go| *go).await.is_err() {
                return None;
            }
            Some(buyer.check_out(&csrf).await)
        });
    }
    drop((ready_tx, go_rx));
    let (mut carted, mut failed, mut first_error) = (0usize, 0usize, None);
    while carted + failed < n {
        match ready_rx.recv().await {
            Some(Ok(())) => {
                carted += 1;
                bar.inc(1);
            }
            Some(Err(reason)) => {
                failed += 1;
                bar.set_message(format!("{failed} failed"));
                first_error.get_or_insert(reason);
            }
            None => break,
        }
    }
    bar.finish_and_clear();
    let took = started.elapsed();
    if carted == 0 {
        return Err(BenchError::Clients(format!(
            "no buyer could cart the pair: {}",
            first_error.unwrap_or_else(|| "they stopped".into())
        )));
    }
    note(format!(
        "carted: {carted} of {n} buyers loaded / and carted item {item_id} in {} ({:.0}/s, {} at once){}",
        secs(took),
        per_sec(carted, took).unwrap_or(0.0),
        args.concurrency,
        first_error
            .as_ref()
            .map_or_else(String::new, |e| format!("; {failed} failed (first: {e})"))
    ));
    Ok(Carted {
        buyers,
        go,
        stats: CartStats {
            carted,
            failed,
            first_error,
            took,
        },
    })
}

/// The measure step: every carted buyer posts `/checkout` at once; each answer and its time.
async fn race(
    mut buyers: JoinSet<Option<Outcome>>,
    go: watch::Sender<bool>,
    carted: usize,
    pid: Option<u32>,
) -> Race {
    let usage = Usage::start(pid);
    let bar = progress(carted as u64, "checkout");
    let t0 = Instant::now();
    let _ = go.send(true);
    let mut race = Race {
        orders: 0,
        sold_out: 0,
        errors: BTreeMap::new(),
        latencies: Vec::with_capacity(carted),
        wall: Duration::ZERO,
        sold_by: None,
        server: usage.finish(),
    };
    let mut last = t0;
    while let Some(joined) = buyers.join_next().await {
        let outcome = match joined {
            Ok(Some(outcome)) => outcome,
            Ok(None) => continue,
            Err(e) => {
                *race
                    .errors
                    .entry(format!("buyer task failed: {e}"))
                    .or_default() += 1;
                continue;
            }
        };
        bar.inc(1);
        race.latencies.push(outcome.latency);
        last = last.max(outcome.at);
        match outcome.answer {
            Answer::Order => {
                race.orders += 1;
                race.sold_by = race.sold_by.max(Some(outcome.at - t0));
            }
            Answer::SoldOut => race.sold_out += 1,
            Answer::Error(kind) => *race.errors.entry(kind).or_default() += 1,
        }
    }
    bar.finish_and_clear();
    race.wall = last - t0;
    race.server = usage.finish();
    race
}

/// The report step, and what is wrong (empty when every pair is accounted for).
fn report(args: &CheckoutArgs, what: &str, m: &Measured) -> (Report, Vec<String>) {
    let (n, k) = (args.buyers as usize, i64::from(args.stock));
    let race = &m.race;
    let mut report = Report::new(
        "checkout",
        format!(
            "checkout: {n} buyers for {k} pairs of item {} against {what}",
            m.item_id
        ),
    );
    report.count("buyers carted", m.carting.carted);
    if m.carting.failed > 0 {
        report.count("buyers who could not cart", m.carting.failed);
        if let Some(error) = &m.carting.first_error {
            report.text("first carting error", error.clone());
        }
    }
    report.duration("carting took", Some(m.carting.took));
    report.count("orders answered", race.orders);
    report.count("sold out answered", race.sold_out);
    let error_count: usize = race.errors.values().sum();
    report.count("errors answered", error_count);
    if !race.errors.is_empty() {
        let kinds: Vec<String> = race
            .errors
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        report.text("error kinds", kinds.join(", "));
    }
    let mut latencies = race.latencies.clone();
    report.summary("answer time", Summary::of(&mut latencies));
    report.duration("last pair sold at", race.sold_by);
    report.duration("all answered in", Some(race.wall));
    report.number(
        "checkouts per second",
        per_sec(m.carting.carted, race.wall),
        Unit::PerSec,
    );
    report.number(
        "server CPU during the race",
        race.server.cpu_percent(),
        Unit::Percent,
    );
    report.number(
        "server memory",
        race.server.rss.map(|b| b as f64),
        Unit::Bytes,
    );
    report.number(
        format!("server memory {} s later", args.settle),
        m.settled_rss.map(|b| b as f64),
        Unit::Bytes,
    );
    report.text("database", m.database.clone());

    let mut problems = Vec::new();
    let expected_orders = m.carting.carted.min(k as usize);
    if race.orders != expected_orders {
        problems.push(format!(
            "{} orders answered, expected {expected_orders}",
            race.orders
        ));
    }
    check_the_database(&mut report, &mut problems, m, k);
    if m.carting.carted >= k as usize && m.left != 0 {
        problems.push(format!("{} pairs unsold", m.left));
    }
    report.text(
        "verdict",
        if problems.is_empty() {
            "every pair accounted for".to_string()
        } else {
            format!("WRONG: {}", problems.join("; "))
        },
    );
    (report, problems)
}

/// The verify step: what the database says was sold and is left, against the stock and the
/// answers; falls back to the admin API's count when the database could not be read.
fn check_the_database(report: &mut Report, problems: &mut Vec<String>, m: &Measured, k: i64) {
    let race = &m.race;
    match &m.written {
        Ok(written) => {
            report.count("orders in the database", written.orders.max(0) as usize);
            report.count("pairs sold in the database", written.lines.max(0) as usize);
            report.count("pairs left in the database", written.left.max(0) as usize);
            let accounted = written.lines + written.left == k;
            report.text(
                "sold + left = stock",
                format!(
                    "{} + {} {} {k}",
                    written.lines,
                    written.left,
                    if accounted { "=" } else { "!=" }
                ),
            );
            if !accounted {
                problems.push(format!(
                    "{} sold + {} left != {k} pairs{}",
                    written.lines,
                    written.left,
                    if written.lines > k { " (oversold)" } else { "" }
                ));
            }
            if written.orders != race.orders as i64 {
                problems.push(format!(
                    "{} orders in the database, {} answered",
                    written.orders, race.orders
                ));
            }
            if i64::from(m.left) != written.left {
                problems.push(format!(
                    "the store says {} pairs left, its database {}",
                    m.left, written.left
                ));
            }
        }
        Err(reason) => {
            report.text("orders in the database", format!("not counted: {reason}"));
            report.count("pairs left (admin API)", m.left.max(0) as usize);
            if race.orders as i64 + i64::from(m.left) != k {
                problems.push(format!(
                    "{} orders + {} left != {k} pairs",
                    race.orders, m.left
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(buyers: u32, stock: u32) -> CheckoutArgs {
        CheckoutArgs {
            buyers,
            stock,
            server: ServerArgs::default(),
            concurrency: 64,
            timeout: 60,
            settle: 5,
        }
    }

    fn measured(orders: usize, left: i32, written: Result<Ledger, String>) -> Measured {
        Measured {
            item_id: 7,
            carting: CartStats {
                carted: 200,
                failed: 0,
                first_error: None,
                took: Duration::from_millis(100),
            },
            race: Race {
                orders,
                sold_out: 200 - orders,
                errors: BTreeMap::new(),
                latencies: vec![Duration::from_millis(5); 200],
                wall: Duration::from_millis(50),
                sold_by: Some(Duration::from_millis(30)),
                server: UsageReport {
                    cpu: None,
                    wall: Duration::from_millis(50),
                    rss: None,
                },
            },
            left,
            written,
            database: "SQLite test.db".into(),
            settled_rss: None,
        }
    }

    fn ledger(orders: i64, lines: i64, left: i64) -> Result<Ledger, String> {
        Ok(Ledger {
            orders,
            lines,
            left,
        })
    }

    #[test]
    fn every_pair_accounted_for() {
        let (printed, problems) =
            report(&args(200, 100), "x", &measured(100, 0, ledger(100, 100, 0)));
        assert!(problems.is_empty(), "{problems:?}");
        let text = printed.to_text();
        assert!(text.contains("orders in the database      100"), "{text}");
        assert!(text.contains("100 + 0 = 100"), "{text}");
        assert!(text.contains("answer time p99"), "{text}");
        assert!(
            text.contains("last pair sold at           30.0 ms"),
            "{text}"
        );
    }

    #[test]
    fn an_oversold_item_or_a_missing_order_is_wrong() {
        let (_, problems) = report(&args(200, 100), "x", &measured(100, 0, ledger(101, 101, 0)));
        assert!(
            problems.iter().any(|p| p.contains("oversold")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("101 orders in the database, 100 answered"))
        );
        let (_, problems) = report(&args(200, 100), "x", &measured(100, 0, ledger(99, 99, 1)));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("99 orders in the database"))
        );
        assert!(
            problems.iter().any(|p| p.contains("its database 1")),
            "{problems:?}"
        );
    }

    #[test]
    fn without_the_database_the_admin_count_is_checked() {
        let unread = Err("no such file".to_string());
        let (printed, problems) = report(&args(200, 100), "x", &measured(100, 0, unread.clone()));
        assert!(problems.is_empty(), "{problems:?}");
        assert!(printed.to_text().contains("not counted: no such file"));
        let (_, problems) = report(&args(200, 100), "x", &measured(99, 0, unread));
        assert!(!problems.is_empty());
    }
}
