//! `sneakers bench fanout`: N shopper sockets on one product, then K stock changes; how long until
//! the first and the last shopper sees each one, and what each socket costs the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::bench_error;
use super::client::{Shopper, Target, Update};
use super::report::{Summary, bytes, line_or_none, ms, rate, secs};
use super::server::{self, Spawned};
use crate::cli::{AdminClient, CliError};

/// Pairs the timed item is set to: selling one crosses medium -> low, restocking one crosses back.
const PIVOT: i32 = 150;
/// Open files the bench needs besides its sockets (HTTP clients, stdio, the runtime).
const FD_RESERVE: u64 = 64;
/// Token requests in flight.
const TOKEN_CONCURRENCY: usize = 64;
/// Pause between events, so one event's tail does not overlap the next.
const EVENT_GAP: Duration = Duration::from_millis(100);
/// Let the server settle before reading its memory.
const SETTLE: Duration = Duration::from_secs(1);

#[derive(Args, Debug)]
pub struct FanoutArgs {
    /// Shopper sockets to open.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    clients: u32,
    /// Stock changes to time (alternately sell one pair and restock it).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    events: u32,
    /// Bench this running server instead of spawning one; admin credentials come from
    /// ADMIN_USERNAME/ADMIN_PASSWORD.
    #[arg(long)]
    url: Option<String>,
    /// The running server's process id, to read its memory (with --url).
    #[arg(long, requires = "url")]
    pid: Option<u32>,
    /// Bench the bare WebSocket fan-out server (the reference) instead of the store.
    #[arg(long)]
    baseline: bool,
    /// Connections opened at once.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: u32,
    /// Seconds to wait for a connection, a join, or every shopper to get one event.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Shoppers sharing one socket token (tokens come from GET /session/token).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    clients_per_token: u32,
}

/// The server being measured.
struct UnderTest {
    base: String,
    pid: Option<u32>,
    /// `None`: the baseline server.
    admin: Option<AdminClient>,
}

pub async fn run(args: FanoutArgs) -> Result<(), CliError> {
    // Before spawning: the server inherits the raised limit.
    let limit = raise_open_files()?;
    let needed = u64::from(args.clients) + FD_RESERVE;
    if needed > limit {
        return Err(bench_error(format!(
            "{} clients need about {needed} open files; the limit is {limit}",
            args.clients
        )));
    }
    let (spawned, under_test) = match &args.url {
        Some(url) => {
            let base = url.trim_end_matches('/').to_string();
            let admin = if args.baseline {
                None
            } else {
                Some(AdminClient::from_env(Some(base.clone()))?)
            };
            let pid = args.pid;
            (None, UnderTest { base, pid, admin })
        }
        None if args.baseline => {
            let spawned = Spawned::baseline().await?;
            let under_test = UnderTest {
                base: spawned.url.clone(),
                pid: spawned.pid,
                admin: None,
            };
            (Some(spawned), under_test)
        }
        None => {
            let (spawned, credentials) = Spawned::store().await?;
            let admin = AdminClient::new(
                spawned.url.clone(),
                credentials.username,
                credentials.password,
            );
            let under_test = UnderTest {
                base: spawned.url.clone(),
                pid: spawned.pid,
                admin: Some(admin),
            };
            (Some(spawned), under_test)
        }
    };
    let what = match (&spawned, args.baseline) {
        (Some(_), true) => "a spawned baseline server",
        (Some(_), false) => "a spawned store (fresh SQLite)",
        (None, true) => "the baseline server",
        (None, false) => "the store",
    };
    let pid = under_test
        .pid
        .map_or_else(|| "pid unknown".to_string(), |p| format!("pid {p}"));
    println!(
        "bench fanout: {} clients, {} events against {what} at {} ({pid})",
        args.clients, args.events, under_test.base
    );
    let mut outcome = tokio::select! {
        outcome = bench(&args, &under_test) => outcome,
        _ = tokio::signal::ctrl_c() => Err(bench_error("interrupted")),
    };
    if let Some(mut spawned) = spawned {
        if let Err(error) = &outcome
            && let Some(status) = spawned.exited()
        {
            outcome = Err(bench_error(format!(
                "the server under test exited ({status}); {}",
                error.to_string().trim_start_matches("bench: ")
            )));
        }
        let (count, last) = spawned.warnings();
        spawned.stop().await;
        if count > 0 {
            println!("server stderr: {count} line(s); the last:");
            for line in last.iter().rev().take(5).rev() {
                println!("  {line}");
            }
        }
    }
    let summary = outcome?;
    println!("{summary}");
    Ok(())
}

