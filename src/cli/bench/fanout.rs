//! `sneakers bench fanout`: N shopper sockets on one product, then K stock changes; how long until
//! the first and the last shopper sees each one, and what each socket costs the server. With
//! `--nodes 2` (PostgreSQL) the shoppers are split over two store processes and the stock changes
//! are made on the first: the second node's shoppers time the replication too.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::client::{Shopper, Target, Update};
use super::harness::{Harness, Node, ServerArgs, interruptible};
use super::http::{Session, fetch_sessions, http_client, set_stock_of_first_item};
use super::report::{Summary, bytes, line_or_none, ms, progress, rate, secs};
use super::server;
use super::{bench_error, ensure_open_files, root_cause};
use crate::cli::CliError;

/// Pairs the timed item is set to: selling one crosses medium -> low, restocking one crosses back.
const PIVOT: i32 = 150;
/// Pause between events, so one event's tail does not overlap the next.
const EVENT_GAP: Duration = Duration::from_millis(100);
/// Let the server settle before reading its memory.
const SETTLE: Duration = Duration::from_secs(1);
/// What each node counts as one message to the others (one NOTIFY).
const PUBLISHED: &str = "sneakers_cluster_published_total";

#[derive(Args, Debug)]
pub struct FanoutArgs {
    /// Shopper sockets to open.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    clients: u32,
    /// Stock changes to time (alternately sell one pair and restock it).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    events: u32,
    #[command(flatten)]
    server: ServerArgs,
    /// Store processes to spawn against --database-url, the shoppers split evenly over them;
    /// the stock changes are made on the first.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8),
          requires = "database_url")]
    nodes: u32,
    /// Bench the bare WebSocket fan-out server (the reference) instead of the store.
    #[arg(long, conflicts_with = "database_url")]
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

pub async fn run(args: FanoutArgs) -> Result<(), CliError> {
    // Before spawning: the servers inherit the raised limit.
    ensure_open_files(
        u64::from(args.clients),
        &format!("{} clients", args.clients),
    )?;
    let harness = if args.baseline {
        Harness::baseline(&args.server).await?
    } else {
        Harness::start(&args.server, args.nodes as usize).await?
    };
    println!(
        "bench fanout: {} clients, {} events against {} at {}",
        args.clients,
        args.events,
        harness.what,
        harness.addresses()
    );
    let outcome = interruptible(bench(&args, &harness.nodes)).await;
    let summary = harness.finish(outcome).await?;
    println!("{summary}");
    Ok(())
}

