//! A throwaway Redis for the tests, from the local `redis-server` (random port, temp dir, no
//! persistence): one per test binary, each test on a database of its own (the store keeps
//! pub/sub apart by database number too), and dedicated ones for the tests that kill or
//! restart theirs. Every server stops when the test binary ends.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Databases the shared server has: one per test that uses it.
const DATABASES: usize = 4_096;

pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    /// TLS only (`rediss://`), with a self-signed certificate, as Heroku's Key-Value Store.
    tls: bool,
}

static SHARED: OnceLock<Result<RedisServer, String>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(1);

/// A database of its own on the shared server, as a `REDIS_URL`.
pub fn fresh_url() -> String {
    let server = match SHARED.get_or_init(|| RedisServer::start("shared")) {
        Ok(server) => server,
        Err(reason) => panic!(
            "Redis is needed for this test and could not be started: {reason}\n\
             fix: install it (`apt-get install redis-server`, or run scripts/test, which does)"
        ),
    };
    let db = NEXT_DB.fetch_add(1, Ordering::SeqCst);
    assert!(db < DATABASES, "more Redis tests than databases");
    format!("redis://127.0.0.1:{}/{db}", server.port)
}

fn binary() -> Result<PathBuf, String> {
    ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| "no redis-server in /usr/bin or /usr/local/bin".to_string())
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

impl RedisServer {
    /// Starts a server on a free port, with a watchdog that stops it when this process ends.
    pub fn start(name: &str) -> Result<RedisServer, String> {
        RedisServer::start_as(name, false)
    }

    fn start_as(name: &str, tls: bool) -> Result<RedisServer, String> {
        let dir = std::env::temp_dir().join(format!(
            "sneakers-redis-{}-{name}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let server = RedisServer {
            port: free_port()?,
            dir,
            tls,
        };
        if tls {
            server.write_certificate()?;
        }
        server.launch()?;
        Ok(server)
    }

    /// A dedicated server for one test, which it may kill and start again.
    pub fn dedicated() -> RedisServer {
        RedisServer::start("dedicated")
            .unwrap_or_else(|reason| panic!("a dedicated Redis could not be started: {reason}"))
    }

    /// A dedicated server that speaks TLS only, with a self-signed certificate.
    pub fn dedicated_tls() -> RedisServer {
        RedisServer::start_as("tls", true)
            .unwrap_or_else(|reason| panic!("a TLS Redis could not be started: {reason}"))
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/0", self.port)
    }

    fn write_certificate(&self) -> Result<(), String> {
        let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = rcgen::CertificateParams::new(vec!["redis.internal".to_string()])
            .and_then(|params| params.self_signed(&key))
            .map_err(|e| e.to_string())?;
        let write = |file: &str, text: String| {
            std::fs::write(self.dir.join(file), text).map_err(|e| format!("{file}: {e}"))
        };
        write("redis.crt", cert.pem())?;
        write("redis.key", key.serialize_pem())
    }

    /// Where it listens, as redis-server's arguments.
    fn listen_args(&self) -> String {
        if self.tls {
            format!(
                "--port 0 --tls-port {port} --tls-cert-file {dir}/redis.crt \
                 --tls-key-file {dir}/redis.key --tls-auth-clients no",
                port = self.port,
                dir = self.dir.display()
            )
        } else {
            format!("--port {}", self.port)
        }
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("redis.pid")
    }

    fn launch(&self) -> Result<(), String> {
        let bin = binary()?;
        let script = format!(
            "{bin} {listen} --bind 127.0.0.1 --save '' --appendonly no --databases {DATABASES} \
             --dir {dir} --pidfile {pid} --daemonize no --loglevel warning > {log} 2>&1 &\n\
             server=$!\n\
             while kill -0 {parent} 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 0.5; done\n\
             kill $server 2>/dev/null\n",
            bin = bin.display(),
            listen = self.listen_args(),
            dir = self.dir.display(),
            pid = self.pid_file().display(),
            log = self.dir.join("redis.log").display(),
            parent = std::process::id(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        self.until_up(Duration::from_secs(10))
    }

    fn until_up(&self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        while !self.answers() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                return Err(format!(
                    "redis-server did not answer within {limit:?}:\n{log}"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// kill -9: its data (none persisted) and every connection are gone.
    pub fn kill(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.pid_file()) {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.answers() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(self.pid_file());
    }

    /// Runs one command on it, as an operator would from `redis-cli`.
    pub async fn query<T: ::redis::FromRedisValue>(&self, command: &::redis::Cmd) -> T {
        let client = ::redis::Client::open(self.url().as_str())
            .unwrap_or_else(|e| panic!("Redis URL {}: {e}", self.url()));
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| panic!("cannot reach Redis: {e}"));
        command
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("Redis refused {command:?}: {e}"))
    }

    /// Starts it again on the same port, empty.
    pub fn revive(&self) {
        self.launch()
            .unwrap_or_else(|reason| panic!("Redis did not come back: {reason}"));
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl RedisServer {
    /// Whether it answers PING (a TLS server: whether it takes connections).
    fn answers(&self) -> bool {
        if self.tls {
            return TcpStream::connect(("127.0.0.1", self.port)).is_ok();
        }
        answers(self.port)
    }
}

/// Whether a server answers PING on `port`.
fn answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}
