//! The `sneakers` binary as an operator uses it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp, level_on_page};

fn sneakers(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sneakers"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("PORT")
        .env("RUST_LOG", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run sneakers: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn migrate_and_seed_a_fresh_sqlite_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite://{}", dir.path().join("fresh.db").display());
    let env = [("DATABASE_URL", url.as_str())];

    let out = sneakers(&["migrate"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Every migration the tree has (others add theirs).
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .map(|dir| dir.count())
        .unwrap_or_default();
    assert!(
        text(&out.stdout).contains(&format!("{migrations} migration(s) applied")),
        "{}",
        text(&out.stdout)
    );
    let again = sneakers(&["migrate"], &env);
    assert!(text(&again.stdout).contains("0 migration(s) applied"));

    let seeded = sneakers(&["seed"], &env);
    assert!(seeded.status.success(), "{}", text(&seeded.stderr));
    assert!(
        text(&seeded.stdout).starts_with("Seeded 10 products"),
        "{}",
        text(&seeded.stdout)
    );
    let twice = sneakers(&["seed"], &env);
    assert!(
        text(&twice.stdout).contains("nothing seeded"),
        "{}",
        text(&twice.stdout)
    );
    let reset = sneakers(&["seed", "--reset"], &env);
    assert!(reset.status.success());
    assert!(
        text(&reset.stdout).starts_with("Seeded 10 products"),
        "{}",
        text(&reset.stdout)
    );
}

#[test]
fn bad_configuration_is_one_clear_line() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            &["migrate"],
            &[("DATABASE_URL", "mysql://localhost/shop")],
            "error: DATABASE_URL is invalid",
        ),
        (
            &["serve"],
            &[("DATABASE_URL", "postgres://localhost/shop")],
            "error: SECRET_KEY_BASE is required",
        ),
        (&["serve"], &[("PORT", "eighty")], "error: PORT is invalid"),
        // Durations are bounded: an absurd one would overflow the socket loop's deadlines.
        (
            &["serve"],
            &[("SOCKET_IDLE_TIMEOUT_MS", "18446744073709551615")],
            "error: SOCKET_IDLE_TIMEOUT_MS is invalid",
        ),
        (
            &[],
            &[("SHUTDOWN_SPREAD_MS", "0")],
            "error: SHUTDOWN_SPREAD_MS is invalid",
        ),
        (
            &["migrate"],
            &[(
                "DATABASE_URL",
                "postgres://nobody@127.0.0.1:1/shop?sslmode=disable",
            )],
            "error: cannot connect to the database",
        ),
    ];
    for (args, env, expected) in cases {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_sneakers"));
        command
            .current_dir(dir.path())
            .args(*args)
            .env_remove("DATABASE_URL")
            .env_remove("PORT");
        command
            .env_remove("SECRET_KEY_BASE")
            .env_remove("ADMIN_PASSWORD");
        for (k, v) in *env {
            command.env(k, v);
        }
        let out = command.output().unwrap_or_else(|e| panic!("{e}"));
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} {env:?} succeeded");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.starts_with(expected), "{args:?} {env:?}: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_commands_act_through_the_running_server() {
    let app = TestApp::start(Backend::Sqlite).await;
    let env = [
        ("ADMIN_USERNAME", ADMIN_USER),
        ("ADMIN_PASSWORD", ADMIN_PASSWORD),
    ];
    let url = app.url.clone();
    let run = move |args: Vec<String>| {
        let env = env;
        let url = url.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
                args.extend(["--url", url.as_str()]);
                sneakers(&args, &env)
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"))
        }
    };

    let coming = app.product(false).await;
    let out = run(vec!["release".into(), coming.sku.clone()]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("Released"),
        "{}",
        text(&out.stdout)
    );
    let (_, page) = app.get(&format!("/products/{}", coming.id)).await;
    assert!(
        level_on_page(&page, coming.items[0].id).is_some(),
        "the open store sees the release"
    );

    let item = app
        .product(true)
        .await
        .items
        .into_iter()
        .find(|i| i.available_count > 5)
        .unwrap_or_else(|| panic!("no stock"));
    let out = run(vec![
        "sell".into(),
        item.id.to_string(),
        "--count".into(),
        "2".into(),
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("{} left", item.available_count - 2)),
        "{}",
        text(&out.stdout)
    );
    let out = run(vec!["restock".into(), item.id.to_string(), "7".into()]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        app.item(item.id).await.available_count,
        item.available_count + 5
    );

    let before: i64 = app
        .inventory_json()
        .await
        .products
        .iter()
        .filter(|p| p.released)
        .flat_map(|p| &p.items)
        .map(|i| i64::from(i.available_count))
        .sum();
    let out = run(vec![
        "sell-random".into(),
        "--count".into(),
        "5".into(),
        "--rate".into(),
        "500".into(),
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("Sold 5 pair(s)"),
        "{}",
        text(&out.stdout)
    );
    let after: i64 = app
        .inventory_json()
        .await
        .products
        .iter()
        .filter(|p| p.released)
        .flat_map(|p| &p.items)
        .map(|i| i64::from(i.available_count))
        .sum();
    assert_eq!(before - after, 5);

    let refused = run(vec!["sell".into(), "999999".into()]).await;
    assert!(!refused.status.success());
    assert_eq!(text(&refused.stderr).trim(), "error: no item 999999");
}

#[test]
fn inventory_commands_say_when_no_server_is_reachable() {
    let out = sneakers(
        &["sell", "1", "--url", "http://127.0.0.1:1"],
        &[("ADMIN_PASSWORD", "x")],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: no Sneakers server is reachable at http://127.0.0.1:1"),
        "{stderr}"
    );
    let out = sneakers(&["sell-random"], &[]);
    assert!(
        !out.status.success(),
        "sell-random needs --until-gone or --count"
    );
}

/// What the README promises: one command serves a seeded store and prints the admin login.
#[test]
fn serve_on_first_run_seeds_and_prints_the_admin_login() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_sneakers"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("ADMIN_PASSWORD")
        .env_remove("SECRET_KEY_BASE")
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut lines = BufReader::new(stdout).lines();
    let live = lines.next().and_then(Result::ok).unwrap_or_default();
    let admin = lines.next().and_then(Result::ok).unwrap_or_default();
    let url = live
        .strip_prefix("Sneakers is live at ")
        .unwrap_or_else(|| panic!("first line: {live:?}"))
        .to_string();
    assert!(admin.contains("user: admin  password: "), "{admin}");
    assert!(
        dir.path().join("sneakers.db").exists() && dir.path().join("sneakers.db.secrets").exists()
    );
    let page = reqwest::blocking_get(&url);
    assert!(page.contains("Air Max 90"), "the seeded catalog is served");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        status.success(),
        "SIGTERM stops the server cleanly: {status:?}"
    );
}

mod reqwest {
    /// A plain blocking GET without pulling reqwest's blocking feature into the build.
    pub fn blocking_get(url: &str) -> String {
        let url = url.to_string();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            runtime.block_on(async {
                ::reqwest::get(url)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"))
                    .text()
                    .await
                    .unwrap_or_default()
            })
        })
        .join()
        .unwrap_or_default()
    }
}
