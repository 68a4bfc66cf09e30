//! Runs one scenario: at most two Chromiums at a time over the whole test binary; on failure the
//! screenshot and HTML of every browser the scenario opened are saved before the panic goes on;
//! on success the browsers' consoles must hold no errors.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fantoccini::Client;
use futures_util::FutureExt;
use tokio::sync::Semaphore;

use super::chrome::{Browser, browser_log, full_screenshot, target_dir};
use crate::helpers::TestApp;

/// Chromium is heavy on a 2-core machine: at most this many run at once, over all scenarios.
const MAX_BROWSERS: u32 = 2;
static BROWSERS: Semaphore = Semaphore::const_new(MAX_BROWSERS as usize);

#[derive(Clone)]
pub struct Ctx {
    inner: Arc<Inner>,
}

struct Inner {
    clients: Mutex<Vec<Client>>,
    /// Console errors this scenario provokes on purpose (substrings of the message).
    expected_errors: Mutex<Vec<String>>,
}

impl Ctx {
    /// A browser with JavaScript on, its console checked at the end of the scenario.
    pub async fn browser(&self, app: &TestApp) -> Browser {
        self.launch(app, true).await
    }

    pub async fn browser_without_javascript(&self, app: &TestApp) -> Browser {
        self.launch(app, false).await
    }

    async fn launch(&self, app: &TestApp, javascript: bool) -> Browser {
        self.launch_at(&app.url, javascript).await
    }

    /// A browser with JavaScript on that reaches the store at `base` (through a proxy).
    pub async fn browser_at(&self, base: &str) -> Browser {
        self.launch_at(base, true).await
    }

    async fn launch_at(&self, base: &str, javascript: bool) -> Browser {
        let browser = Browser::launch(base, javascript).await;
        self.inner
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(browser.client.clone());
        browser
    }

    /// Console errors containing `needle` are part of the scenario.
    pub fn expect_console_error(&self, needle: &str) {
        self.inner
            .expected_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(needle.to_string());
    }
}

/// Runs `body` with `browsers` Chromium permits held for its whole duration.
pub async fn run<F, Fut>(name: &str, browsers: u32, body: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    assert!(browsers <= MAX_BROWSERS, "{name} wants too many browsers");
    let _permits = BROWSERS
        .acquire_many(browsers)
        .await
        .unwrap_or_else(|e| panic!("browser permits: {e}"));
    let ctx = Ctx {
        inner: Arc::new(Inner {
            clients: Mutex::new(Vec::new()),
            expected_errors: Mutex::new(Vec::new()),
        }),
    };
    let started = Instant::now();
    let outcome = AssertUnwindSafe(body(ctx.clone())).catch_unwind().await;
    let clients: Vec<Client> = std::mem::take(
        &mut *ctx
            .inner
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    match outcome {
        Err(panic) => {
            save_artifacts(name, &clients).await;
            close_all(clients).await;
            std::panic::resume_unwind(panic);
        }
        Ok(()) => {
            let expected = ctx
                .inner
                .expected_errors
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let errors = console_errors(&clients, &expected).await;
            if !errors.is_empty() {
                save_artifacts(name, &clients).await;
                close_all(clients).await;
                panic!(
                    "{name}: the browser console has errors:\n  {}",
                    errors.join("\n  ")
                );
            }
            close_all(clients).await;
            eprintln!(
                "acceptance {name}: passed in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
}

/// SEVERE console entries (errors, CSP violations, failed loads) not expected by the scenario.
pub async fn console_errors(clients: &[Client], expected: &[String]) -> Vec<String> {
    let mut errors = Vec::new();
    for client in clients {
        match browser_log(client).await {
            Ok(entries) => errors.extend(
                entries
                    .into_iter()
                    .filter(|e| e.level == "SEVERE")
                    .filter(|e| !expected.iter().any(|n| e.message.contains(n.as_str())))
                    .map(|e| e.message),
            ),
            Err(e) => errors.push(format!("(cannot read the browser log: {e})")),
        }
    }
    errors
}

async fn save_artifacts(name: &str, clients: &[Client]) {
    let dir = target_dir("acceptance-failures");
    for (i, client) in clients.iter().enumerate() {
        let stem = if i == 0 {
            name.to_string()
        } else {
            format!("{name}-browser{}", i + 1)
        };
        let saved = tokio::time::timeout(Duration::from_secs(10), async {
            if let Ok(png) = full_screenshot(client).await {
                let _ = std::fs::write(dir.join(format!("{stem}.png")), png);
            }
            if let Ok(html) = client.source().await {
                let _ = std::fs::write(dir.join(format!("{stem}.html")), html);
            }
        })
        .await;
        match saved {
            Ok(()) => eprintln!(
                "acceptance {name}: saved {}/{stem}.{{png,html}}",
                dir.display()
            ),
            Err(_) => eprintln!("acceptance {name}: the browser did not answer for artifacts"),
        }
    }
}

async fn close_all(clients: Vec<Client>) {
    for client in clients {
        let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
    }
}
