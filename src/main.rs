use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = sneakers::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(sneakers::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", sneakers::error_chain::ErrorChain(&error));
            ExitCode::FAILURE
        }
    }
}
