//! `sneakers bench shoppers`: the book's sneaker_admin_bench. N shoppers, each a real cart socket
//! with its own session, on a random page, carting one or two pairs; with `--churn R`, every
//! second R of them leave and R new ones arrive. One admin watches `admin:cart_tracker`: how long
//! from a shopper's `phx_join` until the admin's `presence_diff` names it, how many pushes the
//! admin gets a second, and what the server spends.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::client::{
    self, ADMIN_SOCKET, SHOPPER_SOCKET, Socket, Target, config, connect, event_of, join,
    large_config, listen, request_seeing,
};
use super::harness::{Harness, Node, ServerArgs, interruptible};
use super::http::{Session, fetch_sessions, in_stock_items};
use super::report::{Summary, line_or_none, ms, progress, rate, secs};
use super::server::Usage;
use super::{bench_error, ensure_open_files};
use crate::cli::CliError;

/// The pages shoppers say they are on.
const PAGES: [&str; 4] = ["/", "/products/1", "/products/2", "/checkout"];
const ADMIN_TOPIC: &str = "admin:cart_tracker";
/// After the run: how long to wait for the admin to see the last joins.
const DRAIN: Duration = Duration::from_secs(5);
/// The admin's count is read once no diff came for this long.
const QUIET: Duration = Duration::from_millis(500);
/// Churn happens in this many slices a second.
const SLICES: u32 = 10;

#[derive(Args, Debug)]
pub struct ShoppersArgs {
    /// Shoppers (cart sockets) to keep open.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
    /// Shoppers that leave, and new ones that join, every second (spread over the second).
    #[arg(long, default_value_t = 0)]
    churn: u32,
    /// Seconds to run (churning, if asked) once every shopper is in.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    duration: u64,
    #[command(flatten)]
    server: ServerArgs,
    /// Connections opened at once.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: u32,
    /// Seconds to wait for a connection, a join or a reply.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
}

pub async fn run(args: ShoppersArgs) -> Result<(), CliError> {
    if args.churn > args.count {
        return Err(bench_error(format!(
            "--churn {} is more than the {} shoppers there are",
            args.churn, args.count
        )));
    }
    // Leaving sockets may still be closing while the new ones open.
    let sockets = u64::from(args.count) + 2 * u64::from(args.churn) + 1;
    ensure_open_files(sockets, &format!("{} shoppers", args.count))?;
    let harness = Harness::start(&args.server, 1).await?;
    println!(
        "bench shoppers: {} shoppers, churn {}/s for {} s, one admin, against {} at {}",
        args.count,
        args.churn,
        args.duration,
        harness.what,
        harness.addresses()
    );
    let outcome = interruptible(bench(&args, &harness.nodes[0])).await;
    let summary = harness.finish(outcome).await?;
    println!("{summary}");
    Ok(())
}

/// What shoppers and the admin tell the bench, on one channel: a shopper's `Joining` is queued
/// before its join frame is sent, so it always comes before the diff that names it.
enum Event {
    Joining {
        cart: Arc<str>,
        at: Instant,
    },
    /// Joined and carted, or why not.
    Ready {
        id: u32,
        cart: Arc<str>,
        result: Result<Carted, String>,
    },
    Lost {
        id: u32,
        reason: String,
    },
    /// A `presence_diff` the admin read.
    Diff {
        at: Instant,
        joins: Vec<String>,
        leaves: usize,
        shoppers: Option<u64>,
    },
    AdminLost(String),
}

/// How a shopper's join and `add_item`s were answered.
#[derive(Default)]
struct Carted {
    added: u32,
    sold_out: u32,
    duplicate: u32,
    refused: Option<String>,
    cart_pushes: u32,
    token_pushes: u32,
}

struct Shopper {
    id: u32,
    target: Arc<Target>,
    session: Session,
    page: &'static str,
    items: Vec<i32>,
    gate: Arc<Semaphore>,
    events: mpsc::UnboundedSender<Event>,
    leave: oneshot::Receiver<()>,
    stop: watch::Receiver<bool>,
}

