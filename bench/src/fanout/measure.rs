//! The measure step of `fanout`: K events, one at a time. Each is armed on the board, triggered
//! over HTTP (an admin sale or restock on the store, `POST /trigger` on the floor), and timed
//! from just before the trigger to each client reading the push.

use std::time::Duration;

use sneakers::domain::ItemId;
use tokio::time::Instant;

use super::crowd::Board;
use crate::error::{BenchError, root_cause};
use crate::harness::Node;
use crate::http::Admin;
use crate::procs;
use crate::report::{note, progress};

/// Pause between events, so one event's tail does not overlap the next.
const EVENT_GAP: Duration = Duration::from_millis(100);
/// What each node counts as one message to the others (one NOTIFY).
const PUBLISHED: &str = "sneakers_cluster_published_total";

/// What makes the push happen.
pub enum Trigger<'a> {
    /// Alternately sell one pair of `item_id` and restock it, on the first node; the item sits
    /// at 150 pairs, so each move crosses medium <-> low and is pushed.
    Store { admin: &'a Admin, item_id: i32 },
    /// `POST <base>/trigger` on the floor server.
    Floor { http: reqwest::Client, url: String },
}

impl Trigger<'_> {
    /// The level event `event`'s push carries (`None`: any).
    fn level(&self, event: u32) -> Option<&'static str> {
        match self {
            Trigger::Store { .. } if event.is_multiple_of(2) => Some("low"),
            Trigger::Store { .. } => Some("medium"),
            Trigger::Floor { .. } => None,
        }
    }

    async fn fire(&self, event: u32) -> Result<(), BenchError> {
        match self {
            Trigger::Store { admin, item_id } => {
                let reply = if event.is_multiple_of(2) {
                    admin.api.sell(ItemId(*item_id), 1).await?
                } else {
                    admin.api.restock(ItemId(*item_id), 1).await?
                };
                match self.level(event) {
                    Some(level) if level != reply.level => Err(BenchError::Unexpected(format!(
                        "item {item_id} is {} at {} pairs, expected {level}: is something else moving its stock?",
                        reply.level, reply.available_count
                    ))),
                    _ => Ok(()),
                }
            }
            Trigger::Floor { http, url } => {
                let response = http
                    .post(url)
                    .send()
                    .await
                    .map_err(|e| BenchError::Http(format!("POST {url}: {}", root_cause(&e))))?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(BenchError::Http(format!(
                        "POST {url}: HTTP {}",
                        response.status()
                    )))
                }
            }
        }
    }

    /// For the report.
    pub fn describe(&self) -> String {
        match self {
            Trigger::Store { item_id, .. } => format!("admin sell/restock of item {item_id}"),
            Trigger::Floor { .. } => "POST /trigger".into(),
        }
    }
}

/// What the events measured.
pub struct Timings {
    /// Per node, per event: the first and the last of its clients to read the push.
    pub firsts: Vec<Vec<Duration>>,
    pub lasts: Vec<Vec<Duration>>,
    /// Every client's latency, every event.
    pub deliveries: Vec<Duration>,
    /// How long each trigger request took to answer.
    pub requests: Vec<Duration>,
    /// Deliveries that did not come within the timeout, and how many events had some.
    pub missing: usize,
    pub events_missing: usize,
    /// CPU time each node and the bench used over the events.
    pub server_cpu: Vec<Option<Duration>>,
    pub bench_cpu: Option<Duration>,
    /// Cluster messages the first node published over the events (several nodes only).
    pub published: Option<f64>,
    pub took: Duration,
}

/// Times `events` pushes reaching every client of `board` (client `c` on node `c % nodes`).
pub async fn events(
    board: &Board,
    nodes: &[Node],
    trigger: &Trigger<'_>,
    events: u32,
    timeout: Duration,
) -> Result<Timings, BenchError> {
    let (n, k) = (board.clients(), nodes.len().max(1));
    let admin = nodes.first().and_then(|node| node.admin.as_ref());
    let published_before = match admin {
        Some(admin) if k > 1 => Some(admin.metric(PUBLISHED).await?),
        _ => None,
    };
    let cpu_before: Vec<Option<Duration>> = nodes
        .iter()
        .map(|node| node.pid.and_then(procs::cpu_time))
        .collect();
    let own_cpu_before = procs::own_cpu_time();
    let mut timings = Timings {
        firsts: vec![Vec::new(); k],
        lasts: vec![Vec::new(); k],
        deliveries: Vec::with_capacity(n * events as usize),
        requests: Vec::with_capacity(events as usize),
        missing: 0,
        events_missing: 0,
        server_cpu: Vec::new(),
        bench_cpu: None,
        published: None,
        took: Duration::ZERO,
    };
    let bar = progress(u64::from(events), "events");
    let started = Instant::now();
    for event in 0..events {
        let t0 = board.arm(trigger.level(event));
        let fired = trigger.fire(event).await;
        timings.requests.push(t0.elapsed());
        if let Err(error) = fired {
            board.disarm(t0);
            bar.finish_and_clear();
            return Err(error);
        }
        board.all_in(t0 + timeout).await;
        let latencies = board.disarm(t0);
        let mut first = vec![None::<Duration>; k];
        let mut last = vec![None::<Duration>; k];
        for (client, latency) in latencies.iter().enumerate() {
            let Some(latency) = *latency else { continue };
            timings.deliveries.push(latency);
            let node = client % k;
            first[node] = Some(first[node].map_or(latency, |f| f.min(latency)));
            last[node] = Some(last[node].map_or(latency, |l| l.max(latency)));
        }
        let missed = latencies.iter().filter(|l| l.is_none()).count();
        if missed > 0 {
            timings.missing += missed;
            timings.events_missing += 1;
            bar.println(format!(
                "event {}: {missed} of {n} clients did not get it within {} s",
                event + 1,
                timeout.as_secs()
            ));
        }
        for node in 0..k {
            timings.firsts[node].extend(first[node]);
            timings.lasts[node].extend(last[node]);
        }
        bar.inc(1);
        tokio::time::sleep(EVENT_GAP).await;
    }
    bar.finish_and_clear();
    timings.took = started.elapsed();
    timings.server_cpu = nodes
        .iter()
        .zip(cpu_before)
        .map(|(node, before)| {
            let after = node.pid.and_then(procs::cpu_time);
            before.zip(after).map(|(b, a)| a.saturating_sub(b))
        })
        .collect();
    timings.bench_cpu = own_cpu_before
        .zip(procs::own_cpu_time())
        .map(|(b, a)| a.saturating_sub(b));
    if let (Some(before), Some(admin)) = (published_before, admin) {
        timings.published = Some(admin.metric(PUBLISHED).await? - before);
    }
    note(format!(
        "events: {events} in {:.2} s ({} deliveries, {} missing)",
        timings.took.as_secs_f64(),
        timings.deliveries.len(),
        timings.missing
    ));
    Ok(timings)
}
