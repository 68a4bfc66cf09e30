//! `sneakers-bench shoppers`: the book's sneaker_admin_bench. N shoppers, each a real cart
//! socket with its own session, on a random page, carting one or two pairs; with `--churn R`,
//! every second R of them leave and R new ones arrive. One admin watches `admin:cart_tracker`:
//! how long from a shopper's `phx_join` until the admin's `presence_diff` names it, how many
//! pushes the admin gets a second, and what the server spends.
//!
//! Steps: connect (the admin, then every shopper), measure (the churn), drain (the last diffs),
//! close, report.

mod shopper;
mod tracker;

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde_json::json;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::Options;
use crate::error::BenchError;
use crate::harness::{Harness, Node, ServerArgs, interruptible};
use crate::http::{fetch_sessions, in_stock_items};
use crate::procs::{Usage, UsageReport, ensure_open_files};
use crate::report::{Report, Summary, Unit, note, per_sec, progress, secs};
use crate::ws::{self, ADMIN_SOCKET, Target};
use shopper::{ADMIN_TOPIC, Event};
use tracker::{Phase, Spawner, Tracker};

/// After the run: how long to wait for the admin to see the last joins.
const DRAIN: Duration = Duration::from_secs(5);
/// The admin's count is read once no diff came for this long.
const QUIET: Duration = Duration::from_millis(500);
/// Churn happens in this many slices a second.
const SLICES: u32 = 10;

#[derive(Args, Debug, Clone, PartialEq)]
pub struct ShoppersArgs {
    /// Shoppers (cart sockets) to keep open.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// Shoppers that leave, and new ones that join, every second (spread over the second).
    #[arg(long, default_value_t = 0)]
    pub churn: u32,
    /// Seconds to run (churning, if asked) once every shopper is in.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub duration: u64,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Connections opened at once.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// Seconds to wait for a connection, a join or a reply.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
}

