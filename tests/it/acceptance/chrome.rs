//! Headless Chromium through chromedriver: one chromedriver per test binary (started on first
//! use, stopped with the test process whatever way it ends), one fresh profile per browser.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const FIX: &str = "fix: `apt-get install chromium chromium-driver` (or run scripts/test, which \
                   installs what is missing)";

/// How long a page may take to show what a scenario waits for.
pub const DEADLINE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);

pub struct Driver {
    pub url: String,
    root: PathBuf,
}

static DRIVER: OnceLock<Result<Driver, String>> = OnceLock::new();
static PROFILES: AtomicUsize = AtomicUsize::new(0);

pub fn driver() -> &'static Driver {
    match DRIVER.get_or_init(start_driver) {
        Ok(driver) => driver,
        Err(reason) => {
            panic!("the acceptance tests need headless Chromium and chromedriver: {reason}\n{FIX}")
        }
    }
}

fn start_driver() -> Result<Driver, String> {
    for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        if !Path::new(path).exists() {
            return Err(format!("{path} is missing (Debian package {package})"));
        }
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let root = std::env::temp_dir().join(format!("sneakers-chrome-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let log = root.join("chromedriver.log");
    // chromedriver gets a process group of its own (Chromium's processes join it); a watchdog
    // stops the whole group and removes the profiles once this process is gone.
    let script = format!(
        "setsid {CHROMEDRIVER} --port={port} --log-path={log} >/dev/null 2>&1 &\n\
         driver=$!\n\
         while kill -0 {parent} 2>/dev/null; do sleep 0.5; done\n\
         kill -TERM -$driver 2>/dev/null\n\
         sleep 1\n\
         kill -KILL -$driver 2>/dev/null\n\
         rm -rf {root}\n",
        log = log.display(),
        parent = std::process::id(),
        root = root.display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start chromedriver: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!(
                "chromedriver did not listen on port {port} within 20 s:\n{log}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Driver {
        url: format!("http://127.0.0.1:{port}"),
        root,
    })
}

/// Records what the tests wait on and the page cannot tell: channel joins (the replies to
/// `phx_join`), sockets opened, events sent (counted by name, and the frames' text), socket closes, CSP violations, and every text
/// that appears in a live region once the page has loaded (what a screen reader says). Injected through DevTools before any page
/// script runs, so the page's CSP does not apply to it; it does not change what the shim does.
const PROBE: &str = r#"(function () {
  var t = window.__sneakersTest = { joined: {}, closes: [], csp: [], restored: 0, sockets: 0,
    sent: {}, frames: [], announced: [] };
  var loaded = false;
  document.addEventListener("DOMContentLoaded", function () { loaded = true; });
  function liveRegion(node) {
    var el = node && (node.nodeType === 1 ? node : node.parentElement);
    return el && el.closest('[aria-live]:not([aria-live="off"]), [role="status"], [role="alert"], [role="log"]');
  }
  new MutationObserver(function (mutations) {
    if (!loaded) return;
    mutations.forEach(function (m) {
      if (!liveRegion(m.target)) return;
      if (m.type === "characterData") { t.announced.push(m.target.textContent.trim()); return; }
      m.addedNodes.forEach(function (n) {
        var text = (n.textContent || "").trim();
        if (text) t.announced.push(text);
      });
    });
  }).observe(document, { childList: true, subtree: true, characterData: true });
  window.addEventListener("pageshow", function (e) { if (e.persisted) t.restored += 1; });
  document.addEventListener("securitypolicyviolation", function (e) {
    t.csp.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " +
      (e.sourceFile || location.href) + ":" + e.lineNumber);
  });
  var Native = window.WebSocket;
  function Probed(url, protocols) {
    var ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    t.sockets += 1;
    var send = ws.send;
    ws.send = function (data) {
      if (typeof data === "string" && t.frames.length < 2000) t.frames.push(data);
      try { var m = JSON.parse(data); t.sent[m[3]] = (t.sent[m[3]] || 0) + 1; } catch (e) { /* not a frame */ }
      return send.call(ws, data);
    };
    ws.addEventListener("message", function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (Array.isArray(m) && m[3] === "phx_reply" && m[0] !== null && m[0] === m[1] &&
          m[4] && m[4].status === "ok") {
        t.joined[m[2]] = (t.joined[m[2]] || 0) + 1;
      }
    });
    ws.addEventListener("close", function (ev) { t.closes.push(ev.code); });
    return ws;
  }
  Probed.prototype = Native.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (k) { Probed[k] = Native[k]; });
  window.WebSocket = Probed;
})();"#;

