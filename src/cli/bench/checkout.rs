//! `sneakers bench checkout`: N buyers race for K pairs through the real HTTP checkout, as
//! browsers without JavaScript do. Each buyer has its own cookie jar and connection: it loads
//! `/` (the CSRF token), carts the pair with the plain form, and waits; then all of them post
//! `/checkout` at once. Exactly K orders and N - K sold-out answers are right; anything else is
//! an error, and the stock must end at zero.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::client::Target;
use super::harness::{Harness, Node, ServerArgs, interruptible};
use super::http::{meta, set_stock_of_first_item, stock_of};
use super::report::{Summary, line_or_none, ms, progress, rate, secs};
use super::server::Usage;
use super::{bench_error, ensure_open_files, root_cause};
use crate::cli::CliError;

#[derive(Args, Debug)]
pub struct CheckoutArgs {
    /// Buyers, each with its own cookie jar and connection.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    buyers: u32,
    /// Pairs for sale: one size of a released product is set to exactly this many first.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    stock: u32,
    #[command(flatten)]
    server: ServerArgs,
    /// Buyers loading the page and carting the pair at once (before the race).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: u32,
    /// Seconds to wait for any one request.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
}

pub async fn run(args: CheckoutArgs) -> Result<(), CliError> {
    ensure_open_files(u64::from(args.buyers), &format!("{} buyers", args.buyers))?;
    let harness = Harness::start(&args.server, 1).await?;
    println!(
        "bench checkout: {} buyers for {} pairs against {} at {}",
        args.buyers,
        args.stock,
        harness.what,
        harness.addresses()
    );
    let outcome = interruptible(bench(&args, &harness.nodes[0])).await;
    let summary = harness.finish(outcome).await?;
    println!("{summary}");
    Ok(())
}

/// How one checkout POST was answered.
enum Answer {
    Order,
    SoldOut,
    /// `HTTP 500`, `303 to /checkout`, `timed out`, ...
    Error(String),
}

/// One buyer's race.
struct Outcome {
    answer: Answer,
    /// From sending the POST to its answer.
    latency: Duration,
    at: Instant,
}

struct Buyer {
    http: reqwest::Client,
    base: Arc<str>,
    item_id: i32,
}