fn raise_open_files() -> Result<u64, CliError> {
    let error = |e: std::io::Error| bench_error(format!("cannot read the open-files limit: {e}"));
    let (before, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).map_err(error)?;
    let soft = rlimit::increase_nofile_limit(hard).map_err(error)?;
    println!("open files: soft limit {before} -> {soft} (hard {hard})");
    Ok(soft)
}

/// Everything after the server is up; returns the one-line summary.
async fn bench(args: &FanoutArgs, under_test: &UnderTest) -> Result<String, CliError> {
    let n = args.clients as usize;
    let timeout = Duration::from_secs(args.timeout);
    let (product_id, item_id) = match &under_test.admin {
        Some(admin) => pick_item(admin).await?,
        None => (1, 1),
    };
    let target = Arc::new(target(&under_test.base, product_id, timeout).await?);

    let tokens = match under_test.admin {
        Some(_) => {
            let count = n.div_ceil(args.clients_per_token as usize);
            let started = Instant::now();
            let tokens = fetch_tokens(&under_test.base, count).await?;
            println!(
                "tokens: {count} from GET /session/token in {} ({}/s)",
                secs(started.elapsed()),
                rate(count, started.elapsed())
            );
            tokens
        }
        None => vec![Arc::from("baseline")],
    };

    let rss = |label: &str| -> Option<u64> {
        let value = under_test.pid.and_then(server::rss_bytes);
        if let Some(value) = value {
            println!("server RSS {label}: {}", bytes(value as f64));
        }
        value
    };
    let rss_before = rss("before connecting");

    // Connect.
    let (connected_tx, mut connected_rx) = mpsc::unbounded_channel();
    let (updates_tx, mut updates) = mpsc::unbounded_channel();
    let (stop, stop_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(args.concurrency as usize));
    let mut shoppers = JoinSet::new();
    let bar = progress(n as u64, "connecting")?;
    let started = Instant::now();
    for id in 0..args.clients {
        let token = Arc::clone(&tokens[(id / args.clients_per_token) as usize % tokens.len()]);
        let shopper = Shopper {
            id,
            target: Arc::clone(&target),
            token,
            gate: Arc::clone(&gate),
            connected: connected_tx.clone(),
            updates: updates_tx.clone(),
            stop: stop_rx.clone(),
        };
        shoppers.spawn(shopper.run());
    }
    drop((connected_tx, updates_tx, stop_rx));
    let mut joined = Vec::with_capacity(n);
    let (mut failed, mut first_error) = (0usize, None);
    while joined.len() + failed < n {
        match connected_rx.recv().await {
            Some(Ok(took)) => {
                joined.push(took);
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
    let connect_time = started.elapsed();
    bar.finish_and_clear();
    if joined.len() < n {
        let _ = stop.send(true);
        return Err(bench_error(format!(
            "only {} of {n} clients connected: {}",
            joined.len(),
            first_error.unwrap_or_else(|| "they stopped".into())
        )));
    }
    let per_client = Summary::of(&mut joined);
    println!(
        "connect: {n} clients connected and joined {} in {} ({} clients/s, {} in flight); each {}",
        target.topic,
        secs(connect_time),
        rate(n, connect_time),
        args.concurrency,
        line_or_none(per_client)
    );
    tokio::time::sleep(SETTLE).await;
    let rss_connected = rss("after connecting");
    let per_conn = match (rss_before, rss_connected) {
        (Some(before), Some(after)) => {
            let per = (after as f64 - before as f64) / n as f64;
            println!(
                "server memory per connection: {} ({} / {n})",
                bytes(per),
                bytes(after as f64 - before as f64)
            );
            Some(per)
        }
        _ => {
            println!("server memory: unknown (pass --pid with --url)");
            None
        }
    };
    if let Some(own) = server::own_rss_bytes() {
        println!(
            "bench RSS: {} ({} per client)",
            bytes(own as f64),
            bytes(own as f64 / n as f64)
        );
    }

    // Events.
    let cpu_before = (
        under_test.pid.and_then(server::cpu_time),
        server::own_cpu_time(),
    );
    let bar = progress(u64::from(args.events), "events")?;
    let mut got = vec![false; n];
    let mut dead = vec![false; n];
    let (mut lost, mut first_lost) = (0usize, None::<String>);
    let mut firsts = Vec::new();
    let mut lasts = Vec::new();
    let mut deliveries = Vec::with_capacity(n * args.events as usize);
    let mut requests = Vec::new();
    let (mut missing, mut events_missing, mut stray) = (0usize, 0usize, 0usize);
    let mut level = None::<String>;
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| bench_error(format!("http client: {e}")))?;
    for event in 0..args.events {
        got.fill(false);
        let mut note_lost = |client: u32, reason: String, dead: &mut Vec<bool>| {
            let c = client as usize;
            if c < n && !dead[c] {
                dead[c] = true;
                lost += 1;
                first_lost.get_or_insert(reason);
            }
        };
        // Anything still queued belongs to an earlier event.
        while let Ok(update) = updates.try_recv() {
            match update {
                Update::Got { .. } => stray += 1,
                Update::Lost { client, reason } => note_lost(client, reason, &mut dead),
            }
        }
        let t0 = Instant::now();
        let expected = match &under_test.admin {
            Some(admin) => {
                let reply = if event % 2 == 0 {
                    admin.sell(item_id, 1).await?
                } else {
                    admin.restock(item_id, 1).await?
                };
                if level.as_deref() == Some(reply.level.as_str()) {
                    return Err(bench_error(format!(
                        "item {item_id} stayed {} at {} pairs: is something else moving its stock?",
                        reply.level, reply.available_count
                    )));
                }
                level = Some(reply.level.clone());
                Some(reply.level)
            }
            None => {
                broadcast(&http, &under_test.base).await?;
                None
            }
        };
        requests.push(t0.elapsed());
        let deadline = t0 + timeout;
        let mut received = 0usize;
        let mut gone = dead.iter().filter(|d| **d).count();
        let (mut first, mut last) = (None::<Duration>, None::<Duration>);
        while received + gone < n {
            match tokio::time::timeout_at(deadline, updates.recv()).await {
                Ok(Some(Update::Got {
                    client,
                    at,
                    item_id: pushed_item,
                    level,
                })) => {
                    let c = client as usize;
                    let ours = pushed_item == i64::from(item_id)
                        && expected.as_deref().is_none_or(|l| l == level)
                        && at >= t0;
                    if ours && c < n && !got[c] && !dead[c] {
                        got[c] = true;
                        received += 1;
                        let latency = at - t0;
                        deliveries.push(latency);
                        first = Some(first.map_or(latency, |f| f.min(latency)));
                        last = Some(last.map_or(latency, |l| l.max(latency)));
                    } else {
                        stray += 1;
                    }
                }
                Ok(Some(Update::Lost { client, reason })) => {
                    let c = client as usize;
                    if c < n && !dead[c] && !got[c] {
                        gone += 1;
                    }
                    note_lost(client, reason, &mut dead);
                }
                Ok(None) | Err(_) => break,
            }
        }
        let missed = n - received;
        if missed > 0 {
            missing += missed;
            events_missing += 1;
            bar.println(format!(
                "event {}: {missed} of {n} clients did not get it within {} s",
                event + 1,
                args.timeout
            ));
        }
        firsts.extend(first);
        lasts.extend(last);
        bar.inc(1);
        tokio::time::sleep(EVENT_GAP).await;
    }
    bar.finish_and_clear();
    let cpu_after = (
        under_test.pid.and_then(server::cpu_time),
        server::own_cpu_time(),
    );
    rss("after the events");
    let delivered = deliveries.len().max(1) as f64;
    let cpu = |before: Option<Duration>, after: Option<Duration>| match (before, after) {
        (Some(before), Some(after)) => {
            let used = after.saturating_sub(before);
            format!(
                "{} ({:.1} µs per delivery)",
                ms(used),
                used.as_secs_f64() * 1e6 / delivered
            )
        }
        _ => "unknown".to_string(),
    };
    println!(
        "CPU during the events: server {}, bench {}",
        cpu(cpu_before.0, cpu_after.0),
        cpu(cpu_before.1, cpu_after.1)
    );

    // Close every socket.
    let closing = Instant::now();
    let _ = stop.send(true);
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        while shoppers.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    shoppers.abort_all();
    println!(
        "close: {} in {}",
        if closed {
            format!("{n} sockets closed")
        } else {
            "some sockets did not close; dropped".to_string()
        },
        secs(closing.elapsed())
    );

    // Report.
    let firsts = Summary::of(&mut firsts);
    let lasts = Summary::of(&mut lasts);
    let every = Summary::of(&mut deliveries);
    let trigger = if under_test.admin.is_some() {
        format!("admin sell/restock of item {item_id} (product {product_id})")
    } else {
        "POST /broadcast".to_string()
    };
    println!(
        "latency over {} events, from just before the {trigger} to each client reading the push:",
        args.events
    );
    println!("  first client   {}", line_or_none(firsts));
    println!("  last client    {}", line_or_none(lasts));
    println!(
        "  every delivery {} ({} deliveries)",
        line_or_none(every),
        every.map_or(0, |s| s.count)
    );
    println!(
        "  trigger request {}",
        line_or_none(Summary::of(&mut requests))
    );
    println!(
        "missing: {missing} of {} deliveries ({events_missing} event(s) incomplete); {lost} client(s) lost{}; {stray} stray push(es)",
        n * args.events as usize,
        first_lost.map_or_else(String::new, |r| format!(" (first: {r})"))
    );

    let mut summary = format!(
        "fanout N={n}{}: last-client {}",
        if under_test.admin.is_none() {
            " (baseline)"
        } else {
            ""
        },
        lasts.map_or_else(
            || "no samples".to_string(),
            |s| format!("p50 {} p99 {} max {}", ms(s.p50), ms(s.p99), ms(s.max))
        )
    );
    match per_conn {
        Some(per) => summary.push_str(&format!("; {}/conn", bytes(per))),
        None => summary.push_str("; memory unknown"),
    }
    if missing > 0 || lost > 0 {
        summary.push_str(&format!("; {missing} missed, {lost} lost"));
    }
    Ok(summary)
}

fn progress(len: u64, what: &str) -> Result<ProgressBar, CliError> {
    let style = ProgressStyle::with_template(&format!(
        "{{spinner}} {what} [{{bar:30}}] {{pos}}/{{len}} · {{per_sec}} · {{elapsed}} {{msg}}"
    ))
    .map_err(|e| bench_error(format!("progress bar: {e}")))?
    .progress_chars("=> ");
    let bar = ProgressBar::new(len).with_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    Ok(bar)
}

/// A released product and one of its items, set to exactly [`PIVOT`] pairs.
async fn pick_item(admin: &AdminClient) -> Result<(i32, i32), CliError> {
    let inventory = admin.inventory().await?;
    let Some((product, item)) = inventory
        .products
        .iter()
        .filter(|p| p.released)
        .find_map(|p| p.items.first().map(|i| (p, i)))
    else {
        return Err(bench_error(
            "no released product with sizes to bench on; release one with `sneakers release <id>`",
        ));
    };
    let count = item.available_count;
    let reply = match count.cmp(&PIVOT) {
        std::cmp::Ordering::Greater => Some(admin.sell(item.id, count - PIVOT).await?),
        std::cmp::Ordering::Less => Some(admin.restock(item.id, PIVOT - count).await?),
        std::cmp::Ordering::Equal => None,
    };
    let now = reply.map_or(count, |r| r.available_count);
    if now != PIVOT {
        return Err(bench_error(format!(
            "could not set item {} to {PIVOT} pairs (it has {now})",
            item.id
        )));
    }
    println!(
        "product {} ({} {}), item {} (size {}): set to {PIVOT} pairs, was {count}",
        product.id, product.brand, product.name, item.id, item.size
    );
    Ok((product.id, item.id))
}

/// The socket URL and address for `base` (`http://host:port`).
async fn target(base: &str, product_id: i32, timeout: Duration) -> Result<Target, CliError> {
    let url = reqwest::Url::parse(base).map_err(|e| bench_error(format!("bad url {base}: {e}")))?;
    if url.scheme() != "http" {
        return Err(bench_error(format!(
            "only http:// servers can be benched, not {base}"
        )));
    }
    let host = url
        .host_str()
        .ok_or_else(|| bench_error(format!("no host in {base}")))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| bench_error(format!("cannot resolve {host}: {e}")))?
        .collect();
    let addr = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| bench_error(format!("{host} resolves to no address")))?;
    let authority = format!("{host}:{port}");
    Ok(Target {
        addr,
        ws_url: format!("ws://{authority}/socket/websocket?vsn=2.0.0&token="),
        origin: format!("http://{authority}"),
        topic: format!("product:{product_id}"),
        spread_sources: addr.is_ipv4() && addr.ip().is_loopback(),
        join_timeout: timeout,
    })
}

