//! Mail as a test sees it: the outbox rows the store wrote (in its own database), following a
//! signup's link as the recipient would, and a real SMTP server (`aiosmtpd` from PyPI,
//! installed by `scripts/test` into `target/test-venv`) that keeps what it receives in a
//! Maildir.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sneakers::store::Db;
use sneakers::store::schema::mail_outbox;

use crate::visitor::Visitor;

/// One outbox row.
#[derive(Debug, Clone)]
pub struct Outboxed {
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attempts: i32,
    pub sent_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// Every mail the store wrote, oldest first.
pub async fn outbox(db: &Db) -> Vec<Outboxed> {
    let mut conn = db.get().await.unwrap_or_else(|e| panic!("{e}"));
    type Row = (String, String, String, i32, Option<i64>, Option<String>);
    let rows: Vec<Row> = sneakers::with_conn!(conn, |c| {
        mail_outbox::table
            .order(mail_outbox::id)
            .select((
                mail_outbox::recipient,
                mail_outbox::subject,
                mail_outbox::body,
                mail_outbox::attempts,
                mail_outbox::sent_ms,
                mail_outbox::last_error,
            ))
            .load(c)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    });
    rows.into_iter()
        .map(
            |(recipient, subject, body, attempts, sent_ms, last_error)| Outboxed {
                recipient,
                subject,
                body,
                attempts,
                sent_ms,
                last_error,
            },
        )
        .collect()
}

/// The mails written to `to`, oldest first.
pub async fn mails_to(db: &Db, to: &str) -> Vec<Outboxed> {
    outbox(db)
        .await
        .into_iter()
        .filter(|m| m.recipient == to)
        .collect()
}

/// The token of the link in a mail's body, if it has one.
pub fn token_in(body: &str) -> Option<String> {
    let start = body.find("/account/verify?token=")? + "/account/verify?token=".len();
    let token: String = body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (!token.is_empty()).then_some(token)
}

/// The token of the newest link mailed to `to`.
pub async fn link_token(db: &Db, to: &str) -> String {
    mails_to(db, to)
        .await
        .iter()
        .rev()
        .find_map(|m| token_in(&m.body))
        .unwrap_or_else(|| panic!("no link mailed to {to}"))
}

/// Opens the link's page and presses its button, as the recipient does; `(status,
/// Location)` of the confirmation.
pub async fn follow_link(visitor: &mut Visitor, token: &str) -> (u16, String) {
    let page = visitor
        .visit(&format!("/account/verify?token={token}"))
        .await;
    assert!(page.contains("id=\"confirm\""), "{page}");
    visitor.post("/account/verify", &[("token", token)]).await
}

/// A real SMTP server on its own port, keeping each message it accepts as a file.
pub struct SmtpServer {
    pub port: u16,
    maildir: tempfile::TempDir,
    child: Option<Child>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn aiosmtpd() -> PathBuf {
    let venv = std::env::var("SNEAKERS_TEST_VENV").map_or_else(
        |_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv"),
        PathBuf::from,
    );
    let bin = venv.join("bin/aiosmtpd");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/test (it installs tests/python/requirements.txt), or \
         python3 -m venv target/test-venv && target/test-venv/bin/pip install -r tests/python/requirements.txt",
        bin.display()
    );
    bin
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

impl SmtpServer {
    /// A server that is not running yet, on a port of its own (an outage, until `start`).
    pub fn down() -> SmtpServer {
        SmtpServer {
            port: free_port(),
            maildir: tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
            child: None,
        }
    }

    /// `SMTP_URL` for a store.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Starts it and waits until it greets.
    pub async fn start(&mut self) {
        let mut command = Command::new(aiosmtpd());
        command
            .args(["-n", "-l", &format!("127.0.0.1:{}", self.port)])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe; it asks the kernel to kill the server with us.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        self.child = Some(command.spawn().unwrap_or_else(|e| panic!("aiosmtpd: {e}")));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await {
                use tokio::io::AsyncReadExt;
                let mut greeting = [0u8; 3];
                if stream.read_exact(&mut greeting).await.is_ok() && &greeting == b"220" {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "aiosmtpd did not greet on port {}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every message received so far, its body decoded from quoted-printable (as a mail
    /// client shows it).
    pub fn messages(&self) -> Vec<String> {
        let dir = self.maildir.path().join("mail/new");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .map(|raw| decode_quoted_printable(&raw))
            .collect()
    }

    /// Waits (up to `within`) until `n` messages have arrived, and returns them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {n} messages after {within:?}",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// RFC 2045's quoted-printable, undone: soft line breaks joined, `=XX` turned back into bytes.
fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
