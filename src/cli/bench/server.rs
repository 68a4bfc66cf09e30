//! The servers under test, when the bench spawns them: a store on a throwaway SQLite file or on a
//! given PostgreSQL database (one process per node), or the baseline server. Killed when stopped
//! or dropped (also on error and on Ctrl-C). Also: a process's CPU time and memory from /proc.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use rand::distr::Alphanumeric;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use super::bench_error;
use crate::cli::CliError;

/// Migrating and seeding a new SQLite file takes a moment, more so in a debug build.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of the server's stderr kept to explain a failure.
const KEPT_LINES: usize = 20;

pub struct Spawned {
    child: Child,
    pub pid: Option<u32>,
    pub url: String,
    stderr: Arc<Mutex<Log>>,
    stderr_task: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<TempDir>,
}

#[derive(Default)]
struct Log {
    lines: VecDeque<String>,
    total: usize,
}

#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

fn random_string(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

fn current_exe() -> Result<PathBuf, CliError> {
    std::env::current_exe().map_err(|e| {
        bench_error(format!(
            "server did not start: cannot find this program: {e}"
        ))
    })
}

/// What every store process of one bench shares: the admin login, and the secret key base (so a
/// socket token or session cookie one node made is valid on the others).
pub struct Shared {
    pub credentials: Credentials,
    pub secret_key_base: String,
}

impl Shared {
    pub fn random() -> Shared {
        Shared {
            credentials: Credentials {
                username: "admin".into(),
                password: random_string(24),
            },
            secret_key_base: random_string(64),
        }
    }
}

/// `sneakers seed --reset` against `database_url`: a known catalog before the store starts.
pub async fn seed(database_url: &str) -> Result<String, CliError> {
    let output = Command::new(current_exe()?)
        .args(["seed", "--reset"])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(START_TIMEOUT, output)
        .await
        .map_err(|_| {
            bench_error(format!(
                "`sneakers seed --reset` took over {} s",
                START_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| bench_error(format!("cannot run `sneakers seed --reset`: {e}")))?;
    let said = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_string();
    if !output.status.success() {
        return Err(bench_error(format!(
            "`sneakers seed --reset` failed ({}): {}",
            output.status,
            said(&output.stderr)
        )));
    }
    Ok(said(&output.stdout))
}

impl Spawned {
    /// `sneakers serve` on 127.0.0.1 and a free port: against `postgres` (a `postgres://` URL,
    /// already seeded) or, without it, a new SQLite file (seeded on start). `node` names the
    /// node (NODE_NAME).
    pub async fn store(
        postgres: Option<&str>,
        node: Option<&str>,
        shared: &Shared,
    ) -> Result<Spawned, CliError> {
        let (dir, database_url) = match postgres {
            Some(url) => (None, url.to_string()),
            None => {
                let dir = TempDir::new()?;
                let url = format!("sqlite://{}", dir.path.join("bench.db").display());
                (Some(dir), url)
            }
        };
        let mut command = Command::new(current_exe()?);
        command
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("PORT", "0")
            .env("HOST", "127.0.0.1")
            .env("ADMIN_USERNAME", &shared.credentials.username)
            .env("ADMIN_PASSWORD", &shared.credentials.password)
            .env("SECRET_KEY_BASE", &shared.secret_key_base)
            .env("RUST_LOG", "warn");
        if let Some(node) = node {
            command.env("NODE_NAME", node);
        }
        Spawned::start(command, "Sneakers is live at ", dir).await
    }

    /// `sneakers bench baseline-server`.
    pub async fn baseline() -> Result<Spawned, CliError> {
        let mut command = Command::new(current_exe()?);
        command
            .args(["bench", "baseline-server"])
            .env("RUST_LOG", "warn");
        Spawned::start(command, "listening on ", None).await
    }

    async fn start(
        mut command: Command,
        banner: &str,
        dir: Option<TempDir>,
    ) -> Result<Spawned, CliError> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| bench_error(format!("server did not start: {e}")))?;
        let pid = child.id();
        let stderr = Arc::new(Mutex::new(Log::default()));
        let stderr_task = child
            .stderr
            .take()
            .map(|pipe| tokio::spawn(keep_tail(pipe, Arc::clone(&stderr))));
        let Some(stdout) = child.stdout.take() else {
            return Err(bench_error("server did not start: no stdout"));
        };
        let mut lines = BufReader::new(stdout).lines();
        let banner_line = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix(banner) {
                    return Some(url.trim().to_string());
                }
            }
            None
        })
        .await;
        let mut spawned = Spawned {
            child,
            pid,
            url: String::new(),
            stderr,
            stderr_task,
            _dir: dir,
        };
        match banner_line {
            Ok(Some(url)) => {
                // Keep draining stdout so the server never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                spawned.url = url;
                Ok(spawned)
            }
            Ok(None) => {
                // stdout closed: the server exited; give its stderr a moment to arrive.
                let status = tokio::time::timeout(Duration::from_secs(2), spawned.child.wait())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .map_or_else(|| "it closed its output".to_string(), |s| s.to_string());
                if let Some(task) = spawned.stderr_task.take() {
                    let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
                }
                Err(bench_error(format!(
                    "server did not start: {status}{}",
                    spawned.stderr_tail()
                )))
            }
            Err(_) => {
                spawned.kill().await;
                Err(bench_error(format!(
                    "server did not start: no {banner:?} line within {} s{}",
                    START_TIMEOUT.as_secs(),
                    spawned.stderr_tail()
                )))
            }
        }
    }

    /// The last lines the server wrote to stderr, as a suffix for an error message.
    fn stderr_tail(&self) -> String {
        let Ok(log) = self.stderr.lock() else {
            return String::new();
        };
        if log.lines.is_empty() {
            return String::new();
        }
        let lines: Vec<&str> = log.lines.iter().map(String::as_str).collect();
        format!(": {}", lines.join(" | "))
    }

    /// How many lines the server wrote to stderr (warnings and errors, with RUST_LOG=warn),
    /// and the last few.
    pub fn warnings(&self) -> (usize, Vec<String>) {
        match self.stderr.lock() {
            Ok(log) => (log.total, log.lines.iter().cloned().collect()),
            Err(_) => (0, Vec::new()),
        }
    }

    /// How the server ended, if it already has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }

    /// Stops the server (it holds nothing worth a graceful stop: the store is a temp file).
    pub async fn stop(mut self) {
        self.kill().await;
    }
}

