//! `sneakers-bench fanout`: N shopper sockets on one product, then K stock changes; how long
//! until the first and the last shopper reads each one, and what each socket costs the server.
//! First the floor (a bare axum broadcast server, the same clients and events on the same
//! machine), then the store, and the ratio of the two; `--no-floor` skips the floor,
//! `--baseline` measures only the floor. With `--nodes 2` (PostgreSQL) the shoppers are split
//! over two store processes and the stock changes are made on the first: the second node's
//! shoppers time the replication too.
//!
//! Each phase: connect ([`crowd`]), measure ([`measure`]), close; then one report for both.

mod crowd;
mod measure;

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::time::Instant;

use crate::Options;
use crate::baseline;
use crate::error::BenchError;
use crate::harness::{Harness, Node, ServerArgs, interruptible};
use crate::http::{fetch_sessions, http_client, set_stock_of_first_item};
use crate::procs::{self, ensure_open_files};
use crate::report::{Report, Summary, Unit, bytes, line_or_none, note, per_sec, secs};
use crowd::{Board, Crowd, Entry};
use measure::{Timings, Trigger};

/// Pairs the timed item is set to: selling one crosses medium -> low, restocking one crosses back.
const PIVOT: i32 = 150;
/// Let the server settle before reading its memory.
const SETTLE: Duration = Duration::from_secs(1);

#[derive(Args, Debug, Clone, PartialEq)]
pub struct FanoutArgs {
    /// Shopper sockets to open.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub clients: u32,
    /// Stock changes to time (alternately sell one pair and restock it). Odd, so p50 is the
    /// median event.
    #[arg(long, default_value_t = 21, value_parser = clap::value_parser!(u32).range(1..))]
    pub events: u32,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Store processes to spawn against --database-url, the shoppers split evenly over them;
    /// the stock changes are made on the first.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8),
          requires = "database_url")]
    pub nodes: u32,
    /// Measure only the floor (the bare axum broadcast server), not the store.
    #[arg(long, conflicts_with_all = ["url", "database_url", "nodes", "no_floor"])]
    pub baseline: bool,
    /// Skip the floor: measure only the store.
    #[arg(long)]
    pub no_floor: bool,
    /// Connections opened at once.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// Seconds to wait for a connection, a join, or every shopper to get one event.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// Shoppers sharing one socket token (tokens come from GET /session/token).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub clients_per_token: u32,
}

pub async fn run(options: &Options, args: FanoutArgs) -> Result<(), BenchError> {
    // Before spawning: the servers inherit the raised limit.
    ensure_open_files(
        u64::from(args.clients),
        &format!("{} clients", args.clients),
    )?;
    let floor = if args.no_floor {
        None
    } else {
        let harness = Harness::floor().await?;
        Some(phase(&args, harness, "floor").await?)
    };
    let store = if args.baseline {
        None
    } else {
        let harness = Harness::store(
            options.server_bin.as_deref(),
            &args.server,
            args.nodes as usize,
        )
        .await?;
        Some(phase(&args, harness, "store").await?)
    };
    let report = report(&args, floor.as_ref(), store.as_ref());
    report.print(options.json);
    let missing: usize = [&floor, &store]
        .into_iter()
        .flatten()
        .map(|p| p.timings.missing)
        .sum();
    if missing > 0 {
        return Err(BenchError::Wrong(format!(
            "{missing} deliveries never came; the latencies above leave them out"
        )));
    }
    Ok(())
}

/// What one phase (the floor, or the store) measured.
struct Phase {
    name: &'static str,
    what: String,
    clients: usize,
    /// Per node: label, clients, memory per connection.
    nodes: Vec<(String, usize, Option<f64>)>,
    connect: Duration,
    connect_each: Option<Summary>,
    trigger: String,
    timings: Timings,
    lost: usize,
    first_loss: Option<String>,
    frame_bytes: Option<usize>,
    bench_rss: Option<u64>,
}

/// One phase against `harness`'s servers, which are stopped at the end.
async fn phase(
    args: &FanoutArgs,
    harness: Harness,
    name: &'static str,
) -> Result<Phase, BenchError> {
    note(format!(
        "{name}: {} clients, {} events against {} at {}",
        args.clients,
        args.events,
        harness.what,
        harness.addresses()
    ));
    let what = harness.what.clone();
    let outcome = interruptible(measure_phase(args, &harness.nodes, name, what)).await;
    harness.finish(outcome).await
}