impl Shopper {
    async fn run(self) {
        let joined = {
            let Ok(_permit) = self.gate.acquire().await else {
                return;
            };
            let mut stop = self.stop.clone();
            tokio::select! {
                joined = self.join_and_cart() => joined,
                _ = stop.changed() => return,
            }
        };
        let mut socket = match joined {
            Ok((socket, carted)) => {
                let _ = self.events.send(Event::Ready {
                    id: self.id,
                    cart: Arc::clone(&self.session.cart_id),
                    result: Ok(carted),
                });
                socket
            }
            Err(reason) => {
                let _ = self.events.send(Event::Ready {
                    id: self.id,
                    cart: Arc::clone(&self.session.cart_id),
                    result: Err(reason),
                });
                return;
            }
        };
        let (mut leave, mut stop) = (self.leave, self.stop);
        let leaving = async move {
            tokio::select! {
                _ = &mut leave => {}
                _ = stop.changed() => {}
            }
        };
        match listen(&mut socket, leaving, |_, _| {}).await {
            Some(reason) => {
                let _ = self.events.send(Event::Lost {
                    id: self.id,
                    reason,
                });
            }
            None => client::close(&mut socket).await,
        }
    }

    async fn join_and_cart(&self) -> Result<(Socket, Carted), String> {
        let timeout = self.target.timeout;
        let mut socket = connect(
            self.id,
            &self.target,
            SHOPPER_SOCKET,
            &self.session.token,
            config(),
        )
        .await?;
        let topic = format!("cart:{}", self.session.cart_id);
        let mut carted = Carted::default();
        let _ = self.events.send(Event::Joining {
            cart: Arc::clone(&self.session.cart_id),
            at: Instant::now(),
        });
        join(
            &mut socket,
            &topic,
            &json!({ "page": self.page, "serialized": null }),
            timeout,
        )
        .await?;
        for (index, item) in self.items.iter().enumerate() {
            let reference = (index + 2).to_string();
            let mut count = |text: &str| match event_of(text).as_deref() {
                Some("cart") => carted.cart_pushes += 1,
                Some("new_token") => carted.token_pushes += 1,
                _ => {}
            };
            let payload = json!({ "item_id": item });
            let reply = request_seeing(
                &mut socket,
                &topic,
                &reference,
                "add_item",
                &payload,
                timeout,
                &mut count,
            )
            .await?;
            match (reply.is_ok(), reply.response["error"].as_str()) {
                (true, _) => carted.added += 1,
                (false, Some("sold_out")) => carted.sold_out += 1,
                (false, Some("duplicate_item")) => carted.duplicate += 1,
                (false, _) => {
                    carted
                        .refused
                        .get_or_insert(format!("add_item {item} refused: {}", reply.response));
                }
            }
        }
        Ok((socket, carted))
    }
}

/// The admin's socket, read by its own task: every `presence_diff` becomes an [`Event::Diff`].
async fn watch_as_admin(
    mut socket: Socket,
    events: mpsc::UnboundedSender<Event>,
    mut stop: watch::Receiver<bool>,
) {
    let stopped = async move {
        let _ = stop.changed().await;
    };
    let on_text = |text: &str, at: Instant| {
        if text.contains("presence_diff")
            && let Some((joins, leaves, shoppers)) = presence_diff(text)
        {
            let _ = events.send(Event::Diff {
                at,
                joins,
                leaves,
                shoppers,
            });
        }
    };
    match listen(&mut socket, stopped, on_text).await {
        Some(reason) => {
            let _ = events.send(Event::AdminLost(reason));
        }
        None => client::close(&mut socket).await,
    }
}

/// `[_, null, "admin:cart_tracker", "presence_diff", {joins, leaves, html}]`: the keys that
/// joined, how many left, and the shopper count in the html.
fn presence_diff(text: &str) -> Option<(Vec<String>, usize, Option<u64>)> {
    #[derive(Deserialize)]
    struct Push(IgnoredAny, IgnoredAny, String, String, Payload);
    #[derive(Deserialize)]
    struct Payload {
        joins: BTreeMap<String, IgnoredAny>,
        leaves: BTreeMap<String, IgnoredAny>,
        #[serde(default)]
        html: String,
    }
    let Push(_, _, topic, event, payload) = serde_json::from_str(text).ok()?;
    (topic == ADMIN_TOPIC && event == "presence_diff").then(|| {
        (
            payload.joins.into_keys().collect(),
            payload.leaves.len(),
            shopper_count(&payload.html),
        )
    })
}

