//! `sneakers bench ...`: load generators. `fanout` opens many shopper sockets on one product and
//! times how long a stock change takes to reach all of them (on one node or across two);
//! `checkout` races N buyers for K pairs through the real HTTP checkout; `shoppers` keeps N cart
//! sockets open (with churn) and times how fast the admin dashboard sees them; `baseline-server`
//! (hidden) is the bare WebSocket server `fanout --baseline` measures as the reference.
//!
//! Shared pieces: `harness` spawns (or attaches to) the servers under test, `server` runs one
//! process and reads its CPU and memory, `client` is the WebSocket client, `http` the HTTP calls
//! every bench makes (session tokens, admin pages, stock), `report` the numbers and progress bars.

mod baseline;
mod checkout;
mod client;
mod fanout;
mod harness;
mod http;
mod report;
mod server;
mod shoppers;

use clap::{Args, Subcommand};

use super::CliError;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Open N shopper sockets on one product, then time K stock changes reaching all of them.
    Fanout(fanout::FanoutArgs),
    /// N buyers race for K pairs through the HTTP checkout (plain forms, no JavaScript).
    Checkout(checkout::CheckoutArgs),
    /// N shoppers on cart sockets (with churn) and one admin: how fast the dashboard follows.
    Shoppers(shoppers::ShoppersArgs),
    /// A bare axum WebSocket fan-out server: the reference `fanout --baseline` measures.
    #[command(hide = true)]
    BaselineServer,
}

pub async fn run(args: BenchArgs) -> Result<(), CliError> {
    match args.command {
        BenchCommand::Fanout(args) => fanout::run(args).await,
        BenchCommand::Checkout(args) => checkout::run(args).await,
        BenchCommand::Shoppers(args) => shoppers::run(args).await,
        BenchCommand::BaselineServer => baseline::serve().await,
    }
}

fn bench_error(message: impl Into<String>) -> CliError {
    CliError::Bench(message.into())
}

/// Open files the bench needs besides its sockets (HTTP clients, stdio, the runtime).
const FD_RESERVE: u64 = 64;

/// Raises this process's open-files limit to the hard limit (servers it spawns inherit it) and
/// checks that `sockets` more fit.
fn ensure_open_files(sockets: u64, what: &str) -> Result<u64, CliError> {
    let error = |e: std::io::Error| bench_error(format!("cannot read the open-files limit: {e}"));
    let (before, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).map_err(error)?;
    let soft = rlimit::increase_nofile_limit(hard).map_err(error)?;
    println!("open files: soft limit {before} -> {soft} (hard {hard})");
    let needed = sockets + FD_RESERVE;
    if needed > soft {
        return Err(bench_error(format!(
            "{what} need about {needed} open files; the limit is {soft}"
        )));
    }
    Ok(soft)
}

/// reqwest's own message hides the cause ("error sending request"); the innermost error names it.
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