/// `count` socket tokens, each from its own session.
async fn fetch_tokens(base: &str, count: usize) -> Result<Vec<Arc<str>>, CliError> {
    #[derive(Deserialize)]
    struct TokenReply {
        token: String,
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| bench_error(format!("http client: {e}")))?;
    let url = format!("{base}/session/token");
    let bar = progress(count as u64, "tokens")?;
    let fetch = |_| {
        let (http, url, bar) = (&http, &url, &bar);
        async move {
            let response = http
                .get(url)
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| format!("GET {url}: {}", root_cause(&e)))?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!("GET {url}: HTTP {status}"));
            }
            let reply: TokenReply = response
                .json()
                .await
                .map_err(|e| format!("GET {url}: {}", root_cause(&e)))?;
            bar.inc(1);
            Ok::<_, String>(Arc::<str>::from(reply.token))
        }
    };
    let tokens = stream::iter(0..count)
        .map(fetch)
        .buffer_unordered(TOKEN_CONCURRENCY)
        .try_collect()
        .await
        .map_err(|e| bench_error(format!("no socket token: {e}")));
    bar.finish_and_clear();
    tokens
}

async fn broadcast(http: &reqwest::Client, base: &str) -> Result<(), CliError> {
    let url = format!("{base}/broadcast");
    let response = http
        .post(&url)
        .send()
        .await
        .map_err(|e| bench_error(format!("POST {url}: {}", root_cause(&e))))?;
    if !response.status().is_success() {
        return Err(bench_error(format!(
            "POST {url}: HTTP {}",
            response.status()
        )));
    }
    Ok(())
}

/// reqwest's own message hides the cause ("error sending request"); the innermost error names it.
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