/// `data-count` of the element with `id="admin-shoppers"`, whatever the attribute order.
fn shopper_count(html: &str) -> Option<u64> {
    let at = html.find("id=\"admin-shoppers\"")?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    let value = &tag[tag.find("data-count=\"")? + "data-count=\"".len()..];
    value[..value.find('"')?].parse().ok()
}

/// Which part of the run a join belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Initial,
    Churn,
}

/// The bench's view of everyone, fed by [`Event`]s.
struct Tracker {
    phase: Phase,
    /// Joins sent that the admin has not seen yet.
    waiting: HashMap<Arc<str>, (Instant, Phase)>,
    lags: [Vec<Duration>; 2],
    /// Shoppers joining; the handle to make each leave.
    joining: HashMap<u32, oneshot::Sender<()>>,
    /// Shoppers in, who can be made to leave.
    present: Vec<Present>,
    ready: usize,
    failed: usize,
    first_failure: Option<String>,
    lost: usize,
    first_lost: Option<String>,
    added: u64,
    sold_out: u64,
    duplicate: u64,
    refused: u64,
    first_refusal: Option<String>,
    cart_pushes: u64,
    token_pushes: u64,
    diffs: usize,
    /// Keys joined and left, as the diffs said.
    joins_seen: usize,
    leaves_seen: usize,
    last_diff: Option<Instant>,
    /// The last `data-count` of `#admin-shoppers`.
    admin_count: Option<u64>,
    admin_lost: Option<String>,
}

impl Tracker {
    fn new() -> Tracker {
        Tracker {
            phase: Phase::Initial,
            waiting: HashMap::new(),
            lags: [Vec::new(), Vec::new()],
            joining: HashMap::new(),
            present: Vec::new(),
            ready: 0,
            failed: 0,
            first_failure: None,
            lost: 0,
            first_lost: None,
            added: 0,
            sold_out: 0,
            duplicate: 0,
            refused: 0,
            first_refusal: None,
            cart_pushes: 0,
            token_pushes: 0,
            diffs: 0,
            joins_seen: 0,
            leaves_seen: 0,
            last_diff: None,
            admin_count: None,
            admin_lost: None,
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Joining { cart, at } => {
                self.waiting.insert(cart, (at, self.phase));
            }
            Event::Ready { id, cart, result } => {
                let leave = self.joining.remove(&id);
                match result {
                    Ok(carted) => {
                        self.ready += 1;
                        self.added += u64::from(carted.added);
                        self.sold_out += u64::from(carted.sold_out);
                        self.duplicate += u64::from(carted.duplicate);
                        self.cart_pushes += u64::from(carted.cart_pushes);
                        self.token_pushes += u64::from(carted.token_pushes);
                        if let Some(refusal) = carted.refused {
                            self.refused += 1;
                            self.first_refusal.get_or_insert(refusal);
                        }
                        if let Some(leave) = leave {
                            self.present.push(Present { id, cart, leave });
                        }
                    }
                    Err(reason) => {
                        self.failed += 1;
                        self.first_failure.get_or_insert(reason);
                        self.waiting.remove(&cart);
                    }
                }
            }
            Event::Lost { id, reason } => {
                self.lost += 1;
                self.first_lost.get_or_insert(reason);
                self.present.retain(|present| present.id != id);
            }
            Event::Diff {
                at,
                joins,
                leaves,
                shoppers,
            } => {
                self.diffs += 1;
                self.joins_seen += joins.len();
                self.leaves_seen += leaves;
                self.last_diff = Some(at);
                if shoppers.is_some() {
                    self.admin_count = shoppers;
                }
                for key in joins {
                    if let Some((sent, phase)) = self.waiting.remove(key.as_str()) {
                        self.lags[phase as usize].push(at.saturating_duration_since(sent));
                    }
                }
            }
            Event::AdminLost(reason) => {
                self.admin_lost.get_or_insert(reason);
            }
        }
    }

