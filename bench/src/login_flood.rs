//! `sneakers-bench login-flood`: one address posts the login form as fast as it is asked to,
//! with an email never tried before each time, against a store with its rate limits on (as in
//! production). The attack that once grew the login limiter for good: every post wrote a key
//! for its email, also when the address was over its budget. The bench reads the store's
//! resident memory before, at its peak during the flood and once the store has settled (it
//! forgets idle keys every 10 s and gives freed heap back every 5 s), and counts the answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Args;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::Options;
use crate::error::{BenchError, root_cause};
use crate::harness::{Harness, Node, ServerArgs, interruptible};
use crate::http::meta;
use crate::procs::rss_bytes;
use crate::report::{Report, Unit, note, per_sec, progress};

#[derive(Args, Debug, Clone, PartialEq)]
pub struct LoginFloodArgs {
    /// Login posts in all, each with a new email.
    #[arg(long, default_value_t = 600_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub posts: u64,
    /// Spread over this many seconds (or as fast as the machine goes, if that is slower).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(1..))]
    pub seconds: u64,
    /// Connections posting at once, all from 127.0.0.1.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=400))]
    pub connections: u32,
    /// Seconds after the flood before the store's memory is read again.
    #[arg(long, default_value_t = 25)]
    pub settle: u64,
    /// Post without the session's CSRF token (each is refused before any rate limit).
    #[arg(long)]
    pub forged: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Answers by kind.
#[derive(Default)]
struct Answers {
    /// 401: the login was tried (wrong password).
    tried: AtomicU64,
    /// 429: over a rate limit.
    limited: AtomicU64,
    /// 403: no valid CSRF token.
    forbidden: AtomicU64,
    other: AtomicU64,
    failed: AtomicU64,
    sent: AtomicU64,
}

struct Measured {
    rss_before: Option<u64>,
    rss_peak: Option<u64>,
    rss_after_flood: Option<u64>,
    rss_settled: Option<u64>,
    took: Duration,
    keys_settled: Option<f64>,
    first_error: Option<String>,
}

pub async fn run(options: &Options, args: LoginFloodArgs) -> Result<(), BenchError> {
    let env = vec![("RATE_LIMIT".to_string(), "on".to_string())];
    let harness = Harness::store_with(options.server_bin.as_deref(), &args.server, 1, env).await?;
    note(format!(
        "login-flood: {} posts with new emails in {} s over {} connections against {} at {}",
        args.posts,
        args.seconds,
        args.connections,
        harness.what,
        harness.addresses()
    ));
    let what = harness.what.clone();
    let answers = Arc::new(Answers::default());
    let outcome = match harness.nodes.first() {
        Some(node) => interruptible(bench(&args, node, Arc::clone(&answers))).await,
        None => Err(BenchError::Usage("no store to bench".into())),
    };
    let measured = harness.finish(outcome).await?;
    report(&args, &what, &answers, &measured).print(options.json);
    if let Some(error) = &measured.first_error {
        note(format!("first failed post: {error}"));
    }
    Ok(())
}

/// The bot's session: `GET /account/login` for the cookie and the form's CSRF token.
async fn session(node: &Node, timeout: Duration) -> Result<(reqwest::Client, String), BenchError> {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| BenchError::Http(format!("http client: {}", root_cause(&e))))?;
    let url = format!("{}/account/login", node.base);
    let page = http
        .get(&url)
        .send()
        .await
        .map_err(|e| BenchError::Http(format!("GET {url}: {}", root_cause(&e))))?
        .text()
        .await
        .map_err(|e| BenchError::Http(format!("GET {url}: {}", root_cause(&e))))?;
    let csrf = meta(&page, "csrf-token")
        .ok_or_else(|| BenchError::Http(format!("GET {url}: no csrf-token meta")))?;
    Ok((http, csrf))
}

