//! A throwaway PostgreSQL for the tests: one server per test binary (initdb into a temp dir,
//! random port, TLS on with a CA of our own), one database per test. With `DATABASE_URL`
//! naming a PostgreSQL server, that server is used instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct PgServer {
    /// `postgres://user@host:port` (no database, no parameters).
    pub base: String,
    /// The CA that signed the server certificate (a local server only).
    pub ca_cert: Option<PathBuf>,
}

static EXTERNAL: OnceLock<Option<PgServer>> = OnceLock::new();
static LOCAL: OnceLock<Result<PgServer, String>> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// The server tests use: `DATABASE_URL`'s if it names one, else a local one of our own.
pub fn server() -> &'static PgServer {
    match EXTERNAL.get_or_init(external) {
        Some(server) => server,
        None => local_server(),
    }
}

/// A server of our own whatever `DATABASE_URL` says, for what needs its configuration (TLS
/// with our CA).
pub fn local_server() -> &'static PgServer {
    ready(LOCAL.get_or_init(start_local))
}

fn ready(server: &Result<PgServer, String>) -> &PgServer {
    match server {
        Ok(server) => server,
        Err(reason) => panic!(
            "PostgreSQL is needed for this test and could not be started: {reason}\n\
             fix: install the server binaries (`apt-get install postgresql`, or run scripts/test, \
             which installs them)"
        ),
    }
}

/// The migrated and seeded database every store test starts from, made once per test binary.
static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

/// A new, empty database on `server`; returns its URL (plain TCP unless `params` says
/// otherwise).
pub async fn fresh_database_on(server: &PgServer, params: &str) -> String {
    let name = create_database(server, None).await;
    format!("{}/{name}?{params}", server.base)
}

/// A new database holding the migrated, seeded store: a copy of a template made once per test
/// binary (`CREATE DATABASE ... TEMPLATE`), so no test migrates and seeds its own.
pub async fn seeded_database(params: &str) -> String {
    let server = server();
    let template = TEMPLATE
        .get_or_init(|| async {
            let name = create_database(server, None).await;
            let url = format!("{}/{name}?sslmode=disable", server.base);
            crate::helpers::migrate_and_seed(&url).await;
            // A template may have no open sessions while it is copied.
            admin_sql(
                server,
                &format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                ),
            )
            .await;
            name
        })
        .await;
    let name = create_database(server, Some(template)).await;
    format!("{}/{name}?{params}", server.base)
}

async fn create_database(server: &PgServer, template: Option<&str>) -> String {
    let name = format!(
        "sneakers_test_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::SeqCst)
    );
    let from = template.map_or(String::new(), |t| format!(" TEMPLATE {t}"));
    admin_sql(server, &format!("CREATE DATABASE {name}{from}")).await;
    name
}

/// Runs SQL on the server's `postgres` database.
async fn admin_sql(server: &PgServer, sql: &str) {
    let (client, connection) = tokio_postgres::connect(
        &format!("{}/postgres?sslmode=disable", server.base),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {}: {e}", server.base));
    let driver = tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(client);
    let _ = driver.await;
}

fn external() -> Option<PgServer> {
    let url = std::env::var("DATABASE_URL").ok()?;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return None;
    }
    let base = url.split('?').next().unwrap_or(&url);
    let base = match base.rsplit_once('/') {
        Some((server, _db)) if server.contains('@') || server.matches('/').count() > 2 => server,
        _ => base,
    };
    Some(PgServer {
        base: base.trim_end_matches('/').to_string(),
        ca_cert: None,
    })
}

fn start_local() -> Result<PgServer, String> {
    start_server().map(|(server, _)| server)
}

/// A PostgreSQL of one test's own, which it may restart (the shared one serves every test of
/// the binary). Stopped when the test binary ends, like the shared one.
pub struct Dedicated {
    pub server: PgServer,
    files: ServerFiles,
}

struct ServerFiles {
    bin: PathBuf,
    data: PathBuf,
}

impl Dedicated {
    pub fn start() -> Dedicated {
        let (server, files) = start_server().unwrap_or_else(|reason| {
            panic!("a dedicated PostgreSQL could not be started: {reason}")
        });
        Dedicated { server, files }
    }

    /// A new database on this server holding the migrated, seeded store.
    pub async fn seeded_database(&self) -> String {
        let name = create_database(&self.server, None).await;
        let url = format!("{}/{name}?sslmode=disable", self.server.base);
        crate::helpers::migrate_and_seed(&url).await;
        url
    }