    /// Makes up to `count` random present shoppers leave: only those the admin has seen
    /// arrive (one that joins and leaves within one flush is rightly never shown), so every
    /// join gets its lag. How many left.
    fn send_away(&mut self, count: usize) -> usize {
        let mut rng = rand::rng();
        self.present.shuffle(&mut rng);
        let mut sent = 0;
        let mut index = 0;
        while sent < count && index < self.present.len() {
            if self.waiting.contains_key(&self.present[index].cart) {
                index += 1;
                continue;
            }
            let present = self.present.swap_remove(index);
            let _ = present.leave.send(());
            sent += 1;
        }
        sent
    }
}

/// A shopper in, who can be made to leave.
struct Present {
    id: u32,
    cart: Arc<str>,
    leave: oneshot::Sender<()>,
}

/// Starts shoppers and remembers how to make them leave.
struct Spawner {
    target: Arc<Target>,
    items: Vec<i32>,
    gate: Arc<Semaphore>,
    events: mpsc::UnboundedSender<Event>,
    stop: watch::Receiver<bool>,
    sessions: std::vec::IntoIter<Session>,
    next_id: u32,
}

impl Spawner {
    /// Starts up to `count` shoppers (as many as sessions are left); how many started.
    fn spawn(&mut self, count: usize, tracker: &mut Tracker, tasks: &mut JoinSet<()>) -> usize {
        let mut rng = rand::rng();
        let mut started = 0;
        for session in self.sessions.by_ref().take(count) {
            let id = self.next_id;
            self.next_id += 1;
            let wanted = rng.random_range(1..=2usize);
            let items = self
                .items
                .choose_multiple(&mut rng, wanted)
                .copied()
                .collect();
            let page = PAGES.choose(&mut rng).copied().unwrap_or("/");
            let (leave_tx, leave) = oneshot::channel();
            tracker.joining.insert(id, leave_tx);
            let shopper = Shopper {
                id,
                target: Arc::clone(&self.target),
                session,
                page,
                items,
                gate: Arc::clone(&self.gate),
                events: self.events.clone(),
                leave,
                stop: self.stop.clone(),
            };
            tasks.spawn(shopper.run());
            started += 1;
        }
        started
    }
}