pub async fn run(options: &Options, args: ShoppersArgs) -> Result<(), BenchError> {
    if args.churn > args.count {
        return Err(BenchError::Usage(format!(
            "--churn {} is more than the {} shoppers there are",
            args.churn, args.count
        )));
    }
    // Leaving sockets may still be closing while the new ones open.
    let sockets = u64::from(args.count) + 2 * u64::from(args.churn) + 1;
    ensure_open_files(sockets, &format!("{} shoppers", args.count))?;
    let harness = Harness::store(options.server_bin.as_deref(), &args.server, 1).await?;
    note(format!(
        "shoppers: {} shoppers, churn {}/s for {} s, one admin, against {} at {}",
        args.count,
        args.churn,
        args.duration,
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

/// Everything measured, for the report.
struct Measured {
    tracker: Tracker,
    connecting: UsageReport,
    connect_time: Duration,
    /// Diffs the admin got during the run, and what the server spent on it.
    diffs: usize,
    running: UsageReport,
    left: usize,
    arrived: usize,
    /// Shoppers connected at the end.
    expected: usize,
}

/// What every step shares.
struct Run {
    tracker: Tracker,
    spawner: Spawner,
    tasks: JoinSet<()>,
    events: mpsc::UnboundedReceiver<Event>,
    stop: watch::Sender<bool>,
    admin: JoinHandle<()>,
}

async fn bench(args: &ShoppersArgs, node: &Node) -> Result<Measured, BenchError> {
    let mut run = connect_admin(args, node).await?;
    let (connect_time, connecting) =
        match everyone_in(&mut run, args.count as usize, node.pid, args.concurrency).await {
            Ok(measured) => measured,
            Err(error) => {
                let _ = run.stop.send(true);
                return Err(error);
            }
        };
    let (diffs, running, left, arrived) = churn(&mut run, args, node.pid).await;
    drain(&mut run).await;
    let expected = run.tracker.present.len();
    close(&mut run, expected).await;
    Ok(Measured {
        tracker: run.tracker,
        connecting,
        connect_time,
        diffs,
        running,
        left,
        arrived,
        expected,
    })
}

/// The sessions, then the admin socket first, so it sees every shopper arrive.
async fn connect_admin(args: &ShoppersArgs, node: &Node) -> Result<Run, BenchError> {
    let n = args.count as usize;
    let timeout = Duration::from_secs(args.timeout);
    let admin = node.admin()?;
    let items = in_stock_items(&admin.api).await?;
    let target = Arc::new(Target::resolve(&node.base, timeout).await?);
    let wanted = n + args.churn as usize * args.duration as usize;
    let started = Instant::now();
    let sessions = fetch_sessions(&node.base, wanted).await?;
    note(format!(
        "tokens: {wanted} sessions from GET /session/token in {} ({:.0}/s); {} sizes in stock to cart",
        secs(started.elapsed()),
        per_sec(wanted, started.elapsed()).unwrap_or(0.0),
        items.len()
    ));
    let (events_tx, events) = mpsc::unbounded_channel();
    let (stop, stop_rx) = watch::channel(false);
    let admin_token = admin.socket_token().await?;
    let admin_error = |e: String| BenchError::Clients(format!("admin socket: {e}"));
    let mut socket = ws::connect(
        u32::MAX,
        &target,
        ADMIN_SOCKET,
        &admin_token,
        ws::large_config(),
    )
    .await
    .map_err(admin_error)?;
    ws::join(&mut socket, ADMIN_TOPIC, &json!({}), timeout)
        .await
        .map_err(admin_error)?;
    let admin = tokio::spawn(shopper::watch_as_admin(
        socket,
        events_tx.clone(),
        stop_rx.clone(),
    ));
    note(format!("admin: joined {ADMIN_TOPIC} on {ADMIN_SOCKET}"));
    Ok(Run {
        tracker: Tracker::new(),
        spawner: Spawner {
            target,
            items,
            gate: Arc::new(Semaphore::new(args.concurrency as usize)),
            events: events_tx,
            stop: stop_rx,
            sessions: sessions.into_iter(),
            next_id: 0,
        },
        tasks: JoinSet::new(),
        events,
        stop,
        admin,
    })
}

/// The connect step: `n` shoppers join their cart and cart their pairs.
async fn everyone_in(
    run: &mut Run,
    n: usize,
    pid: Option<u32>,
    concurrency: u32,
) -> Result<(Duration, UsageReport), BenchError> {
    let usage = Usage::start(pid);
    let bar = progress(n as u64, "connecting");
    let started = Instant::now();
    run.spawner.spawn(n, &mut run.tracker, &mut run.tasks);
    while run.tracker.ready + run.tracker.failed < n {
        let Some(event) = run.events.recv().await else {
            break;
        };
        let ready = matches!(event, Event::Ready { result: Ok(_), .. });
        let failed = matches!(event, Event::Ready { result: Err(_), .. });
        run.tracker.handle(event);
        if ready {
            bar.inc(1);
        } else if failed {
            bar.set_message(format!("{} failed", run.tracker.failed));
        }
    }
    bar.finish_and_clear();
    let took = started.elapsed();
    if run.tracker.ready < n {
        return Err(BenchError::Clients(format!(
            "only {} of {n} shoppers joined: {}",
            run.tracker.ready,
            run.tracker
                .first_failure
                .clone()
                .unwrap_or_else(|| "they stopped".into())
        )));
    }
    let used = usage.finish();
    note(format!(
        "connect: {n} shoppers joined their cart and carted {} pair(s) in {} ({:.0} shoppers/s, {concurrency} in flight); server {}",
        run.tracker.added,
        secs(took),
        per_sec(n, took).unwrap_or(0.0),
        used.line()
    ));
    Ok((took, used))
}

/// The measure step: churn (or just watch) for `--duration` seconds. The diffs the admin got,
/// the server's usage, how many left and how many arrived.
async fn churn(
    run: &mut Run,
    args: &ShoppersArgs,
    pid: Option<u32>,
) -> (usize, UsageReport, usize, usize) {
    run.tracker.phase = Phase::Churn;
    let diffs_before = run.tracker.diffs;
    let usage = Usage::start(pid);
    let bar = progress(args.duration, "running");
    // Churn is spread over each second, as shoppers come and go: R per second in all.
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / SLICES);
    ticker.tick().await;
    let (mut left, mut arrived) = (0usize, 0usize);
    let slices = args.duration * u64::from(SLICES);
    let mut slice = 0u64;
    while slice < slices {
        tokio::select! {
            _ = ticker.tick() => {
                slice += 1;
                if slice.is_multiple_of(u64::from(SLICES)) {
                    bar.inc(1);
                }
                let due = due_in_slice(args.churn, slice) as usize;
                if due > 0 {
                    left += run.tracker.send_away(due);
                    arrived += run.spawner.spawn(due, &mut run.tracker, &mut run.tasks);
                    bar.set_message(format!("{left} left, {arrived} arrived"));
                }
            }
            event = run.events.recv() => match event {
                Some(event) => run.tracker.handle(event),
                None => break,
            },
        }
    }
    bar.finish_and_clear();
    (
        run.tracker.diffs - diffs_before,
        usage.finish(),
        left,
        arrived,
    )
}

/// Shoppers to churn in slice `slice` (1-based) of a second cut in [`SLICES`]: `churn` in all
/// over each second, none lost to rounding.
fn due_in_slice(churn: u32, slice: u64) -> u64 {
    let (churn, slices) = (u64::from(churn), u64::from(SLICES));
    churn * slice / slices - churn * slice.saturating_sub(1) / slices
}

/// Lets the last joins reach the admin, and its count settle.
async fn drain(run: &mut Run) {
    let deadline = Instant::now() + DRAIN;
    loop {
        let settled = run.tracker.joining.is_empty()
            && run.tracker.waiting.is_empty()
            && run.tracker.last_diff.is_none_or(|at| at.elapsed() >= QUIET);
        if settled || Instant::now() >= deadline {
            break;
        }
        match tokio::time::timeout(Duration::from_millis(50), run.events.recv()).await {
            Ok(Some(event)) => run.tracker.handle(event),
            Ok(None) => break,
            Err(_) => {}
        }
    }
}

async fn close(run: &mut Run, expected: usize) {
    let _ = run.stop.send(true);
    let closing = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        while run.tasks.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    run.tasks.abort_all();
    let _ = tokio::time::timeout(Duration::from_secs(3), &mut run.admin).await;
    note(format!(
        "close: {} in {}",
        if closed {
            format!("{expected} sockets closed")
        } else {
            "some sockets did not close; dropped".to_string()
        },
        secs(closing.elapsed())
    ));
}

/// The report step, and what is wrong (empty when the admin saw everyone).
fn report(args: &ShoppersArgs, what: &str, m: &Measured) -> (Report, Vec<String>) {
    let t = &m.tracker;
    let mut report = Report::new(
        "shoppers",
        format!(
            "shoppers: {} shoppers, churn {}/s for {} s, one admin, against {what}",
            args.count, args.churn, args.duration
        ),
    );
    report.duration("connect and cart all", Some(m.connect_time));
    report.number(
        "server CPU while connecting",
        m.connecting.cpu_percent(),
        Unit::Percent,
    );
    let missed = t.waiting.len();
    let [initial, churned] = &t.lags;
    let mut every: Vec<Duration> = initial.iter().chain(churned).copied().collect();
    report.summary(
        "admin lag, initial joins",
        Summary::of(&mut initial.clone()),
    );
    if args.churn > 0 {
        report.summary("admin lag, churn joins", Summary::of(&mut churned.clone()));
    }
    report.summary("admin lag, every join", Summary::of(&mut every));
    report.count("joins the admin never saw", missed);
    report.number(
        "admin pushes",
        Some(m.diffs as f64 / args.duration as f64),
        Unit::PerSec,
    );
    report.count("diffs in all", t.diffs);
    report.count("keys joined in diffs", t.joins_seen);
    report.count("keys left in diffs", t.leaves_seen);
    if args.churn > 0 {
        report.count("churn: left", m.left);
        report.count("churn: arrived", m.arrived);
    }
    report.count("shoppers connected at the end", m.expected);
    report.number(
        "admin shopper count",
        t.admin_count.map(|c| c as f64),
        Unit::Count,
    );
    report.count("pairs carted", t.added as usize);
    report.count("add_item sold out", t.sold_out as usize);
    report.count("add_item duplicate", t.duplicate as usize);
    report.count("add_item refused", t.refused as usize);
    report.count("cart pushes before replies", t.cart_pushes as usize);
    report.count("new_token pushes before replies", t.token_pushes as usize);
    report.number(
        "server CPU during the run",
        m.running.cpu_percent(),
        Unit::Percent,
    );
    report.number(
        "server memory",
        m.running.rss.map(|b| b as f64),
        Unit::Bytes,
    );
    report.count("shoppers failed to join", t.failed);
    report.count("shoppers lost", t.lost);
    for (label, reason) in [
        ("first failure", &t.first_failure),
        ("first loss", &t.first_lost),
        ("first refusal", &t.first_refusal),
    ] {
        if let Some(reason) = reason {
            report.text(label, reason.clone());
        }
    }

    let mut problems = Vec::new();
    if missed > 0 {
        problems.push(format!("{missed} joins unseen"));
    }
    if t.admin_count != Some(m.expected as u64) {
        problems.push(format!(
            "the admin counts {} shoppers, {} are connected",
            t.admin_count
                .map_or_else(|| "no".to_string(), |c| c.to_string()),
            m.expected
        ));
    }
    if t.failed + t.lost > 0 {
        problems.push(format!("{} failed, {} lost", t.failed, t.lost));
    }
    if let Some(reason) = &t.admin_lost {
        problems.push(format!("admin socket lost: {reason}"));
    }
    report.text(
        "verdict",
        if problems.is_empty() {
            "the admin saw every shopper".to_string()
        } else {
            format!("WRONG: {}", problems.join("; "))
        },
    );
    (report, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn churn_is_spread_over_the_second_without_rounding_loss() {
        let per_second: u64 = (1..=u64::from(SLICES)).map(|s| due_in_slice(25, s)).sum();
        assert_eq!(per_second, 25);
        let second_second: u64 = (11..=20).map(|s| due_in_slice(25, s)).sum();
        assert_eq!(second_second, 25);
        assert_eq!(due_in_slice(0, 3), 0);
        assert_eq!(due_in_slice(10, 1), 1);
    }
}