async fn bench(
    args: &LoginFloodArgs,
    node: &Node,
    answers: Arc<Answers>,
) -> Result<Measured, BenchError> {
    let admin = node.admin()?;
    let (http, csrf) = session(node, Duration::from_secs(30)).await?;
    let csrf: Arc<str> = if args.forged { "".into() } else { csrf.into() };
    let url: Arc<str> = format!("{}/account/login", node.base).into();
    let rss_before = node.pid.and_then(rss_bytes);
    let next = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let spacing = Duration::from_secs(args.seconds).as_secs_f64() / args.posts as f64;
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..args.connections {
        let (http, csrf, url) = (http.clone(), Arc::clone(&csrf), Arc::clone(&url));
        let (next, answers, first_error) = (
            Arc::clone(&next),
            Arc::clone(&answers),
            Arc::clone(&first_error),
        );
        let posts = args.posts;
        workers.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= posts {
                    return;
                }
                let due = start + Duration::from_secs_f64(n as f64 * spacing);
                tokio::time::sleep_until(due).await;
                let email = format!("flood{n}@example.com");
                let form = [
                    ("email", email.as_str()),
                    ("password", "not the password"),
                    ("_csrf_token", &csrf),
                ];
                let counter = match http.post(&*url).form(&form).send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        // Read the body so the connection goes back to the pool.
                        let _ = response.bytes().await;
                        match status {
                            401 => &answers.tried,
                            429 => &answers.limited,
                            403 => &answers.forbidden,
                            _ => &answers.other,
                        }
                    }
                    Err(error) => {
                        let mut first = first_error
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        first.get_or_insert_with(|| root_cause(&error));
                        &answers.failed
                    }
                };
                counter.fetch_add(1, Ordering::Relaxed);
                answers.sent.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let bar = progress(args.posts, "posts");
    let mut rss_peak = rss_before;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    while !workers.is_empty() {
        tokio::select! {
            _ = tick.tick() => {
                bar.set_position(answers.sent.load(Ordering::Relaxed));
                let rss = node.pid.and_then(rss_bytes);
                rss_peak = rss_peak.max(rss);
            }
            joined = workers.join_next() => {
                if let Some(Err(error)) = joined {
                    return Err(BenchError::Unexpected(format!("a poster failed: {error}")));
                }
            }
        }
    }
    bar.finish_and_clear();
    let took = start.elapsed();
    let rss_after_flood = node.pid.and_then(rss_bytes);
    rss_peak = rss_peak.max(rss_after_flood);
    note(format!(
        "flood over in {:.1} s; letting the store settle for {} s",
        took.as_secs_f64(),
        args.settle
    ));
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let rss_settled = node.pid.and_then(rss_bytes);
    let keys_settled = admin.metric("sneakers_rate_limit_keys").await.ok();
    let first_error = first_error
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    Ok(Measured {
        rss_before,
        rss_peak,
        rss_after_flood,
        rss_settled,
        took,
        keys_settled,
        first_error,
    })
}

fn report(args: &LoginFloodArgs, what: &str, answers: &Answers, measured: &Measured) -> Report {
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as usize;
    let mut report = Report::new(
        "login-flood",
        format!(
            "login-flood: {} posts with new emails from one address against {what}",
            args.posts
        ),
    );
    report.count(
        "posts answered",
        load(&answers.sent) - load(&answers.failed),
    );
    report.number(
        "posts per second",
        per_sec(load(&answers.sent), measured.took),
        Unit::PerSec,
    );
    report.count("tried (401)", load(&answers.tried));
    report.count("rate limited (429)", load(&answers.limited));
    report.count("forbidden (403)", load(&answers.forbidden));
    report.count("other answers", load(&answers.other));
    report.count("failed posts", load(&answers.failed));
    let mib = |rss: Option<u64>| rss.map(|r| r as f64);
    report.number("server RSS before", mib(measured.rss_before), Unit::Bytes);
    report.number("server RSS peak", mib(measured.rss_peak), Unit::Bytes);
    report.number(
        "server RSS after the flood",
        mib(measured.rss_after_flood),
        Unit::Bytes,
    );
    report.number(
        format!("server RSS {} s later", args.settle),
        mib(measured.rss_settled),
        Unit::Bytes,
    );
    let growth = measured
        .rss_before
        .zip(measured.rss_settled)
        .map(|(before, after)| after as f64 - before as f64);
    report.number("server RSS kept", growth, Unit::Bytes);
    report.number(
        "rate-limit keys held after settling",
        measured.keys_settled,
        Unit::Count,
    );
    report
}