async fn measure_phase(
    args: &FanoutArgs,
    nodes: &[Node],
    name: &'static str,
    what: String,
) -> Result<Phase, BenchError> {
    let n = args.clients as usize;
    let timeout = Duration::from_secs(args.timeout);
    let Some(origin) = nodes.first() else {
        return Err(BenchError::Usage("no server to bench".into()));
    };
    let (topic, item_id, trigger) = trigger(origin, timeout).await?;
    let entries = entries(args, nodes, timeout).await?;

    // Connect.
    let rss_before: Vec<Option<u64>> = nodes
        .iter()
        .map(|node| node.pid.and_then(procs::rss_bytes))
        .collect();
    let board = Arc::new(Board::new(n, &topic, item_id));
    let concurrency = args.concurrency as usize;
    let cpt = args.clients_per_token as usize;
    let crowd = Crowd::connect(Arc::clone(&board), &entries, &topic, concurrency, cpt).await?;
    note(format!(
        "connect: {n} clients joined {topic} in {} ({:.0} clients/s, {concurrency} in flight); each {}",
        secs(crowd.took),
        per_sec(n, crowd.took).unwrap_or(0.0),
        line_or_none(crowd.each)
    ));
    tokio::time::sleep(SETTLE).await;
    let nodes_figures = memory_per_connection(nodes, n, &rss_before);
    let bench_rss = procs::own_rss_bytes();
    let (connect, connect_each) = (crowd.took, crowd.each);

    // Measure.
    let timings = measure::events(&board, nodes, &trigger, args.events, timeout).await;
    crowd.close().await;
    let timings = timings?;
    let (lost, first_loss) = board.lost();
    Ok(Phase {
        name,
        what,
        clients: n,
        nodes: nodes_figures,
        connect,
        connect_each,
        trigger: trigger.describe(),
        timings,
        lost,
        first_loss,
        frame_bytes: board.frame_bytes(),
        bench_rss,
    })
}

/// What the events are: on the store, sales and restocks of its first size (set to [`PIVOT`]
/// pairs); on the floor, `POST /trigger`. The topic and item the pushes carry, and the trigger.
async fn trigger(
    origin: &Node,
    timeout: Duration,
) -> Result<(String, i32, Trigger<'_>), BenchError> {
    match &origin.admin {
        Some(admin) => {
            let picked = set_stock_of_first_item(&admin.api, PIVOT).await?;
            note(format!(
                "product {} ({}), item {} (size {}): set to {PIVOT} pairs, was {}",
                picked.product_id, picked.product, picked.item_id, picked.size, picked.was
            ));
            let trigger = Trigger::Store {
                admin,
                item_id: picked.item_id,
            };
            let topic = format!("product:{}", picked.product_id);
            Ok((topic, picked.item_id, trigger))
        }
        None => {
            let trigger = Trigger::Floor {
                http: http_client(timeout)?,
                url: format!("{}/trigger", origin.base),
            };
            Ok((baseline::TOPIC.to_string(), baseline::ITEM_ID, trigger))
        }
    }
}

/// Per node: its label, its clients (client `c` is on node `c % nodes`), and how much its RSS
/// grew per connection since `rss_before` (a fresh process: a reused one refills freed memory).
fn memory_per_connection(
    nodes: &[Node],
    clients: usize,
    rss_before: &[Option<u64>],
) -> Vec<(String, usize, Option<f64>)> {
    let k = nodes.len().max(1);
    nodes
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let on_node = (0..clients).filter(|c| c % k == index).count();
            let after = node.pid.and_then(procs::rss_bytes);
            let before = rss_before.get(index).copied().flatten();
            let per = before
                .zip(after)
                .map(|(b, a)| (a as f64 - b as f64) / on_node.max(1) as f64);
            if let Some(per) = per {
                note(format!(
                    "{} memory per connection: {}",
                    node.label(),
                    bytes(per)
                ));
            }
            (node.label(), on_node, per)
        })
        .collect()
}

/// Each node's address and socket tokens: on the store, from `GET /session/token` on the
/// node itself (as each shopper's page would get one); the floor takes any token.
async fn entries(
    args: &FanoutArgs,
    nodes: &[Node],
    timeout: Duration,
) -> Result<Vec<Entry>, BenchError> {
    let (n, k) = (args.clients as usize, nodes.len().max(1));
    let cpt = args.clients_per_token as usize;
    let started = Instant::now();
    let mut fetched = 0;
    let mut entries = Vec::with_capacity(k);
    for (index, node) in nodes.iter().enumerate() {
        let tokens = if node.admin.is_some() {
            let wanted = (0..n).filter(|c| c % k == index).count().div_ceil(cpt);
            fetched += wanted;
            fetch_sessions(&node.base, wanted)
                .await?
                .into_iter()
                .map(|session| session.token)
                .collect()
        } else {
            vec![Arc::from("floor")]
        };
        entries.push(Entry {
            target: Arc::new(crate::ws::Target::resolve(&node.base, timeout).await?),
            tokens,
        });
    }
    if fetched > 0 {
        note(format!(
            "tokens: {fetched} from GET /session/token in {} ({:.0}/s)",
            secs(started.elapsed()),
            per_sec(fetched, started.elapsed()).unwrap_or(0.0)
        ));
    }
    Ok(entries)
}