async fn bench(args: &ShoppersArgs, node: &Node) -> Result<String, CliError> {
    let n = args.count as usize;
    let timeout = Duration::from_secs(args.timeout);
    let admin = node.admin()?;
    let items = in_stock_items(&admin.api).await?;
    let target = Arc::new(Target::resolve(&node.base, timeout).await?);

    let wanted = n + args.churn as usize * args.duration as usize;
    let started = Instant::now();
    let sessions = fetch_sessions(&node.base, wanted).await?;
    println!(
        "tokens: {wanted} sessions from GET /session/token in {} ({}/s); {} sizes in stock to cart",
        secs(started.elapsed()),
        rate(wanted, started.elapsed()),
        items.len()
    );

    // The admin first, so it sees every shopper arrive.
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (stop, stop_rx) = watch::channel(false);
    let admin_token = admin.socket_token().await?;
    let mut admin_socket = connect(
        u32::MAX,
        &target,
        ADMIN_SOCKET,
        &admin_token,
        large_config(),
    )
    .await
    .map_err(|e| bench_error(format!("admin socket: {e}")))?;
    join(
        &mut admin_socket,
        ADMIN_TOPIC,
        &Value::Object(Default::default()),
        timeout,
    )
    .await
    .map_err(|e| bench_error(format!("admin socket: {e}")))?;
    let admin_task = tokio::spawn(watch_as_admin(
        admin_socket,
        events_tx.clone(),
        stop_rx.clone(),
    ));
    println!("admin: joined {ADMIN_TOPIC} on {ADMIN_SOCKET}");

    let mut tracker = Tracker::new();
    let mut tasks = JoinSet::new();
    let mut spawner = Spawner {
        target,
        items,
        gate: Arc::new(Semaphore::new(args.concurrency as usize)),
        events: events_tx,
        stop: stop_rx,
        sessions: sessions.into_iter(),
        next_id: 0,
    };

    // Everyone in.
    let connecting = Usage::start(node.pid);
    let bar = progress(n as u64, "connecting")?;
    let started = Instant::now();
    spawner.spawn(n, &mut tracker, &mut tasks);
    while tracker.ready + tracker.failed < n {
        let Some(event) = events.recv().await else {
            break;
        };
        let ready = matches!(event, Event::Ready { result: Ok(_), .. });
        let failed = matches!(event, Event::Ready { result: Err(_), .. });
        tracker.handle(event);
        if ready {
            bar.inc(1);
        } else if failed {
            bar.set_message(format!("{} failed", tracker.failed));
        }
    }
    bar.finish_and_clear();
    let connect_time = started.elapsed();
    if tracker.ready < n {
        let _ = stop.send(true);
        return Err(bench_error(format!(
            "only {} of {n} shoppers joined: {}",
            tracker.ready,
            tracker
                .first_failure
                .clone()
                .unwrap_or_else(|| "they stopped".into())
        )));
    }
    println!(
        "connect: {n} shoppers connected, joined their cart and carted {} pair(s) in {} ({} shoppers/s, {} in flight); server {}",
        tracker.added,
        secs(connect_time),
        rate(n, connect_time),
        args.concurrency,
        connecting.finish().line()
    );

    // The run: churn (or just watch) for --duration seconds.
    tracker.phase = Phase::Churn;
    let diffs_before = tracker.diffs;
    let running = Usage::start(node.pid);
    let bar = progress(args.duration, "running")?;
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
                let churn = u64::from(args.churn);
                let due = (churn * slice / u64::from(SLICES)
                    - churn * (slice - 1) / u64::from(SLICES)) as usize;
                if due > 0 {
                    left += tracker.send_away(due);
                    arrived += spawner.spawn(due, &mut tracker, &mut tasks);
                    bar.set_message(format!("{left} left, {arrived} arrived"));
                }
            }
            event = events.recv() => match event {
                Some(event) => tracker.handle(event),
                None => break,
            },
        }
    }
    bar.finish_and_clear();
    let run_time = Duration::from_secs(args.duration);
    let diffs = tracker.diffs - diffs_before;
    let used = running.finish();

    // Let the last joins reach the admin, and its count settle.
    let deadline = Instant::now() + DRAIN;
    loop {
        let settled = tracker.joining.is_empty()
            && tracker.waiting.is_empty()
            && tracker.last_diff.is_none_or(|at| at.elapsed() >= QUIET);
        if settled || Instant::now() >= deadline {
            break;
        }
        match tokio::time::timeout(Duration::from_millis(50), events.recv()).await {
            Ok(Some(event)) => tracker.handle(event),
            Ok(None) => break,
            Err(_) => {}
        }
    }
    let expected = tracker.present.len();

    let _ = stop.send(true);
    let closing = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    tasks.abort_all();
    let _ = tokio::time::timeout(Duration::from_secs(3), admin_task).await;
    println!(
        "close: {} in {}",
        if closed {
            format!("{expected} sockets closed")
        } else {
            "some sockets did not close; dropped".to_string()
        },
        secs(closing.elapsed())
    );

    // Report.
    let missed = tracker.waiting.len();
    let [mut initial, mut churned] = tracker.lags;
    let mut every: Vec<Duration> = initial.iter().chain(&churned).copied().collect();
    let (initial, churned, every) = (
        Summary::of(&mut initial),
        Summary::of(&mut churned),
        Summary::of(&mut every),
    );
    let per_second = diffs as f64 / run_time.as_secs_f64();
    println!(
        "admin update lag, from a shopper's phx_join to the first presence_diff naming its cart:"
    );
    println!(
        "  initial joins  {} ({} joins)",
        line_or_none(initial),
        initial.map_or(0, |s| s.count)
    );
    if args.churn > 0 {
        println!(
            "  churn joins    {} ({} joins)",
            line_or_none(churned),
            churned.map_or(0, |s| s.count)
        );
    }
    println!(
        "  every join     {}{}",
        line_or_none(every),
        if missed > 0 {
            format!("; {missed} join(s) never reached the admin")
        } else {
            String::new()
        }
    );
    println!(
        "admin pushes: {diffs} presence_diff in {} s ({per_second:.1}/s); in all {} diffs naming {} joined and {} left key(s){}",
        args.duration,
        tracker.diffs,
        tracker.joins_seen,
        tracker.leaves_seen,
        if args.churn > 0 {
            format!("; churn: {left} left, {arrived} arrived")
        } else {
            String::new()
        }
    );
    let count_ok = tracker.admin_count == Some(expected as u64);
    println!(
        "admin count: #admin-shoppers says {}, {expected} shoppers are connected{}",
        tracker
            .admin_count
            .map_or_else(|| "nothing".to_string(), |c| c.to_string()),
        if count_ok { "" } else { " (MISMATCH)" }
    );
    println!(
        "carts: {} pair(s) added, {} sold out, {} duplicate, {} refused{}; {} cart and {} new_token push(es) before the replies",
        tracker.added,
        tracker.sold_out,
        tracker.duplicate,
        tracker.refused,
        tracker
            .first_refusal
            .as_ref()
            .map_or_else(String::new, |r| format!(" (first: {r})")),
        tracker.cart_pushes,
        tracker.token_pushes
    );
    println!(
        "server during the run: {}; {} shopper(s) failed to join{}, {} lost{}",
        used.line(),
        tracker.failed,
        tracker
            .first_failure
            .as_ref()
            .map_or_else(String::new, |r| format!(" (first: {r})")),
        tracker.lost,
        tracker
            .first_lost
            .as_ref()
            .map_or_else(String::new, |r| format!(" (first: {r})"))
    );

    let mut summary = format!(
        "shoppers N={n} churn={}: admin lag {}; {per_second:.1} admin pushes/s; server {}",
        args.churn,
        every.map_or_else(
            || "no samples".to_string(),
            |s| format!("p50 {} p99 {} max {}", ms(s.p50), ms(s.p99), ms(s.max))
        ),
        used.short()
    );
    let mut problems = Vec::new();
    if missed > 0 {
        problems.push(format!("{missed} joins unseen"));
    }
    if !count_ok {
        problems.push(format!(
            "admin count {} != {expected}",
            tracker
                .admin_count
                .map_or_else(|| "none".to_string(), |c| c.to_string())
        ));
    }
    if tracker.failed + tracker.lost > 0 {
        problems.push(format!("{} failed, {} lost", tracker.failed, tracker.lost));
    }
    if let Some(reason) = &tracker.admin_lost {
        problems.push(format!("admin socket lost: {reason}"));
    }
    if !problems.is_empty() {
        summary.push_str(&format!("; {}", problems.join(", ")));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_presence_diffs() {
        let push = r#"["1",null,"admin:cart_tracker","presence_diff",{"joins":{"abc":{"metas":[{"page":"/"}]},"def":{"metas":[]}},"leaves":{"xyz":{"metas":[]}},"html":"<div class=\"stat\" id=\"admin-shoppers\" data-count=\"42\"><span>42</span></div><div id=\"admin-pages\" data-count=\"7\"></div>"}]"#;
        let (joins, leaves, count) = presence_diff(push).unwrap();
        assert_eq!(joins, vec!["abc".to_string(), "def".to_string()]);
        assert_eq!(leaves, 1);
        assert_eq!(count, Some(42));
        let other = r#"["1",null,"admin:cart_tracker","counts",{"html":""}]"#;
        assert!(presence_diff(other).is_none());
    }

    #[test]
    fn reads_the_shopper_count_in_any_attribute_order() {
        let html = r#"<div data-count="3" class="stat" id="admin-shoppers">3</div>"#;
        assert_eq!(shopper_count(html), Some(3));
        let html = r#"<div id="admin-pages" data-count="9"></div><div id="admin-shoppers" data-count="1">"#;
        assert_eq!(shopper_count(html), Some(1));
        assert_eq!(
            shopper_count("<div id=\"admin-pages\" data-count=\"9\">"),
            None
        );
    }
}