/// Everything after the servers are up; returns the one-line summary.
async fn bench(args: &FanoutArgs, nodes: &[Node]) -> Result<String, CliError> {
    let n = args.clients as usize;
    let k = nodes.len();
    let timeout = Duration::from_secs(args.timeout);
    // Client `c` is on node `c % k`.
    let node_of = |client: usize| client % k;
    let on_node = |node: usize| (0..n).filter(|c| node_of(*c) == node).count();
    let several = k > 1;
    let origin = &nodes[0];
    let admin = origin.admin.as_ref();
    let (product_id, item_id) = match admin {
        Some(admin) => {
            let picked = set_stock_of_first_item(&admin.api, PIVOT).await?;
            println!(
                "product {} ({}), item {} (size {}): set to {PIVOT} pairs, was {}",
                picked.product_id, picked.product, picked.item_id, picked.size, picked.was
            );
            (picked.product_id, picked.item_id)
        }
        None => (1, 1),
    };
    let topic: Arc<str> = Arc::from(format!("product:{product_id}"));
    let mut targets = Vec::with_capacity(k);
    for node in nodes {
        targets.push(Arc::new(Target::resolve(&node.base, timeout).await?));
    }

    // Socket tokens, each node's shoppers from their own node (as their page would).
    let cpt = args.clients_per_token as usize;
    let mut tokens: Vec<Vec<Session>> = Vec::with_capacity(k);
    if admin.is_some() {
        let started = Instant::now();
        let mut count = 0;
        for (index, node) in nodes.iter().enumerate() {
            let wanted = on_node(index).div_ceil(cpt);
            tokens.push(fetch_sessions(&node.base, wanted).await?);
            count += wanted;
        }
        println!(
            "tokens: {count} from GET /session/token in {} ({}/s)",
            secs(started.elapsed()),
            rate(count, started.elapsed())
        );
    } else {
        let baseline = Session {
            token: Arc::from("baseline"),
            cart_id: Arc::from(""),
        };
        tokens.push(vec![baseline]);
    }

    let rss = |label: &str| -> Vec<Option<u64>> {
        nodes
            .iter()
            .map(|node| {
                let value = node.pid.and_then(server::rss_bytes);
                if let Some(value) = value {
                    println!("{} RSS {label}: {}", node.label(), bytes(value as f64));
                }
                value
            })
            .collect()
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
        let node = node_of(id as usize);
        let tokens = &tokens[node.min(tokens.len() - 1)];
        let token = Arc::clone(&tokens[(id as usize / k / cpt) % tokens.len()].token);
        let shopper = Shopper {
            id,
            target: Arc::clone(&targets[node]),
            topic: Arc::clone(&topic),
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
        "connect: {n} clients connected and joined {topic}{} in {} ({} clients/s, {} in flight); each {}",
        if several {
            format!(" ({k} nodes, {} on each)", n / k)
        } else {
            String::new()
        },
        secs(connect_time),
        rate(n, connect_time),
        args.concurrency,
        line_or_none(per_client)
    );
    tokio::time::sleep(SETTLE).await;
    let rss_connected = rss("after connecting");
    let mut per_conn = Vec::with_capacity(k);
    for (index, node) in nodes.iter().enumerate() {
        let clients = on_node(index).max(1);
        let per = match (rss_before[index], rss_connected[index]) {
            (Some(before), Some(after)) => {
                let per = (after as f64 - before as f64) / clients as f64;
                println!(
                    "{} memory per connection: {} ({} / {clients})",
                    node.label(),
                    bytes(per),
                    bytes(after as f64 - before as f64)
                );
                Some(per)
            }
            _ => {
                println!("{} memory: unknown (pass --pid with --url)", node.label());
                None
            }
        };
        per_conn.push(per);
    }
    if let Some(own) = server::own_rss_bytes() {
        println!(
            "bench RSS: {} ({} per client)",
            bytes(own as f64),
            bytes(own as f64 / n as f64)
        );
    }

    // Events.
    let cpu_before: Vec<Option<Duration>> = nodes
        .iter()
        .map(|node| node.pid.and_then(server::cpu_time))
        .collect();
    let own_cpu_before = server::own_cpu_time();
    let published_before = match (several, admin) {
        (true, Some(admin)) => Some(admin.metric(PUBLISHED).await?),
        _ => None,
    };
    let events_started = Instant::now();
    let bar = progress(u64::from(args.events), "events")?;
    let mut got = vec![false; n];
    let mut dead = vec![false; n];
    let (mut lost, mut first_lost) = (0usize, None::<String>);
    // Per node: the first and the last of its clients to get each event.
    let mut firsts = vec![Vec::new(); k];
    let mut lasts = vec![Vec::new(); k];
    let mut deliveries = Vec::with_capacity(n * args.events as usize);
    let mut requests = Vec::new();
    let (mut missing, mut events_missing, mut stray) = (0usize, 0usize, 0usize);
    let mut level = None::<String>;
    let http = http_client(timeout)?;
    // What each join pushed (the page's state, e.g. a stock_change per size) is no event's.
    let mut on_join = 0usize;
    while let Ok(update) = updates.try_recv() {
        match update {
            Update::Got { .. } => on_join += 1,
            Update::Lost { client, reason } => {
                let c = client as usize;
                if c < n && !dead[c] {
                    dead[c] = true;
                    lost += 1;
                    first_lost.get_or_insert(reason);
                }
            }
        }
    }
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
        let expected = match admin {
            Some(admin) => {
                let reply = if event % 2 == 0 {
                    admin.api.sell(crate::domain::ItemId(item_id), 1).await?
                } else {
                    admin.api.restock(crate::domain::ItemId(item_id), 1).await?
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
                broadcast(&http, &origin.base).await?;
                None
            }
        };
        requests.push(t0.elapsed());
        let deadline = t0 + timeout;
        let mut received = 0usize;
        let mut gone = dead.iter().filter(|d| **d).count();
        let mut first = vec![None::<Duration>; k];
        let mut last = vec![None::<Duration>; k];
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
                        let node = node_of(c);
                        first[node] = Some(first[node].map_or(latency, |f| f.min(latency)));
                        last[node] = Some(last[node].map_or(latency, |l| l.max(latency)));
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
        for node in 0..k {
            firsts[node].extend(first[node]);
            lasts[node].extend(last[node]);
        }
        bar.inc(1);
        tokio::time::sleep(EVENT_GAP).await;
    }
    bar.finish_and_clear();
    let events_took = events_started.elapsed();
    let cpu_after: Vec<Option<Duration>> = nodes
        .iter()
        .map(|node| node.pid.and_then(server::cpu_time))
        .collect();
    let own_cpu_after = server::own_cpu_time();
    let published = match (published_before, admin) {
        (Some(before), Some(admin)) => Some(admin.metric(PUBLISHED).await? - before),
        _ => None,
    };
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
    let servers: Vec<String> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| format!("{} {}", node.label(), cpu(cpu_before[i], cpu_after[i])))
        .collect();
    println!(
        "CPU during the events: {}, bench {}",
        servers.join(", "),
        cpu(own_cpu_before, own_cpu_after)
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
    let firsts: Vec<Option<Summary>> = firsts.iter_mut().map(|s| Summary::of(s)).collect();
    let lasts: Vec<Option<Summary>> = lasts.iter_mut().map(|s| Summary::of(s)).collect();
    let every = Summary::of(&mut deliveries);
    let trigger = match admin {
        Some(_) if several => format!(
            "admin sell/restock of item {item_id} (product {product_id}) on {}",
            origin.label()
        ),
        Some(_) => format!("admin sell/restock of item {item_id} (product {product_id})"),
        None => "POST /broadcast".to_string(),
    };
    println!(
        "latency over {} events, from just before the {trigger} to each client reading the push:",
        args.events
    );
    for (index, node) in nodes.iter().enumerate() {
        let (first, last) = (firsts[index], lasts[index]);
        if several {
            let how = if index == 0 {
                "its own sale"
            } else {
                "replicated"
            };
            println!("  {} ({how}, {} clients)", node.label(), on_node(index));
            println!("    first client   {}", line_or_none(first));
            println!("    last client    {}", line_or_none(last));
        } else {
            println!("  first client   {}", line_or_none(first));
            println!("  last client    {}", line_or_none(last));
        }
    }
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
        "missing: {missing} of {} deliveries ({events_missing} event(s) incomplete); {lost} client(s) lost{}; {stray} stray push(es); {on_join} state push(es) on join",
        n * args.events as usize,
        first_lost.map_or_else(String::new, |r| format!(" (first: {r})"))
    );
    let per_sale = published.map(|p| p / f64::from(args.events));
    if let (Some(published), Some(per_sale)) = (published, per_sale) {
        println!(
            "replication: {} published {published:.0} cluster message(s) (NOTIFY) during the {} events, {per_sale:.2} per sale \
             (cluster heartbeats included: one every 2 s by default; the events took {})",
            origin.label(),
            args.events,
            secs(events_took)
        );
    }

    let p50_p99 = |s: Option<Summary>| {
        s.map_or_else(
            || "no samples".to_string(),
            |s| format!("p50 {} p99 {} max {}", ms(s.p50), ms(s.p99), ms(s.max)),
        )
    };
    let mut summary = if several {
        let mut summary = format!("fanout N={n} nodes={k}: last-client");
        for (index, node) in nodes.iter().enumerate() {
            let how = if index == 0 { "" } else { " (replicated)" };
            summary.push_str(&format!(
                "{} on {}{how} {}",
                if index == 0 { "" } else { ";" },
                node.label(),
                p50_p99(lasts[index])
            ));
        }
        if let Some(per_sale) = per_sale {
            summary.push_str(&format!("; {per_sale:.2} replication messages/sale"));
        }
        summary
    } else {
        format!(
            "fanout N={n}{}: last-client {}",
            if admin.is_none() { " (baseline)" } else { "" },
            p50_p99(lasts[0])
        )
    };
    let per_conn: Vec<String> = per_conn
        .iter()
        .zip(nodes)
        .map(|(per, node)| {
            let per = per.map_or_else(
                || "memory unknown".to_string(),
                |p| format!("{}/conn", bytes(p)),
            );
            if several {
                format!("{} {per}", node.name)
            } else {
                per
            }
        })
        .collect();
    summary.push_str(&format!("; {}", per_conn.join(", ")));
    if missing > 0 || lost > 0 {
        summary.push_str(&format!("; {missing} missed, {lost} lost"));
    }
    Ok(summary)
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