async fn keep_tail(pipe: impl AsyncRead + Unpin, log: Arc<Mutex<Log>>) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Ok(mut log) = log.lock() {
            log.total += 1;
            if log.lines.len() == KEPT_LINES {
                log.lines.pop_front();
            }
            log.lines.push_back(line);
        }
    }
}

/// A directory under the system temp dir, removed on drop.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Result<TempDir, CliError> {
        let path = std::env::temp_dir().join(format!(
            "sneakers-bench-{}-{}",
            std::process::id(),
            random_string(8)
        ));
        std::fs::create_dir_all(&path).map_err(|e| {
            bench_error(format!(
                "server did not start: cannot create {}: {e}",
                path.display()
            ))
        })?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A process's CPU time and memory over one stretch of a bench.
pub struct Usage {
    pid: Option<u32>,
    cpu: Option<Duration>,
    at: tokio::time::Instant,
}

/// What [`Usage`] measured.
pub struct UsageReport {
    /// CPU time used (all threads, user + system).
    pub cpu: Option<Duration>,
    pub wall: Duration,
    /// Resident memory at the end.
    pub rss: Option<u64>,
}

impl Usage {
    pub fn start(pid: Option<u32>) -> Usage {
        Usage {
            pid,
            cpu: pid.and_then(cpu_time),
            at: tokio::time::Instant::now(),
        }
    }

    pub fn finish(&self) -> UsageReport {
        let after = self.pid.and_then(cpu_time);
        UsageReport {
            cpu: self.cpu.zip(after).map(|(b, a)| a.saturating_sub(b)),
            wall: self.at.elapsed(),
            rss: self.pid.and_then(rss_bytes),
        }
    }
}

impl UsageReport {
    /// CPU time over wall time, 100 being one core busy.
    pub fn cpu_percent(&self) -> Option<f64> {
        let wall = self.wall.as_secs_f64();
        self.cpu
            .filter(|_| wall > 0.0)
            .map(|cpu| cpu.as_secs_f64() * 100.0 / wall)
    }

    /// `CPU 1.20 s in 2.00 s (60% of a core), RSS 45.6 MiB`.
    pub fn line(&self) -> String {
        let cpu = match (self.cpu, self.cpu_percent()) {
            (Some(cpu), Some(percent)) => format!(
                "CPU {} in {} ({percent:.0}% of a core)",
                super::report::secs(cpu),
                super::report::secs(self.wall)
            ),
            _ => "CPU unknown".to_string(),
        };
        format!("{cpu}, {}", self.rss_text())
    }

    /// `RSS 45.6 MiB, CPU 60%`, for a summary line.
    pub fn short(&self) -> String {
        let cpu = self
            .cpu_percent()
            .map_or_else(|| "CPU unknown".to_string(), |p| format!("CPU {p:.0}%"));
        format!("{}, {cpu}", self.rss_text())
    }

    fn rss_text(&self) -> String {
        self.rss.map_or_else(
            || "RSS unknown (pass --pid with --url)".to_string(),
            |rss| format!("RSS {}", super::report::bytes(rss as f64)),
        )
    }
}

/// Resident memory of a process in bytes, from `/proc/<pid>/status` (Linux).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

pub fn own_rss_bytes() -> Option<u64> {
    rss_bytes(std::process::id())
}

/// CPU time (user + system, all threads) a process has used, from `/proc/<pid>/stat` (Linux).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_time(&stat)
}

pub fn own_cpu_time() -> Option<Duration> {
    cpu_time(std::process::id())
}

/// Fields 14 and 15 (utime, stime) in clock ticks, counted after the `(comm)` field, which may
/// hold spaces. Linux reports them in USER_HZ, 100 per second on every architecture.
fn parse_cpu_time(stat: &str) -> Option<Duration> {
    const USER_HZ: u64 = 100;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\tsneakers\nVmPeak:\t  200 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(12345 * 1024));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
        assert!(own_rss_bytes().is_some_and(|b| b > 0));
    }

    #[test]
    fn reads_cpu_time() {
        let stat = "4242 (sneakers (x)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 25 0 0 20 0 7 0";
        assert_eq!(parse_cpu_time(stat), Some(Duration::from_millis(1750)));
        assert_eq!(parse_cpu_time("garbage"), None);
        assert!(own_cpu_time().is_some());
    }
}
