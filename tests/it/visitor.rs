//! A shopper visiting without JavaScript: a cookie jar, pages, plain form posts.

use reqwest::header::LOCATION;
use sneakers::domain::ItemId;

use crate::helpers::TestApp;

pub struct Visitor {
    pub http: reqwest::Client,
    /// Its cookies, to read (what a thief would copy) or to give to another visitor.
    pub jar: std::sync::Arc<reqwest::cookie::Jar>,
    pub base: String,
    pub csrf: String,
    pub cart_id: String,
}

/// The `content` of `<meta name="NAME">`.
pub fn meta(html: &str, name: &str) -> Option<String> {
    let prefix = format!("<meta name=\"{name}\" content=\"");
    let rest = &html[html.find(&prefix)? + prefix.len()..];
    Some(rest[..rest.find('"')?].to_string())
}

impl TestApp {
    pub async fn visitor(&self) -> Visitor {
        Visitor::open(&self.url).await
    }
}

impl Visitor {
    /// A fresh visitor (empty cookie jar) that has loaded `/` of the store at `base`.
    pub async fn open(base: &str) -> Visitor {
        Visitor::open_from(base, std::net::IpAddr::from([127, 0, 0, 1])).await
    }

    /// A fresh visitor whose connections come from the loopback address `from`.
    pub async fn open_from(base: &str, from: std::net::IpAddr) -> Visitor {
        let mut visitor = Visitor::blank(base, from);
        visitor.visit("/").await;
        visitor
    }

    /// A visitor with an empty cookie jar that has loaded nothing yet.
    pub fn blank(base: &str, from: std::net::IpAddr) -> Visitor {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .local_address(from)
            .cookie_provider(std::sync::Arc::clone(&jar))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        Visitor {
            http,
            jar,
            base: base.to_string(),
            csrf: String::new(),
            cart_id: String::new(),
        }
    }

    /// The value of this visitor's cookie `name`, as its browser would send it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = self.base.parse().unwrap_or_else(|e| panic!("{e}"));
        let header = self.jar.cookies(&url)?;
        let header = header.to_str().ok()?.to_string();
        header
            .split("; ")
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_string))
    }

    /// Sets cookie `name` in this visitor's jar (a copied cookie, say).
    pub fn set_cookie(&self, name: &str, value: &str) {
        let url = self.base.parse().unwrap_or_else(|e| panic!("{e}"));
        self.jar
            .add_cookie_str(&format!("{name}={value}; Path=/"), &url);
    }

    /// GETs a page (status 200 expected) and keeps its tokens.
    pub async fn visit(&mut self, path: &str) -> String {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), 200, "GET {path}");
        let html = response.text().await.unwrap_or_default();
        if let Some(csrf) = meta(&html, "csrf-token") {
            self.csrf = csrf;
        }
        if let Some(cart_id) = meta(&html, "cart-id") {
            self.cart_id = cart_id;
        }
        html
    }

    /// POSTs a form with the page's CSRF token; returns `(status, Location)`.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("_csrf_token", &self.csrf));
        self.post_raw(path, &form).await
    }

    /// POSTs a form with the page's CSRF token; returns `(status, body)` (a page answered).
    pub async fn post_page(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("_csrf_token", &self.csrf));
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .form(&form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("referer", format!("{}/", self.base))
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (response.status().as_u16(), location)
    }

    pub async fn add(&self, item_id: ItemId) -> (u16, String) {
        self.post("/cart/items", &[("item_id", &item_id.to_string())])
            .await
    }

    /// Buys the cart; `None` if the store could not be reached (e.g. it was shutting down).
    pub async fn try_checkout(&self) -> Option<String> {
        let mut form = checkout_form(PAYS);
        form.push(("_csrf_token", self.csrf.as_str()));
        let response = self
            .http
            .post(format!("{}/checkout", self.base))
            .form(&form)
            .send()
            .await
            .ok()?;
        let location = response.headers().get(LOCATION)?.to_str().ok()?.to_string();
        Some(location)
    }

    /// Buys the cart with the test gateway's card that pays; returns where the store sent us.
    pub async fn checkout(&self) -> String {
        let (status, location) = self.pay_with(PAYS).await;
        assert_eq!(status, 303, "checkout answered {status}");
        location
    }

    /// Posts the checkout form (a valid address) with `card`; returns `(status, Location)`.
    pub async fn pay_with(&self, card: &str) -> (u16, String) {
        self.post("/checkout", &checkout_form(card)).await
    }
}

/// The test gateway's card that pays (Stripe's test card).
pub const PAYS: &str = "4242 4242 4242 4242";
/// The test gateway's card that is declined.
pub const DECLINED: &str = "4000 0000 0000 0002";

/// A checkout form with a valid address and `card` (expiry and code valid).
pub fn checkout_form(card: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("email", "ada@example.com"),
        ("name", "Ada Lovelace"),
        ("address_line1", "12 St James's Square"),
        ("address_line2", ""),
        ("city", "London"),
        ("postal_code", "SW1Y 4JH"),
        ("country", "GB"),
        ("card_number", card),
        ("card_exp", "12/40"),
        ("card_cvc", "123"),
    ]
}
