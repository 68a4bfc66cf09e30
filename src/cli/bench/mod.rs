//! `sneakers bench ...`: load generators. `fanout` opens many shopper sockets on one product and
//! times how long a stock change takes to reach all of them; `baseline-server` (hidden) is the
//! bare WebSocket server `fanout --baseline` measures as the reference.

mod baseline;
mod client;
mod fanout;
mod report;
mod server;

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
    /// A bare axum WebSocket fan-out server: the reference `fanout --baseline` measures.
    #[command(hide = true)]
    BaselineServer,
}

pub async fn run(args: BenchArgs) -> Result<(), CliError> {
    match args.command {
        BenchCommand::Fanout(args) => fanout::run(args).await,
        BenchCommand::BaselineServer => baseline::serve().await,
    }
}

fn bench_error(message: impl Into<String>) -> CliError {
    CliError::Bench(message.into())
}
