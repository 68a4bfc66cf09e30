//! `sneakers-bench bus-ceiling`: the highest sustained sales per second a cluster takes while
//! every node's pages still show each change within `--tolerance` (1.2×) of a single node's
//! delay. Every rate of `--rates` runs for `--seconds` on one node first (sales and pages on
//! it: the delay with no other node to tell), then on `--nodes` nodes (sales spread over them
//! in turn, a page of every product on every node), each on a freshly seeded database and the
//! same bus (NOTIFY, or Redis with `--redis-url`).
//!
//! A sale is an admin sell of one pair of a size kept at 150 pairs (medium), answered by a
//! restock of it on the next move, so every move crosses medium <-> low and is pushed to the
//! product's pages. A size has at most one move in flight, so the first push of a size on a
//! page is that move's: its delay runs from just before the request to the page reading it.
//! A tick that finds every size in flight is a sale the cluster could not take at that rate.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use clap::Args;
use serde_json::json;
use sneakers::domain::ItemId;
use sneakers::live::protocol;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::Options;
use crate::error::BenchError;
use crate::harness::{Harness, Node, ServerArgs, interruptible};
use crate::http::{Admin, fetch_sessions};
use crate::report::{Report, Unit, ms, note, percentile};
use crate::ws::{self, SHOPPER_SOCKET, Target};

/// The pairs each size sits at: medium; one fewer is low.
const PIVOT: i32 = 150;
/// The level a size shows at [`PIVOT`] and one pair under it.
const AT_PIVOT: &str = "medium";
const UNDER_PIVOT: &str = "low";
/// A sale or restock the bench has at once in flight, at most (beyond it the rate is not met).
const MAX_IN_FLIGHT: usize = 256;

#[derive(Args, Debug, Clone, PartialEq)]
pub struct BusCeilingArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Nodes of the cluster run (the single-node run is the reference).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=8))]
    pub nodes: u32,
    /// Sales per second to try, in order.
    #[arg(long, value_delimiter = ',', default_values_t = [25, 50, 100, 200, 400, 800])]
    pub rates: Vec<u32>,
    /// Seconds each rate is held.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub seconds: u64,
    /// How much slower than a single node a node's pages may be (median delay).
    #[arg(long, default_value_t = 1.2)]
    pub tolerance: f64,
    /// Seconds a push may take before it counts as never shown.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
}

pub async fn run(options: &Options, args: BusCeilingArgs) -> Result<(), BenchError> {
    if args.server.database_url.is_none() || args.server.url.is_some() {
        return Err(BenchError::Usage(
            "bus-ceiling spawns its nodes on one PostgreSQL: pass --database-url postgres://... \
             (and --redis-url redis://... for the Redis bus)"
                .into(),
        ));
    }
    if args.rates.is_empty() || args.rates.contains(&0) {
        return Err(BenchError::Usage(
            "--rates are sales per second, above 0".into(),
        ));
    }
    let single = cluster_run(options, &args, 1).await?;
    let several = cluster_run(options, &args, args.nodes as usize).await?;
    let (report, ceiling) = report(&args, &single, &several);
    report.print(options.json);
    if ceiling.is_none() {
        note("no rate met the tolerance: the ceiling is below the lowest rate tried");
    }
    Ok(())
}

/// What one rate measured on one cluster.
struct Step {
    rate: u32,
    /// Per node: each move's delay to that node's page.
    delays: Vec<Vec<Duration>>,
    /// Moves whose pushes every node showed.
    done: usize,
    /// Ticks that found every size in flight.
    skipped: usize,
    /// Moves some node never showed within the timeout.
    missing: usize,
    failed: usize,
    first_error: Option<String>,
    took: Duration,
}

impl Step {
    fn achieved(&self) -> f64 {
        self.done as f64 / self.took.as_secs_f64().max(f64::EPSILON)
    }

    /// Every node's median delay, and the worst.
    fn medians(&self) -> Vec<Option<Duration>> {
        self.delays
            .iter()
            .map(|d| {
                let mut d = d.clone();
                d.sort_unstable();
                percentile(&d, 0.5)
            })
            .collect()
    }

    fn worst(&self, p: f64) -> Option<Duration> {
        self.delays
            .iter()
            .filter_map(|d| {
                let mut d = d.clone();
                d.sort_unstable();
                percentile(&d, p)
            })
            .max()
    }

    /// Whether the cluster took the rate: (nearly) every tick sold and every push came.
    fn sustained(&self) -> bool {
        self.missing == 0 && self.failed == 0 && self.achieved() >= 0.95 * f64::from(self.rate)
    }
}