/// One Chromium (one profile): its windows share cookies, so they are one shopper's tabs.
pub struct Browser {
    pub client: Client,
    pub base: String,
    pub javascript: bool,
}

impl Browser {
    pub async fn launch(base: &str, javascript: bool) -> Browser {
        let driver = driver();
        let profile = driver.root.join(format!(
            "profile-{}",
            PROFILES.fetch_add(1, Ordering::SeqCst)
        ));
        let mut options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--no-first-run",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        });
        if !javascript {
            options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!("capabilities are an object"),
        };
        // fantoccini's rustls feature brings rustls' aws-lc-rs provider next to the store's
        // ring: with two, rustls cannot pick one by itself. The store names ring everywhere.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = ClientBuilder::rustls()
            .unwrap_or_else(|e| panic!("webdriver client: {e}"))
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("cannot start headless Chromium: {e}\n{FIX}"));
        let browser = Browser {
            client,
            base: base.trim_end_matches('/').to_string(),
            javascript,
        };
        browser.install_probe().await;
        browser
    }

    /// The probe goes into each window before its first page.
    async fn install_probe(&self) {
        if self.javascript {
            self.cdp(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": PROBE }),
            )
            .await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn goto(&self, path: &str) {
        self.goto_url(&self.url(path)).await;
    }

    pub async fn goto_url(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    }

    /// Opens a window (another tab of the same shopper), switches to it and loads `path`.
    pub async fn open_window(&self, path: &str) -> fantoccini::wd::WindowHandle {
        let window = self
            .client
            .new_window(false)
            .await
            .unwrap_or_else(|e| panic!("new window: {e}"))
            .handle;
        self.switch_to(&window).await;
        self.install_probe().await;
        self.goto(path).await;
        window
    }

    pub async fn window(&self) -> fantoccini::wd::WindowHandle {
        self.client
            .window()
            .await
            .unwrap_or_else(|e| panic!("window handle: {e}"))
    }

    pub async fn switch_to(&self, window: &fantoccini::wd::WindowHandle) {
        self.client
            .switch_to_window(window.clone())
            .await
            .unwrap_or_else(|e| panic!("switch to window: {e}"));
    }

    /// Runs a script (a function body: `return ...;`) in the current window.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until the JavaScript expression `condition` is true in the current window.
    pub async fn wait_for(&self, what: &str, condition: &str) {
        self.wait_for_within(what, condition, DEADLINE).await;
    }

    pub async fn wait_for_within(&self, what: &str, condition: &str, limit: Duration) {
        let script = format!("try {{ return !!({condition}); }} catch (e) {{ return false; }}");
        let started = Instant::now();
        let mut last_error = String::new();
        loop {
            match self.client.execute(&script, vec![]).await {
                Ok(Value::Bool(true)) => return,
                Ok(_) => {}
                // A page being replaced by another one answers with an error for a moment.
                Err(e) => last_error = e.to_string(),
            }
            if started.elapsed() > limit {
                let url = self.path().await;
                panic!(
                    "timed out after {limit:?} waiting for: {what}\n  on {url}\n  condition: \
                     {condition}\n  last error: {last_error}"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the page has joined `topic` (`times` joins counted since it loaded).
    pub async fn wait_joined(&self, topic: &str, times: u32) {
        let condition = format!(
            "window.__sneakersTest && (window.__sneakersTest.joined[{topic:?}] || 0) >= {times} \
             && window.Sneakers && window.Sneakers.socketState() === 'open'"
        );
        self.wait_for(&format!("the page joins {topic}"), &condition)
            .await;
    }

    /// Clicks the element `css` once it is there (pushed fragments may replace it meanwhile).
    pub async fn click(&self, css: &str) {
        let started = Instant::now();
        loop {
            let result = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.click().await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => return,
                Err(e) if started.elapsed() > DEADLINE => {
                    panic!("cannot click {css} on {}: {e}", self.path().await)
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Types `text` into the field `css`, replacing what it held (as a shopper would, so it
    /// works with JavaScript off too).
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no field {css}: {e}"));
        element
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Fills the checkout form: an address, and `card` with a valid expiry and code.
    pub async fn fill_checkout(&self, card: &str) {
        for (field, value) in crate::visitor::checkout_form(card) {
            self.type_into(&format!("#checkout-form [name=\"{field}\"]"), value)
                .await;
        }
    }

    /// The text of the first element matching `css` (empty when there is none).
    pub async fn text(&self, css: &str) -> String {
        let script =
            format!("var el = document.querySelector({css:?}); return el ? el.textContent : '';");
        match self.client.execute(&script, vec![]).await {
            Ok(Value::String(text)) => text,
            _ => {
                // Without JavaScript in the page, ask the driver.
                match self.client.find(Locator::Css(css)).await {
                    Ok(element) => element.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                }
            }
        }
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map(|all| all.len())
            .unwrap_or(0)
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.attr(name).await.ok().flatten()
    }

    /// Path and query of the current window.
    pub async fn path(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_string(),
            },
            Err(e) => format!("(unknown: {e})"),
        }
    }

    /// Waits for the current window to show `path` (the query is ignored unless given).
    pub async fn wait_for_path(&self, path: &str) {
        let started = Instant::now();
        loop {
            let now = self.path().await;
            let matches = if path.contains('?') {
                now == path
            } else {
                now.split('?').next() == Some(path)
            };
            if matches {
                return;
            }
            if started.elapsed() > DEADLINE {
                panic!("timed out waiting for {path}; the browser is on {now}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Marks the current document; [`Browser::assert_not_reloaded`] proves it is still the same.
    pub async fn mark_document(&self) {
        self.js("window.__sneakersSameDocument = true; return null;")
            .await;
    }

    pub async fn assert_not_reloaded(&self, what: &str) {
        let same = self
            .js("return window.__sneakersSameDocument === true;")
            .await;
        assert_eq!(same, Value::Bool(true), "{what}: the page was reloaded");
    }

    /// A DevTools command in the current window.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        cdp(&self.client, cmd, params)
            .await
            .unwrap_or_else(|e| panic!("DevTools {cmd}: {e}"))
    }
}

async fn session_url(client: &Client, rest: &str) -> Result<String, String> {
    let id = client
        .session_id()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the browser session is gone")?;
    Ok(format!("{}/session/{id}/{rest}", driver().url))
}

async fn driver_post(client: &Client, rest: &str, body: Value) -> Result<Value, String> {
    let url = session_url(client, rest).await?;
    let response = reqwest::Client::new()
        .post(&url)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("POST {url}: {status} {body}"));
    }
    Ok(body["value"].clone())
}

/// chromedriver's DevTools passthrough (`goog/cdp/execute`), for the current window.
pub async fn cdp(client: &Client, cmd: &str, params: Value) -> Result<Value, String> {
    driver_post(
        client,
        "goog/cdp/execute",
        json!({ "cmd": cmd, "params": params }),
    )
    .await
}

/// One entry of the browser's console log.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub level: String,
    pub message: String,
}

/// Everything the browser logged since the last call (chromedriver drains the log on read).
pub async fn browser_log(client: &Client) -> Result<Vec<LogEntry>, String> {
    let entries = driver_post(client, "se/log", json!({ "type": "browser" })).await?;
    Ok(entries
        .as_array()
        .map(|all| {
            all.iter()
                .map(|e| LogEntry {
                    level: e["level"].as_str().unwrap_or_default().to_string(),
                    message: e["message"].as_str().unwrap_or_default().to_string(),
                })
                .collect()
        })
        .unwrap_or_default())
}

/// A PNG of the whole page (beyond the viewport), falling back to the viewport.
pub async fn full_screenshot(client: &Client) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let shot = cdp(
        client,
        "Page.captureScreenshot",
        json!({ "format": "png", "captureBeyondViewport": true }),
    )
    .await
    .and_then(|v| {
        let data = v["data"].as_str().ok_or("no screenshot data")?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| e.to_string())
    });
    match shot {
        Ok(png) => Ok(png),
        Err(_) => client.screenshot().await.map_err(|e| e.to_string()),
    }
}

/// `target/<dir>` (or under `CARGO_TARGET_DIR`), created.
pub fn target_dir(dir: &str) -> PathBuf {
    let target = option_env!("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let path = target.join(dir);
    std::fs::create_dir_all(&path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    path
}