/// The report step: the floor's figures, the store's, and the store over the floor.
fn report(args: &FanoutArgs, floor: Option<&Phase>, store: Option<&Phase>) -> Report {
    let against: Vec<String> = [floor, store]
        .into_iter()
        .flatten()
        .map(|p| format!("{}: {}", p.name, p.what))
        .collect();
    let mut report = Report::new(
        "fanout",
        format!(
            "fanout: {} clients, {} events; {}",
            args.clients,
            args.events,
            against.join("; ")
        ),
    );
    for phase in [floor, store].into_iter().flatten() {
        phase_figures(&mut report, phase);
    }
    if let (Some(floor), Some(store)) = (floor, store) {
        let last = |p: &Phase| {
            let mut all: Vec<Duration> = p.timings.lasts.iter().flatten().copied().collect();
            Summary::of(&mut all)
        };
        let ratio = |s: Option<Duration>, f: Option<Duration>| {
            s.zip(f)
                .filter(|(_, f)| !f.is_zero())
                .map(|(s, f)| s.as_secs_f64() / f.as_secs_f64())
        };
        let (s, f) = (last(store), last(floor));
        report.number(
            "store/floor last client p50",
            ratio(s.map(|s| s.p50), f.map(|f| f.p50)),
            Unit::Times,
        );
        report.number(
            "store/floor last client p99",
            ratio(s.map(|s| s.p99), f.map(|f| f.p99)),
            Unit::Times,
        );
        report.number(
            "store/floor server CPU per delivery",
            cpu_per_delivery(store, 0)
                .zip(cpu_per_delivery(floor, 0))
                .map(|(s, f)| s / f),
            Unit::Times,
        );
    }
    report
}

/// Server CPU per delivery of node `index`, in µs.
fn cpu_per_delivery(phase: &Phase, index: usize) -> Option<f64> {
    let delivered = phase.timings.deliveries.len();
    let cpu = phase.timings.server_cpu.get(index).copied().flatten()?;
    (delivered > 0).then(|| cpu.as_secs_f64() * 1e6 / delivered as f64)
}

fn phase_figures(report: &mut Report, phase: &Phase) {
    let p = phase.name;
    let t = &phase.timings;
    let several = phase.nodes.len() > 1;
    report.count(format!("{p} clients"), phase.clients);
    report.duration(format!("{p} connect and join all"), Some(phase.connect));
    report.number(
        format!("{p} connect rate"),
        per_sec(phase.clients, phase.connect),
        Unit::PerSec,
    );
    report.duration(
        format!("{p} connect and join p50"),
        phase.connect_each.map(|s| s.p50),
    );
    report.text(format!("{p} trigger"), phase.trigger.clone());
    for (index, (label, clients, memory)) in phase.nodes.iter().enumerate() {
        let who = if several {
            format!("{p} {label}")
        } else {
            p.to_string()
        };
        if several {
            let how = if index == 0 {
                "its own sale"
            } else {
                "replicated"
            };
            report.text(who.clone(), format!("{clients} clients, {how}"));
        }
        let mut firsts = t.firsts.get(index).cloned().unwrap_or_default();
        let mut lasts = t.lasts.get(index).cloned().unwrap_or_default();
        report.summary(&format!("{who} first client"), Summary::of(&mut firsts));
        report.summary(&format!("{who} last client"), Summary::of(&mut lasts));
        report.number(
            format!("{who} server memory per connection"),
            *memory,
            Unit::Bytes,
        );
        report.number(
            format!("{who} server CPU per delivery"),
            cpu_per_delivery(phase, index),
            Unit::Micros,
        );
    }
    let mut every = t.deliveries.clone();
    report.summary(&format!("{p} every delivery"), Summary::of(&mut every));
    let mut requests = t.requests.clone();
    report.duration(
        format!("{p} trigger request p50"),
        Summary::of(&mut requests).map(|s| s.p50),
    );
    let delivered = t.deliveries.len();
    report.number(
        format!("{p} bench CPU per delivery"),
        t.bench_cpu
            .filter(|_| delivered > 0)
            .map(|cpu| cpu.as_secs_f64() * 1e6 / delivered as f64),
        Unit::Micros,
    );
    report.number(
        format!("{p} bench memory per client"),
        phase
            .bench_rss
            .map(|rss| rss as f64 / phase.clients.max(1) as f64),
        Unit::Bytes,
    );
    report.number(
        format!("{p} push size"),
        phase.frame_bytes.map(|b| b as f64),
        Unit::Bytes,
    );
    report.count(format!("{p} deliveries"), delivered);
    report.count(format!("{p} missing deliveries"), t.missing);
    if t.events_missing > 0 {
        report.count(format!("{p} events incomplete"), t.events_missing);
    }
    report.count(format!("{p} lost clients"), phase.lost);
    if let Some(reason) = &phase.first_loss {
        report.text(format!("{p} first loss"), reason.clone());
    }
    if let Some(published) = t.published {
        let events = t.requests.len().max(1) as f64;
        report.number(
            format!("{p} cluster messages per sale (heartbeats included)"),
            Some(published / events),
            Unit::Count,
        );
    }
}
