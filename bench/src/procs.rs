//! Processes: the store binary the bench spawns (found beside this one, or `--server-bin`), one
//! spawned server (a store on a throwaway SQLite file or a given PostgreSQL database, or the
//! bench's own floor server), stopped with SIGTERM then SIGKILL when done, on error or on
//! Ctrl-C; and a process's CPU time and memory from /proc, and the open-files limit.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use rand::distr::Alphanumeric;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::error::BenchError;
use crate::report::{bytes, note, secs};

/// Migrating and seeding a new SQLite file takes a moment, more so in a debug build.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// After SIGTERM, how long a server may take before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Lines of the server's stderr kept to explain a failure.
const KEPT_LINES: usize = 20;
/// Open files the bench needs besides its sockets (HTTP clients, stdio, the runtime).
const FD_RESERVE: u64 = 64;

/// The store's binary: `--server-bin`, else `sneakers` beside this program (cargo puts both in
/// the same target directory).
pub fn server_binary(explicit: Option<&Path>) -> Result<PathBuf, BenchError> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => own_binary()?.with_file_name(format!("sneakers{}", std::env::consts::EXE_SUFFIX)),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(BenchError::NoServerBinary { path })
    }
}

fn own_binary() -> Result<PathBuf, BenchError> {
    std::env::current_exe().map_err(|e| BenchError::Spawn {
        what: "the server".into(),
        reason: format!("cannot find this program: {e}"),
    })
}

/// Raises this process's open-files limit to the hard limit (servers it spawns inherit it) and
/// checks that `sockets` more fit.
pub fn ensure_open_files(sockets: u64, what: &str) -> Result<u64, BenchError> {
    let error = |e: std::io::Error| BenchError::OpenFiles(format!("cannot read the limit: {e}"));
    let (before, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).map_err(error)?;
    let soft = rlimit::increase_nofile_limit(hard).map_err(error)?;
    if soft != before {
        note(format!(
            "open files: soft limit {before} -> {soft} (hard {hard})"
        ));
    }
    let needed = sockets + FD_RESERVE;
    if needed > soft {
        return Err(BenchError::OpenFiles(format!(
            "{what} need about {needed} open files; this process may hold {soft}"
        )));
    }
    Ok(soft)
}

