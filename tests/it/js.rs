//! The official `phoenix` JavaScript client, run by Node (`tests/js/client.mjs`), for the
//! LongPoll tests. Needs `node` and `npm ci --prefix tests/js` (scripts/test runs it).

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::ws::WAIT;

pub struct PhoenixJs {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

impl PhoenixJs {
    /// Connects to `endpoint` (`http://host/socket`) with `token` and joins `topics`.
    pub fn start(endpoint: &str, token: &str, topics: &[(String, Value)]) -> PhoenixJs {
        PhoenixJs::start_with(endpoint, token, topics, None)
    }

    /// As [`PhoenixJs::start`], but WebSocket first with `longPollFallbackMs: fallback_ms`.
    pub fn start_with(
        endpoint: &str,
        token: &str,
        topics: &[(String, Value)],
        fallback_ms: Option<u64>,
    ) -> PhoenixJs {
        let dir = dir();
        assert!(
            dir.join("node_modules/phoenix").is_dir(),
            "the phoenix npm package is missing: run `npm ci --prefix tests/js` (scripts/test does)"
        );
        let topics = serde_json::to_string(topics).unwrap_or_else(|e| panic!("{e}"));
        let mut child = tokio::process::Command::new("node")
            .arg(dir.join("client.mjs"))
            .args([endpoint, token, &topics])
            .env(
                "PHX_FALLBACK",
                fallback_ms.map_or(String::new(), |ms| ms.to_string()),
            )
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node (install Node.js): {e}"));
        let stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        PhoenixJs {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// Lines until one satisfies `want`; returns it.
    pub async fn until(&mut self, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .unwrap_or_else(|_| {
                    panic!("the phoenix client said nothing fitting within {WAIT:?}: {seen:#?}")
                })
                .unwrap_or_else(|e| panic!("reading the phoenix client: {e}"))
                .unwrap_or_else(|| panic!("the phoenix client exited"));
            let value: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            if want(&value) {
                return value;
            }
            seen.push(line);
        }
    }

    /// Waits until every one of `topics` is joined (in whatever order the replies come).
    pub async fn until_joined(&mut self, topics: &[&str]) {
        let mut left: Vec<&str> = topics.to_vec();
        while !left.is_empty() {
            let line = self
                .until(|line| line["joined"].as_str().is_some_and(|t| left.contains(&t)))
                .await;
            left.retain(|t| line["joined"] != *t);
        }
    }

    /// Sends one command line (`{"push", "event", "payload"}`).
    pub async fn send(&mut self, command: Value) {
        let line = format!("{command}\n");
        self.stdin
            .write_all(line.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("writing to the phoenix client: {e}"));
        self.stdin
            .flush()
            .await
            .unwrap_or_else(|e| panic!("writing to the phoenix client: {e}"));
    }
}

impl Drop for PhoenixJs {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
