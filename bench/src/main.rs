//! `sneakers-bench`: load tools for the Sneakers store, in their own binary so the server does
//! not carry them. `fanout` times a stock change reaching N shopper sockets (beside a bare
//! floor server, on one node or across several); `checkout` races N buyers for K pairs through
//! the HTTP checkout and checks the database; `shoppers` keeps N cart sockets open (with churn)
//! and times how fast the admin dashboard sees them; `login-flood` posts logins with new
//! emails from one address and reads the store's memory before and after.
//!
//! Each bench spawns the store it measures (the `sneakers` binary beside this one, or
//! `--server-bin`) on a temporary SQLite file or a reset and seeded `--database-url`, or
//! attaches to a running one with `--url`. Progress goes to stderr, the report to stdout (as
//! one JSON line with `--json`).

mod baseline;
mod bus_ceiling;
mod checkout;
mod error;
mod fanout;
mod harness;
mod http;
mod login_flood;
mod procs;
mod report;
mod shoppers;
mod ws;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::BenchError;

#[derive(Parser, Debug, PartialEq)]
#[command(
    name = "sneakers-bench",
    version,
    about = "Load tools for the Sneakers store"
)]
struct Cli {
    /// The store's binary (`sneakers serve`) to spawn [default: `sneakers` beside this program].
    #[arg(long, global = true, value_name = "PATH")]
    server_bin: Option<PathBuf>,
    /// Print the report as one JSON line on stdout (progress stays on stderr).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug, PartialEq)]
enum Command {
    /// N shopper sockets on one product: how long a stock change takes to reach the first and
    /// the last, on the bare floor server and then on the store.
    Fanout(fanout::FanoutArgs),
    /// N buyers race for K pairs through the HTTP checkout (plain forms, no JavaScript); the
    /// orders are then counted in the database.
    Checkout(checkout::CheckoutArgs),
    /// N shoppers on cart sockets (with churn) and one admin: how fast the dashboard follows.
    Shoppers(shoppers::ShoppersArgs),
    /// Logins with new emails from one address, rate limits on: the store's memory before,
    /// at the peak and once it settles.
    LoginFlood(login_flood::LoginFloodArgs),
    /// Sales per second rising: on one node, then on several, until a node's pages show the
    /// changes slower than the tolerance allows (the bus's ceiling, NOTIFY or Redis).
    BusCeiling(bus_ceiling::BusCeilingArgs),
    /// The bare axum broadcast server `fanout` measures as the floor.
    #[command(hide = true)]
    BaselineServer {
        /// Port on 127.0.0.1 (0: any free one; the URL is printed).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

/// What every bench gets from the command line besides its own arguments.
pub struct Options {
    pub server_bin: Option<PathBuf>,
    pub json: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = Options {
        server_bin: cli.server_bin,
        json: cli.json,
    };
    match run(&options, cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: &Options, command: Command) -> Result<(), BenchError> {
    match command {
        Command::Fanout(args) => fanout::run(options, args).await,
        Command::Checkout(args) => checkout::run(options, args).await,
        Command::Shoppers(args) => shoppers::run(options, args).await,
        Command::LoginFlood(args) => login_flood::run(options, args).await,
        Command::BusCeiling(args) => bus_ceiling::run(options, args).await,
        Command::BaselineServer { port } => baseline::serve(port).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("sneakers-bench").chain(args.iter().copied()))
    }

    #[test]
    fn parses_fanout_with_its_defaults() {
        let cli = parse(&["fanout", "--clients", "5000"]).expect("valid");
        let Command::Fanout(args) = cli.command else {
            panic!("not fanout: {:?}", cli.command);
        };
        assert_eq!(args.clients, 5000);
        assert_eq!(args.events, 21);
        assert_eq!(args.nodes, 1);
        assert!(!args.no_floor && !args.baseline);
        assert_eq!(cli.server_bin, None);
        assert!(!cli.json);
    }

    #[test]
    fn global_options_go_before_or_after_the_bench() {
        let before = parse(&[
            "--server-bin",
            "/x/sneakers",
            "--json",
            "fanout",
            "--clients",
            "1",
        ])
        .expect("valid");
        let after = parse(&[
            "fanout",
            "--clients",
            "1",
            "--server-bin",
            "/x/sneakers",
            "--json",
        ])
        .expect("valid");
        assert_eq!(before, after);
        assert_eq!(before.server_bin, Some(PathBuf::from("/x/sneakers")));
        assert!(before.json);
    }

    #[test]
    fn refuses_what_does_not_go_together() {
        // --nodes needs PostgreSQL; the floor alone needs no store.
        assert!(parse(&["fanout", "--clients", "10", "--nodes", "2"]).is_err());
        assert!(
            parse(&[
                "fanout",
                "--clients",
                "10",
                "--baseline",
                "--url",
                "http://127.0.0.1:4000"
            ])
            .is_err()
        );
        assert!(parse(&["fanout", "--clients", "10", "--baseline", "--no-floor"]).is_err());
        assert!(parse(&["fanout", "--clients", "0"]).is_err());
        assert!(parse(&["fanout"]).is_err());
        assert!(parse(&["fanout", "--clients", "10", "--pid", "42"]).is_err());
        assert!(
            parse(&[
                "fanout",
                "--clients",
                "2",
                "--nodes",
                "2",
                "--database-url",
                "postgres://x/y"
            ])
            .is_ok()
        );
        assert!(parse(&["checkout", "--buyers", "10"]).is_err());
        assert!(parse(&["checkout", "--buyers", "2000", "--stock", "100"]).is_ok());
        assert!(parse(&["shoppers", "--count", "100", "--churn", "10"]).is_ok());
        assert!(parse(&["login-flood"]).is_ok());
        assert!(
            parse(&[
                "bus-ceiling",
                "--database-url",
                "postgres://x/y",
                "--redis-url",
                "redis://127.0.0.1:6379/0",
                "--rates",
                "10,20"
            ])
            .is_ok()
        );
        // The Redis bus joins nodes of one PostgreSQL.
        assert!(parse(&["bus-ceiling", "--redis-url", "redis://127.0.0.1:6379/0"]).is_err());
        assert!(parse(&["login-flood", "--posts", "0"]).is_err());
        assert!(parse(&["login-flood", "--connections", "1000"]).is_err());
    }

    #[test]
    fn the_floor_server_is_hidden_but_runs() {
        let cli = parse(&["baseline-server"]).expect("valid");
        assert_eq!(cli.command, Command::BaselineServer { port: 0 });
        let help = {
            use clap::CommandFactory;
            Cli::command().render_help().to_string()
        };
        assert!(help.contains("fanout") && !help.contains("baseline-server"));
    }
}