fn random_string(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// The admin login of the spawned stores.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// What every store process of one bench shares: the admin login, and the secret key base (so a
/// socket token or session cookie one node made is valid on the others).
pub struct Shared {
    pub credentials: Credentials,
    pub secret_key_base: String,
    /// Variables of the bench's own for every store (a bench of the rate limits turns them on).
    pub env: Vec<(String, String)>,
}

impl Shared {
    pub fn random() -> Shared {
        Shared {
            credentials: Credentials {
                username: "admin".into(),
                password: random_string(24),
            },
            secret_key_base: random_string(64),
            env: Vec::new(),
        }
    }
}

/// `sneakers seed --reset` against `database_url`: a known catalog before the store starts.
pub async fn seed(server_bin: &Path, database_url: &str) -> Result<String, BenchError> {
    let failed = |reason: String| BenchError::Spawn {
        what: "`sneakers seed --reset`".into(),
        reason,
    };
    let output = Command::new(server_bin)
        .args(["seed", "--reset"])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(START_TIMEOUT, output)
        .await
        .map_err(|_| failed(format!("it took over {}", secs(START_TIMEOUT))))?
        .map_err(|e| failed(e.to_string()))?;
    let said = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_string();
    if !output.status.success() {
        return Err(failed(format!(
            "{}: {}",
            output.status,
            said(&output.stderr)
        )));
    }
    Ok(said(&output.stdout))
}

/// A server the bench started; stopped by [`Spawned::stop`], killed if dropped.
pub struct Spawned {
    child: Child,
    what: &'static str,
    pub pid: Option<u32>,
    /// `http://127.0.0.1:port`, from the server's banner.
    pub url: String,
    /// The SQLite file of a store on a throwaway database.
    pub sqlite: Option<PathBuf>,
    stderr: Arc<Mutex<Log>>,
    stderr_task: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<TempDir>,
}

#[derive(Default)]
struct Log {
    lines: VecDeque<String>,
    total: usize,
}

impl Spawned {
    /// `sneakers serve` on 127.0.0.1 and a free port: against `postgres` (a `postgres://` URL,
    /// already seeded) or, without it, a new SQLite file (seeded on start). `node` names the
    /// node (NODE_NAME). Rate limits are off (every client comes from 127.0.0.x) unless
    /// `shared.env` turns them on: its variables are set last.
    pub async fn store(
        server_bin: &Path,
        postgres: Option<&str>,
        node: Option<&str>,
        shared: &Shared,
    ) -> Result<Spawned, BenchError> {
        let (dir, sqlite, database_url) = match postgres {
            Some(url) => (None, None, url.to_string()),
            None => {
                let dir = TempDir::new()?;
                let file = dir.path.join("bench.db");
                let url = format!("sqlite://{}", file.display());
                (Some(dir), Some(file), url)
            }
        };
        let mut command = Command::new(server_bin);
        command
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("PORT", "0")
            .env("HOST", "127.0.0.1")
            .env("ADMIN_USERNAME", &shared.credentials.username)
            .env("ADMIN_PASSWORD", &shared.credentials.password)
            .env("SECRET_KEY_BASE", &shared.secret_key_base)
            .env("RATE_LIMIT", "off")
            // Sockets are closed by the bench before the stop: no need to spread the rest.
            .env("SHUTDOWN_SPREAD_MS", "500")
            .env("RUST_LOG", "warn");
        if let Some(node) = node {
            command.env("NODE_NAME", node);
        }
        command.envs(shared.env.iter().map(|(k, v)| (k, v)));
        let mut spawned = Spawned::start(command, "the store", "Sneakers is live at ", dir).await?;
        spawned.sqlite = sqlite;
        Ok(spawned)
    }

    /// `sneakers-bench baseline-server`: this program's own floor server.
    pub async fn floor() -> Result<Spawned, BenchError> {
        let mut command = Command::new(own_binary()?);
        command.arg("baseline-server");
        Spawned::start(command, "the floor server", crate::baseline::BANNER, None).await
    }

    async fn start(
        mut command: Command,
        what: &'static str,
        banner: &str,
        dir: Option<TempDir>,
    ) -> Result<Spawned, BenchError> {
        let failed = |reason: String| BenchError::Spawn {
            what: what.into(),
            reason,
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| failed(e.to_string()))?;
        let pid = child.id();
        let stderr = Arc::new(Mutex::new(Log::default()));
        let stderr_task = child
            .stderr
            .take()
            .map(|pipe| tokio::spawn(keep_tail(pipe, Arc::clone(&stderr))));
        let Some(stdout) = child.stdout.take() else {
            return Err(failed("no stdout".into()));
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
            what,
            pid,
            url: String::new(),
            sqlite: None,
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
                Err(failed(format!("{status}{}", spawned.stderr_tail())))
            }
            Err(_) => {
                let tail = spawned.stderr_tail();
                spawned.stop().await;
                Err(failed(format!(
                    "no {banner:?} line within {}{tail}",
                    secs(START_TIMEOUT)
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

    /// SIGTERM (the store closes its sockets and leaves the cluster), then SIGKILL if it is
    /// still there after a few seconds.
    pub async fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        if let Some(pid) = self.pid.and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: kill(2) with our own child's pid; the child is not reaped yet (we hold it
            // and have not waited on it), so the pid cannot belong to another process.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            if tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
            note(format!(
                "{} did not stop within {} of SIGTERM; killing it",
                self.what,
                secs(STOP_TIMEOUT)
            ));
        }
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await;
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
    fn new() -> Result<TempDir, BenchError> {
        let path = std::env::temp_dir().join(format!(
            "sneakers-bench-{}-{}",
            std::process::id(),
            random_string(8)
        ));
        std::fs::create_dir_all(&path).map_err(|e| BenchError::Spawn {
            what: "the store".into(),
            reason: format!("cannot create {}: {e}", path.display()),
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
#[derive(Debug, Clone, Copy)]
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
                secs(cpu),
                secs(self.wall)
            ),
            _ => "CPU unknown".to_string(),
        };
        let rss = self.rss.map_or_else(
            || "RSS unknown (pass --pid with --url)".to_string(),
            |rss| format!("RSS {}", bytes(rss as f64)),
        );
        format!("{cpu}, {rss}")
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
    let after_comm = stat.get(stat.rfind(')')? + 1..)?;
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
        assert_eq!(parse_cpu_time("1 (x)"), None);
        assert!(own_cpu_time().is_some());
    }

    #[test]
    fn a_missing_server_binary_says_how_to_build_it() {
        let error =
            server_binary(Some(Path::new("/nonexistent/sneakers"))).expect_err("no such file");
        let message = error.to_string();
        assert!(message.contains("/nonexistent/sneakers"), "{message}");
        assert!(message.contains("cargo build --release"), "{message}");
        assert!(message.contains("--server-bin"), "{message}");
    }
}
