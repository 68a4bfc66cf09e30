//! The shim's reconnect timing on its own modules, in Node's test runner
//! (`tests/js/shim-timing.test.mjs`): capped exponential windows with full jitter, the restart
//! window after a 1012, and the reset after a healthy minute. No browser, no server: the
//! socket gets a fake WebSocket and a mock clock.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn reconnects_back_off_with_jitter_and_reset_after_a_healthy_minute() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("node")
        .arg("--test")
        .arg(root.join("tests/js/shim-timing.test.mjs"))
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run node (install Node.js: apt-get install nodejs): {e}")
        });
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the shim's timing tests failed:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        report.contains("# pass 2"),
        "both timing tests ran:\n{report}"
    );
}
