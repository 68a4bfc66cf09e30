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
        let dir = dir();
        assert!(
            dir.join("node_modules/phoenix").is_dir(),
            "the phoenix npm package is missing: run `npm ci --prefix tests/js` (scripts/test does)"
        );
        let topics = serde_json::to_string(topics).unwrap_or_else(|e| panic!("{e}"));
        let mut child = tokio::process::Command::new("node")
            .arg(dir.join("client.mjs"))
            .args([endpoint, token, &topics])
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
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .unwrap_or_else(|_| {
                    panic!("the phoenix client said nothing fitting within {WAIT:?}")
                })
                .unwrap_or_else(|e| panic!("reading the phoenix client: {e}"))
                .unwrap_or_else(|| panic!("the phoenix client exited"));
            let value: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            if want(&value) {
                return value;
            }
        }
    }

    /// Sends one command line (`{"push", "event", "payload"}`).
    pub fn send(&mut self, command: Value) {
        let line = format!("{command}\n");
        let stdin = &mut self.stdin;
        futures_util::FutureExt::now_or_never(stdin.write_all(line.as_bytes()))
            .unwrap_or_else(|| panic!("the phoenix client's stdin is full"))
            .unwrap_or_else(|e| panic!("writing to the phoenix client: {e}"));
    }
}

impl Drop for PhoenixJs {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