    /// Restarts the server (fast shutdown: open connections are cut, as in a failover), and
    /// returns once it accepts connections again. Async, so the caller's other futures (a
    /// crowd of buyers) keep running into the outage instead of pausing until it is over.
    pub async fn restart(&self) {
        let as_root = is_root();
        // The restarted server is pg_ctl's child no more: its output goes to a file, so
        // nothing holds pg_ctl's pipes open.
        let log = self.files.data.with_file_name("postgres-restarted.log");
        let mut command = as_postgres(as_root, &self.files.bin.join("pg_ctl"));
        command
            .args(["restart", "-m", "fast", "-w", "-t", "60", "-D"])
            .arg(&self.files.data)
            .arg("-l")
            .arg(&log);
        let out = tokio::process::Command::from(command)
            .output()
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL restart: {e}"));
        assert!(
            out.status.success(),
            "PostgreSQL restart failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn start_server() -> Result<(PgServer, ServerFiles), String> {
    let bin = find_binaries()?;
    let root = std::env::temp_dir().join(format!(
        "sneakers-pg-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let data = root.join("data");
    std::fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let as_root = is_root();
    if as_root {
        run(Command::new("chown").args(["postgres:postgres"]).arg(&root))?;
    }
    run(as_postgres(as_root, &bin.join("initdb"))
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "-D",
        ])
        .arg(&data))?;

    let ca_cert = write_certificates(&root, &data)?;
    if as_root {
        run(Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&root))?;
    }
    let port = free_port()?;
    // The server must not outlive the test binary: a watchdog stops it (and removes its files)
    // when this process is gone, however it ended.
    let postgres = format!(
        "{} -D {} -p {port} -k {} -c listen_addresses=127.0.0.1 -c ssl=on -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 \
         -c shared_buffers=64MB",
        bin.join("postgres").display(),
        data.display(),
        root.display()
    );
    let postgres = if as_root {
        format!("runuser -u postgres -- {postgres}")
    } else {
        postgres
    };
    let script = format!(
        "{postgres} > {log} 2>&1 &\n\
         while kill -0 {parent} 2>/dev/null; do sleep 0.5; done\n\
         if [ -f {data}/postmaster.pid ]; then kill -INT $(head -1 {data}/postmaster.pid); fi\n\
         wait\n\
         n=0; while [ -f {data}/postmaster.pid ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done\n\
         rm -rf {root}\n",
        log = root.join("postgres.log").display(),
        parent = std::process::id(),
        data = data.display(),
        root = root.display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start postgres: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = bin.join("pg_isready");
    loop {
        let ok = Command::new(&ready)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "-q",
            ])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(root.join("postgres.log")).unwrap_or_default();
            return Err(format!(
                "postgres did not accept connections within 30 s:\n{log}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((
        PgServer {
            base: format!("postgres://postgres@127.0.0.1:{port}"),
            ca_cert: Some(ca_cert),
        },
        ServerFiles { bin, data },
    ))
}

fn find_binaries() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| {
            dirs.filter_map(|d| d.ok())
                .map(|d| d.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|bin| bin.join("initdb").exists() && bin.join("postgres").exists());
    versions.sort();
    if let Some(bin) = versions.pop() {
        return Ok(bin);
    }
    let from_path = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(PathBuf::from)
        .find(|dir| dir.join("initdb").exists() && dir.join("postgres").exists());
    from_path.ok_or_else(|| "no initdb/postgres under /usr/lib/postgresql/*/bin or on PATH".into())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn as_postgres(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

/// A CA of our own and a server certificate for 127.0.0.1/localhost signed by it.
fn write_certificates(root: &Path, data: &Path) -> Result<PathBuf, String> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let err = |e: rcgen::Error| e.to_string();
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).map_err(err)?;
    let key = KeyPair::generate().map_err(err)?;
    let params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .map_err(err)?;
    let cert = params
        .signed_by(&key, &Issuer::from_params(&ca_params, &ca_key))
        .map_err(err)?;
    let write = |path: PathBuf, text: String| {
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(data.join("server.crt"), cert.pem())?;
    write(data.join("server.key"), key.serialize_pem())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            data.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .map_err(|e| e.to_string())?;
    }
    let ca_path = root.join("ca.crt");
    write(ca_path.clone(), ca.pem())?;
    Ok(ca_path)
}