/// Spawns `nodes` nodes, runs every rate on them, stops them.
async fn cluster_run(
    options: &Options,
    args: &BusCeilingArgs,
    nodes: usize,
) -> Result<Vec<Step>, BenchError> {
    let harness = Harness::store(options.server_bin.as_deref(), &args.server, nodes).await?;
    note(format!(
        "bus-ceiling: {} at {}",
        harness.what,
        harness.addresses()
    ));
    let outcome = interruptible(rates(args, &harness.nodes)).await;
    harness.finish(outcome).await
}

/// A size the bench moves, and where it stands.
#[derive(Clone, Copy)]
struct Size {
    item: i32,
    /// The next move sells (at [`PIVOT`]) or restocks (one under).
    sells: bool,
}

/// A move waiting for its pushes.
struct Flight {
    t0: Instant,
    level: &'static str,
    /// Per node: its page's delay, once shown.
    shown: Vec<Option<Duration>>,
    answered: bool,
    size: Size,
}

/// What the pages and the driver share.
struct Board {
    flights: Mutex<HashMap<i32, Flight>>,
    free: Mutex<VecDeque<Size>>,
    /// Per node, the delays of the current step.
    delays: Mutex<Vec<Vec<Duration>>>,
    done: Mutex<usize>,
}

impl Board {
    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A page on `node` read `text`.
    fn seen(&self, node: usize, text: &str) {
        if !matches!(protocol::peek(text), Some((_, "stock_change"))) {
            return;
        }
        let Ok(frame) = protocol::decode(text) else {
            return;
        };
        let Some(item) = frame.payload["item_id"].as_i64() else {
            return;
        };
        let level = frame.payload["level"].as_str().unwrap_or_default();
        let mut flights = Board::lock(&self.flights);
        let Some(flight) = flights.get_mut(&(item as i32)) else {
            return;
        };
        if flight.level != level {
            return;
        }
        if let Some(slot @ None) = flight.shown.get_mut(node) {
            *slot = Some(flight.t0.elapsed());
        }
        self.land(&mut flights, item as i32);
    }

    /// The move's request was answered with the size now at `count` pairs (`None`: failed).
    fn answered(&self, item: i32, count: Option<i32>) {
        let mut flights = Board::lock(&self.flights);
        let Some(flight) = flights.get_mut(&item) else {
            return;
        };
        flight.answered = true;
        match count {
            Some(PIVOT) => flight.size.sells = true,
            Some(c) if c == PIVOT - 1 => flight.size.sells = false,
            // Moved by someone else, or failed: the size is left out from now on.
            _ => {
                flights.remove(&item);
                return;
            }
        }
        self.land(&mut flights, item);
    }

    /// Ends a move every page showed and whose request was answered: its delays count.
    fn land(&self, flights: &mut HashMap<i32, Flight>, item: i32) {
        let complete = flights
            .get(&item)
            .is_some_and(|f| f.answered && f.shown.iter().all(Option::is_some));
        if !complete {
            return;
        }
        let Some(flight) = flights.remove(&item) else {
            return;
        };
        let mut delays = Board::lock(&self.delays);
        for (node, delay) in flight.shown.iter().enumerate() {
            if let (Some(delay), Some(all)) = (delay, delays.get_mut(node)) {
                all.push(*delay);
            }
        }
        *Board::lock(&self.done) += 1;
        Board::lock(&self.free).push_back(flight.size);
    }

    /// Moves older than `limit`: dropped, counted missing, their sizes free again if answered.
    fn expire(&self, limit: Duration) -> usize {
        let mut flights = Board::lock(&self.flights);
        let late: Vec<i32> = flights
            .iter()
            .filter(|(_, f)| f.t0.elapsed() > limit)
            .map(|(item, _)| *item)
            .collect();
        for item in &late {
            if let Some(flight) = flights.remove(item)
                && flight.answered
            {
                Board::lock(&self.free).push_back(flight.size);
            }
        }
        late.len()
    }
}

/// Sets every size of the released products to [`PIVOT`]; the sizes and their products.
async fn sizes(admin: &Admin) -> Result<(Vec<Size>, Vec<i32>), BenchError> {
    let inventory = admin.api.inventory().await?;
    let mut sizes = Vec::new();
    let mut products = Vec::new();
    for product in inventory.products.iter().filter(|p| p.released) {
        products.push(product.id.0);
        for item in &product.items {
            let mut now = item.available_count;
            while now != PIVOT {
                let step = (now - PIVOT)
                    .abs()
                    .min(sneakers::inventory::MAX_PAIRS_PER_MOVE);
                let reply = if now > PIVOT {
                    admin.api.sell(item.id, step).await?
                } else {
                    admin.api.restock(item.id, step).await?
                };
                now = reply.available_count;
            }
            sizes.push(Size {
                item: item.id.0,
                sells: true,
            });
        }
    }
    if sizes.is_empty() {
        return Err(BenchError::Unexpected(
            "the seeded store has no released product to sell".into(),
        ));
    }
    Ok((sizes, products))
}

