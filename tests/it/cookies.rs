//! Cookies behind an HTTPS proxy: every one the store sets is `Secure` when the proxy says the
//! browser came over HTTPS (the session, the cart, a sign-out's clearing), and none is when it
//! came over plain HTTP (a browser would refuse them there).

use reqwest::header::{COOKIE, SET_COOKIE};
use sneakers::store::Db;

use crate::accounts::PASSWORD;
use crate::helpers::{Backend, TestApp};
use crate::mail::link_token;
use crate::visitor::meta;

/// A browser by hand: it sends `X-Forwarded-Proto` as a TLS-ending proxy would, keeps the
/// cookies it is given and records every `Set-Cookie` it saw.
struct Browser {
    http: reqwest::Client,
    base: String,
    proto: &'static str,
    cookies: Vec<(String, String)>,
    seen: Vec<String>,
    csrf: String,
}

impl Browser {
    fn new(base: &str, proto: &'static str) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
            base: base.to_string(),
            proto,
            cookies: Vec::new(),
            seen: Vec::new(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all(SET_COOKIE) {
            let set = set.to_str().unwrap_or_else(|e| panic!("{e}")).to_string();
            let pair = set.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_string(), value.to_string()));
            }
            self.seen.push(set);
        }
    }

    async fn get(&mut self, path: &str) -> u16 {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("x-forwarded-proto", self.proto)
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        self.keep(&response);
        let status = response.status().as_u16();
        let html = response.text().await.unwrap_or_default();
        if let Some(csrf) = meta(&html, "csrf-token") {
            self.csrf = csrf;
        }
        status
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> u16 {
        let mut form = fields.to_vec();
        form.push(("_csrf_token", &self.csrf));
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-forwarded-proto", self.proto)
            .header("referer", format!("{}/", self.base))
            .header(COOKIE, self.cookie_header())
            .form(&form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        self.keep(&response);
        response.status().as_u16()
    }

    /// Browses the store as a shopper who carts a pair, signs up (through the mailed link),
    /// signs out and in again.
    async fn shop(&mut self, db: &Db, item: &str, email: &str) {
        assert_eq!(self.get("/").await, 200);
        assert_eq!(self.post("/cart/items", &[("item_id", item)]).await, 303);
        let fields = [("email", email), ("password", PASSWORD)];
        assert_eq!(self.post("/account/signup", &fields).await, 303);
        let token = link_token(db, email).await;
        assert_eq!(
            self.get(&format!("/account/verify?token={token}")).await,
            200
        );
        assert_eq!(
            self.post("/account/verify", &[("token", &token)]).await,
            303
        );
        assert_eq!(self.get("/").await, 200);
        assert_eq!(self.post("/account/logout", &[]).await, 303);
        assert_eq!(self.get("/").await, 200);
        assert_eq!(self.post("/account/login", &fields).await, 303);
    }

    fn names_seen(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .seen
            .iter()
            .filter_map(|set| set.split('=').next())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

fn is_secure(set_cookie: &str) -> bool {
    set_cookie
        .split(';')
        .skip(1)
        .any(|attribute| attribute.trim().eq_ignore_ascii_case("secure"))
}

crate::on_both_backends!(every_cookie_set_over_https_is_secure);

async fn every_cookie_set_over_https_is_secure(backend: Backend) {
    let app = TestApp::start(backend).await;
    let item = app.product(true).await.items[0].id.to_string();

    let mut over_https = Browser::new(&app.url, "https");
    over_https.shop(&app.db, &item, "secure@example.com").await;
    assert_eq!(
        over_https.names_seen(),
        ["_sneakers_device", "_sneakers_session", "sneakers_cart"],
        "{:?}",
        over_https.seen
    );
    let plain: Vec<&String> = over_https.seen.iter().filter(|s| !is_secure(s)).collect();
    assert!(plain.is_empty(), "set without Secure over HTTPS: {plain:?}");

    let mut over_http = Browser::new(&app.url, "http");
    over_http.shop(&app.db, &item, "plain@example.com").await;
    assert_eq!(over_http.names_seen(), over_https.names_seen());
    let secure: Vec<&String> = over_http.seen.iter().filter(|s| is_secure(s)).collect();
    assert!(secure.is_empty(), "Secure over plain HTTP: {secure:?}");
}
