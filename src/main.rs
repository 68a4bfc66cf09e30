use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

fn main() -> ExitCode {
    // Before any thread allocates: big blocks are mapped for themselves (see `heap`).
    sneakers::heap::configure();
    let cli = match sneakers::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // A bad setting (from the environment or a flag) is one line naming its variable;
        // help, version and usage mistakes are clap's own.
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::ValueValidation | ErrorKind::InvalidValue
            ) =>
        {
            eprintln!("error: {}", sneakers::config::settings_error(&error));
            return ExitCode::FAILURE;
        }
        Err(error) => error.exit(),
    };
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