/// Every rate in turn on these nodes.
async fn rates(args: &BusCeilingArgs, nodes: &[Node]) -> Result<Vec<Step>, BenchError> {
    let first = nodes
        .first()
        .ok_or_else(|| BenchError::Usage("no node".into()))?;
    let (sizes, products) = sizes(first.admin()?).await?;
    note(format!(
        "{} sizes of {} products at {PIVOT} pairs; a page of each product on each of {} node(s)",
        sizes.len(),
        products.len(),
        nodes.len()
    ));
    let board = Arc::new(Board {
        flights: Mutex::new(HashMap::new()),
        free: Mutex::new(sizes.into_iter().collect()),
        delays: Mutex::new(vec![Vec::new(); nodes.len()]),
        done: Mutex::new(0),
    });
    let timeout = Duration::from_secs(args.timeout);
    let (stop, stopped) = watch::channel(false);
    let mut pages = JoinSet::new();
    for (index, node) in nodes.iter().enumerate() {
        let target = Target::resolve(&node.base, timeout).await?;
        let sessions = fetch_sessions(&node.base, products.len()).await?;
        for (n, (product, session)) in products.iter().zip(sessions).enumerate() {
            let id = (index * products.len() + n) as u32;
            let mut socket = ws::connect(
                id,
                &target,
                SHOPPER_SOCKET,
                &session.token,
                ws::small_config(),
            )
            .await
            .map_err(BenchError::Clients)?;
            ws::join(
                &mut socket,
                &format!("product:{product}"),
                &json!({ "sizes_shown": true }),
                timeout,
            )
            .await
            .map_err(BenchError::Clients)?;
            let (board, mut stopped) = (Arc::clone(&board), stopped.clone());
            pages.spawn(async move {
                let stop = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                let ended = ws::listen(&mut socket, stop, |text| board.seen(index, text)).await;
                if let Some(reason) = ended {
                    note(format!("a page on node {index} ended: {reason}"));
                }
                ws::close(&mut socket).await;
            });
        }
    }
    let admins: Vec<Admin> = nodes
        .iter()
        .map(|node| node.admin().cloned())
        .collect::<Result<_, _>>()?;
    let mut steps = Vec::new();
    for &rate in &args.rates {
        let step = step(&board, &admins, rate, args, nodes.len()).await;
        note(format!(
            "{} node(s), {rate}/s: {:.0}/s taken, median delay {}, {} skipped, {} missing, {} failed",
            nodes.len(),
            step.achieved(),
            step.worst(0.5).map_or_else(|| "none".into(), ms),
            step.skipped,
            step.missing,
            step.failed
        ));
        if let Some(error) = &step.first_error {
            note(format!("  first failure: {error}"));
        }
        steps.push(step);
    }
    let _ = stop.send(true);
    while pages.join_next().await.is_some() {}
    Ok(steps)
}

/// One rate for `args.seconds`, then until its moves land (or time out).
async fn step(
    board: &Arc<Board>,
    admins: &[Admin],
    rate: u32,
    args: &BusCeilingArgs,
    nodes: usize,
) -> Step {
    *Board::lock(&board.delays) = vec![Vec::new(); nodes];
    *Board::lock(&board.done) = 0;
    let timeout = Duration::from_secs(args.timeout);
    let (mut skipped, mut missing) = (0, 0);
    let failures: Arc<Mutex<(usize, Option<String>)>> = Arc::new(Mutex::new((0, None)));
    let mut requests = JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let started = Instant::now();
    let ticks = u64::from(rate) * args.seconds;
    for n in 0..ticks {
        tick.tick().await;
        while requests.try_join_next().is_some() {}
        let size = if requests.len() < MAX_IN_FLIGHT {
            Board::lock(&board.free).pop_front()
        } else {
            None
        };
        let Some(size) = size else {
            skipped += 1;
            continue;
        };
        let admin = admins[n as usize % admins.len()].clone();
        let t0 = Instant::now();
        Board::lock(&board.flights).insert(
            size.item,
            Flight {
                t0,
                level: if size.sells { UNDER_PIVOT } else { AT_PIVOT },
                shown: vec![None; nodes],
                answered: false,
                size,
            },
        );
        let (flying, failures) = (Arc::clone(board), Arc::clone(&failures));
        requests.spawn(async move {
            let item = ItemId(size.item);
            let reply = if size.sells {
                admin.api.sell(item, 1).await
            } else {
                admin.api.restock(item, 1).await
            };
            match reply {
                Ok(reply) => flying.answered(size.item, Some(reply.available_count)),
                Err(error) => {
                    let mut failed = Board::lock(&failures);
                    failed.0 += 1;
                    failed.1.get_or_insert_with(|| error.to_string());
                    flying.answered(size.item, None);
                }
            }
        });
        missing += board.expire(timeout);
    }
    let took = started.elapsed();
    let deadline = Instant::now() + timeout;
    while requests.join_next().await.is_some() {}
    while !Board::lock(&board.flights).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    missing += board.expire(Duration::ZERO);
    let (failed, first_error) = Board::lock(&failures).clone();
    Step {
        rate,
        delays: std::mem::take(&mut *Board::lock(&board.delays)),
        done: *Board::lock(&board.done),
        skipped,
        missing,
        failed,
        first_error,
        took,
    }
}