impl Buyer {
    fn new(
        id: u32,
        target: &Target,
        base: &Arc<str>,
        item_id: i32,
        timeout: Duration,
    ) -> Result<Buyer, CliError> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .tcp_nodelay(true)
            .local_address(target.source(id))
            .build()
            .map_err(|e| bench_error(format!("http client: {e}")))?;
        Ok(Buyer {
            http,
            base: Arc::clone(base),
            item_id,
        })
    }

    /// `GET /` for the session and the CSRF token, then `POST /cart/items`; the token.
    async fn cart_the_pair(&self) -> Result<String, String> {
        let url = format!("{}/", self.base);
        let page = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("GET /: {}", root_cause(&e)))?;
        if !page.status().is_success() {
            return Err(format!("GET /: HTTP {}", page.status()));
        }
        let page = page
            .text()
            .await
            .map_err(|e| format!("GET /: {}", root_cause(&e)))?;
        let csrf = meta(&page, "csrf-token").ok_or("GET /: no <meta name=\"csrf-token\">")?;
        let url = format!("{}/cart/items", self.base);
        let form = [
            ("item_id", self.item_id.to_string()),
            ("_csrf_token", csrf.clone()),
        ];
        let answer = self
            .http
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("POST /cart/items: {}", root_cause(&e)))?;
        let location = location(&answer);
        match answer.status() {
            StatusCode::SEE_OTHER if !location.contains("cart_error") => Ok(csrf),
            StatusCode::SEE_OTHER => Err(format!("POST /cart/items: refused ({location})")),
            status => Err(format!("POST /cart/items: HTTP {status}")),
        }
    }

    async fn check_out(&self, csrf: &str) -> Outcome {
        let url = format!("{}/checkout", self.base);
        let started = Instant::now();
        let answer = self
            .http
            .post(&url)
            .form(&[("_csrf_token", csrf)])
            .send()
            .await;
        let at = Instant::now();
        let answer = match answer {
            Ok(response) => {
                let location = location(&response);
                match response.status() {
                    StatusCode::SEE_OTHER if location.starts_with("/checkout/complete?order=") => {
                        Answer::Order
                    }
                    StatusCode::SEE_OTHER if location.starts_with("/checkout?sold_out=") => {
                        Answer::SoldOut
                    }
                    StatusCode::SEE_OTHER => Answer::Error(format!("303 to {location}")),
                    status => Answer::Error(format!("HTTP {}", status.as_u16())),
                }
            }
            Err(e) if e.is_timeout() => Answer::Error("timed out".into()),
            Err(e) => Answer::Error(root_cause(&e)),
        };
        Outcome {
            answer,
            latency: at - started,
            at,
        }
    }
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn bench(args: &CheckoutArgs, node: &Node) -> Result<String, CliError> {
    let (n, k) = (args.buyers as usize, args.stock as i32);
    let timeout = Duration::from_secs(args.timeout);
    let admin = node.admin()?;
    let picked = set_stock_of_first_item(&admin.api, k).await?;
    let item_id = picked.item_id;
    println!(
        "product {} ({}), item {item_id} (size {}): set to {k} pairs, was {}",
        picked.product_id, picked.product, picked.size, picked.was
    );
    let target = Target::resolve(&node.base, timeout).await?;
    let base: Arc<str> = Arc::from(node.base.as_str());

    // Every buyer loads the page and carts the pair, then waits for the start.
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<Result<(), String>>();
    let (go, go_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(args.concurrency as usize));
    let mut buyers = JoinSet::new();
    let bar = progress(n as u64, "carting")?;
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
    let carting = started.elapsed();
    if carted == 0 {
        return Err(bench_error(format!(
            "no buyer could cart the pair: {}",
            first_error.unwrap_or_else(|| "they stopped".into())
        )));
    }
    println!(
        "carted: {carted} of {n} buyers loaded / and carted item {item_id} in {} ({}/s, {} at once){}",
        secs(carting),
        rate(carted, carting),
        args.concurrency,
        first_error.map_or_else(String::new, |e| format!("; {failed} failed (first: {e})"))
    );

    // The race.
    let usage = Usage::start(node.pid);
    let bar = progress(carted as u64, "checkout")?;
    let t0 = Instant::now();
    let _ = go.send(true);
    let (mut orders, mut sold_out) = (0usize, 0usize);
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut latencies = Vec::with_capacity(carted);
    let mut last = t0;
    while let Some(joined) = buyers.join_next().await {
        let outcome = match joined {
            Ok(Some(outcome)) => outcome,
            Ok(None) => continue,
            Err(e) => {
                *errors.entry(format!("buyer task failed: {e}")).or_default() += 1;
                continue;
            }
        };
        bar.inc(1);
        latencies.push(outcome.latency);
        last = last.max(outcome.at);
        match outcome.answer {
            Answer::Order => orders += 1,
            Answer::SoldOut => sold_out += 1,
            Answer::Error(kind) => *errors.entry(kind).or_default() += 1,
        }
    }
    bar.finish_and_clear();
    let wall = last - t0;
    let used = usage.finish();
    let left = stock_of(&admin.api, item_id).await?;

    let error_count: usize = errors.values().sum();
    let latency = Summary::of(&mut latencies);
    println!(
        "race: {carted} checkouts posted at once; all answered in {} ({} checkouts/s)",
        secs(wall),
        rate(carted, wall)
    );
    println!("  orders         {orders}");
    println!("  sold out       {sold_out}");
    println!(
        "  errors         {error_count}{}",
        if errors.is_empty() {
            String::new()
        } else {
            let kinds: Vec<String> = errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            format!(" ({})", kinds.join(", "))
        }
    );
    println!("  latency        {}", line_or_none(latency));
    println!("  server         {}", used.line());
    let expected_orders = carted.min(k as usize);
    let accounted = orders as i64 + i64::from(left) == i64::from(k);
    println!(
        "stock: {k} pairs before, {left} left after; {orders} sold{}",
        if accounted {
            " (every pair accounted for)".to_string()
        } else {
            format!(
                ": MISMATCH, {orders} orders + {left} left != {k}{}",
                if orders > k as usize {
                    " (oversold)"
                } else {
                    ""
                }
            )
        }
    );
    let mut problems = Vec::new();
    if !accounted {
        problems.push("stock mismatch".to_string());
    }
    if carted >= k as usize && left != 0 {
        problems.push(format!("{left} pairs unsold"));
    }
    if orders != expected_orders {
        problems.push(format!("{orders} orders, expected {expected_orders}"));
    }
    let mut summary = format!(
        "checkout N={n} K={k}: {orders} orders, {sold_out} sold out, {error_count} errors; {} checkouts/s; {}; stock left {left}; server {}",
        rate(carted, wall),
        latency.map_or_else(
            || "no latency samples".to_string(),
            |s| format!("p50 {} p99 {} max {}", ms(s.p50), ms(s.p99), ms(s.max))
        ),
        used.short()
    );
    if failed > 0 {
        summary.push_str(&format!("; {failed} buyers could not cart"));
    }
    if !problems.is_empty() {
        summary.push_str(&format!("; WRONG: {}", problems.join(", ")));
    }
    Ok(summary)
}
