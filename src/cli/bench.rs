//! `sneakers bench ...`: the load tools are their own binary, `sneakers-bench` (the `bench/`
//! crate). This execs it from beside this program with the arguments as given, plus
//! `--server-bin <this program>` so the stores it spawns are this build.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Args;

use super::CliError;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Passed to `sneakers-bench` as given: `fanout --clients N`, `checkout --buyers N
    /// --stock K`, `shoppers --count N`, `--help`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<OsString>,
}

const NOT_BUILT: &str = "the load tools are their own binary: `cargo build --release -p sneakers-bench` \
                         (or `cargo run --release -p sneakers-bench -- fanout ...`)";

pub fn run(args: BenchArgs) -> Result<(), CliError> {
    let me = std::env::current_exe()
        .map_err(|e| CliError::Bench(format!("cannot find this program: {e}")))?;
    let bench = beside(&me)?;
    let mut command = std::process::Command::new(&bench);
    command.arg("--server-bin").arg(&me).args(args.args);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Only returns if the exec failed.
        let error = command.exec();
        Err(CliError::Bench(format!(
            "cannot run {}: {error}",
            bench.display()
        )))
    }
    #[cfg(not(unix))]
    {
        let status = command
            .status()
            .map_err(|e| CliError::Bench(format!("cannot run {}: {e}", bench.display())))?;
        std::process::exit(status.code().unwrap_or(1));
    }
}

/// `sneakers-bench` in the directory of `me`, if it is there.
fn beside(me: &Path) -> Result<PathBuf, CliError> {
    let bench = me.with_file_name(format!("sneakers-bench{}", std::env::consts::EXE_SUFFIX));
    if bench.is_file() {
        Ok(bench)
    } else {
        Err(CliError::Bench(format!(
            "{NOT_BUILT}; it is not in {}",
            me.parent().unwrap_or(Path::new(".")).display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn bench_args(argv: &[&str]) -> Vec<OsString> {
        match Cli::try_parse_from(argv).map(|cli| cli.command) {
            Ok(Some(Command::Bench(args))) => args.args,
            other => panic!("not a bench command: {other:?}"),
        }
    }

    #[test]
    fn passes_every_argument_through_as_given() {
        assert_eq!(
            bench_args(&["sneakers", "bench", "fanout", "--clients", "5", "--json"]),
            ["fanout", "--clients", "5", "--json"]
        );
        // Help is the load tools' own.
        assert_eq!(bench_args(&["sneakers", "bench", "--help"]), ["--help"]);
        assert!(bench_args(&["sneakers", "bench"]).is_empty());
    }

    #[test]
    fn a_missing_bench_binary_says_how_to_build_it() {
        let dir = std::env::temp_dir().join(format!("sneakers-delegate-{}", std::process::id()));
        let me = dir.join("sneakers");
        let message = beside(&me).map(|_| ()).map_err(|e| e.to_string());
        assert!(
            matches!(&message, Err(m) if m.contains("cargo build --release -p sneakers-bench")),
            "{message:?}"
        );
    }
}