/// One line per rate, both runs side by side; the ceiling is the highest rate the cluster
/// took with every node's median delay within the tolerance of the single node's.
fn report(args: &BusCeilingArgs, single: &[Step], several: &[Step]) -> (Report, Option<u32>) {
    let bus = args.server.bus();
    let mut report = Report::new(
        "bus-ceiling",
        format!(
            "bus ceiling on {bus}: {} nodes against one, {} s per rate, tolerance {:.2}×",
            args.nodes, args.seconds, args.tolerance
        ),
    );
    let mut ceiling = None;
    for (one, many) in single.iter().zip(several) {
        let reference = one.worst(0.5);
        let medians = many.medians();
        let within = reference.is_some_and(|r| {
            medians
                .iter()
                .all(|m| m.is_some_and(|m| m.as_secs_f64() <= args.tolerance * r.as_secs_f64()))
        });
        let ok = one.sustained() && many.sustained() && within;
        if ok {
            ceiling = Some(many.rate);
        }
        let ratio = reference
            .zip(many.worst(0.5))
            .map(|(r, w)| w.as_secs_f64() / r.as_secs_f64().max(f64::EPSILON));
        let label = format!("{}/s", many.rate);
        let nodes: Vec<String> = medians
            .iter()
            .map(|m| m.map_or_else(|| "none".into(), ms))
            .collect();
        report.text(
            label.clone(),
            format!(
                "1 node {:.0}/s p50 {} p95 {} | {} nodes {:.0}/s p50 [{}] p95 {} | {} {}",
                one.achieved(),
                reference.map_or_else(|| "none".into(), ms),
                one.worst(0.95).map_or_else(|| "none".into(), ms),
                args.nodes,
                many.achieved(),
                nodes.join(", "),
                many.worst(0.95).map_or_else(|| "none".into(), ms),
                ratio.map_or_else(|| "?".into(), |r| format!("{r:.2}×")),
                if ok { "ok" } else { "over" }
            ),
        );
        report.number(format!("{label} ratio"), ratio, Unit::Times);
    }
    report.number("ceiling", ceiling.map(f64::from), Unit::PerSec);
    (report, ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A product page's push of `item` at `level`.
    fn push(item: i32, level: &str) -> String {
        let payload = json!({ "item_id": item, "level": level, "html": "" });
        protocol::encode(None, None, "product:1", "stock_change", &payload).to_string()
    }

    fn board(nodes: usize) -> Board {
        Board {
            flights: Mutex::new(HashMap::new()),
            free: Mutex::new(VecDeque::new()),
            delays: Mutex::new(vec![Vec::new(); nodes]),
            done: Mutex::new(0),
        }
    }

    fn fly(board: &Board, item: i32, nodes: usize) {
        Board::lock(&board.flights).insert(
            item,
            Flight {
                t0: Instant::now(),
                level: UNDER_PIVOT,
                shown: vec![None; nodes],
                answered: false,
                size: Size { item, sells: true },
            },
        );
    }

    #[test]
    fn a_move_lands_once_every_page_showed_it_and_it_was_answered() {
        let board = board(2);
        fly(&board, 7, 2);
        board.seen(0, &push(7, UNDER_PIVOT));
        board.seen(0, &push(7, UNDER_PIVOT));
        // Another size's push, or the wrong level, is not this move's.
        board.seen(1, &push(8, UNDER_PIVOT));
        board.seen(1, &push(7, AT_PIVOT));
        board.answered(7, Some(PIVOT - 1));
        assert_eq!(*Board::lock(&board.done), 0);
        board.seen(1, &push(7, UNDER_PIVOT));
        assert_eq!(*Board::lock(&board.done), 1);
        let delays = Board::lock(&board.delays);
        assert_eq!((delays[0].len(), delays[1].len()), (1, 1));
        // The size restocks next.
        let free = Board::lock(&board.free);
        assert!(free.front().is_some_and(|s| s.item == 7 && !s.sells));
    }

    #[test]
    fn a_size_moved_by_someone_else_is_left_out() {
        let board = board(1);
        fly(&board, 7, 1);
        board.answered(7, Some(90));
        assert!(Board::lock(&board.flights).is_empty());
        assert!(Board::lock(&board.free).is_empty());
        fly(&board, 8, 1);
        assert_eq!(board.expire(Duration::ZERO), 1);
    }
}
