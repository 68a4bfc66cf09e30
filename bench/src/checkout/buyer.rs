//! One buyer of `checkout`: its own cookie jar and connection; it loads `/` (the CSRF token),
//! carts the pair with the plain form, then posts `/checkout` when told.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use tokio::time::Instant;

use crate::error::{BenchError, root_cause};
use crate::http::meta;
use crate::ws::Target;

/// How one checkout POST was answered.
#[derive(Debug, PartialEq)]
pub enum Answer {
    Order,
    SoldOut,
    /// `HTTP 500`, `303 to /checkout`, `timed out`, ...
    Error(String),
}

impl Answer {
    /// A checkout's answer from its status and `Location`.
    pub fn of(status: StatusCode, location: &str) -> Answer {
        match status {
            StatusCode::SEE_OTHER if location.starts_with("/checkout/complete?order=") => {
                Answer::Order
            }
            StatusCode::SEE_OTHER if location.starts_with("/checkout?sold_out=") => Answer::SoldOut,
            StatusCode::SEE_OTHER => Answer::Error(format!("303 to {location}")),
            status => Answer::Error(format!("HTTP {}", status.as_u16())),
        }
    }
}

/// One buyer's race.
pub struct Outcome {
    pub answer: Answer,
    /// From sending the POST to its answer.
    pub latency: Duration,
    pub at: Instant,
}

pub struct Buyer {
    http: reqwest::Client,
    base: Arc<str>,
    item_id: i32,
}

impl Buyer {
    pub fn new(
        id: u32,
        target: &Target,
        base: &Arc<str>,
        item_id: i32,
        timeout: Duration,
    ) -> Result<Buyer, BenchError> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .tcp_nodelay(true)
            .local_address(target.source(id))
            .build()
            .map_err(|e| BenchError::Http(format!("http client: {}", root_cause(&e))))?;
        Ok(Buyer {
            http,
            base: Arc::clone(base),
            item_id,
        })
    }

    /// `GET /` for the session and the CSRF token, then `POST /cart/items`; the token.
    pub async fn cart_the_pair(&self) -> Result<String, String> {
        let url = format!("{}/", self.base);
        let page = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("GET /: {}", root_cause(&e)))?;
        if !page.status().is_success() {
            return Err(format!("GET /: HTTP {}", page.status()));
        }
        let page = page
            .text()
            .await
            .map_err(|e| format!("GET /: {}", root_cause(&e)))?;
        let csrf = meta(&page, "csrf-token").ok_or("GET /: no <meta name=\"csrf-token\">")?;
        let url = format!("{}/cart/items", self.base);
        let form = [
            ("item_id", self.item_id.to_string()),
            ("_csrf_token", csrf.clone()),
        ];
        let answer = self
            .http
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("POST /cart/items: {}", root_cause(&e)))?;
        let location = location(&answer);
        match answer.status() {
            StatusCode::SEE_OTHER if !location.contains("cart_error") => Ok(csrf),
            StatusCode::SEE_OTHER => Err(format!("POST /cart/items: refused ({location})")),
            status => Err(format!("POST /cart/items: HTTP {status}")),
        }
    }

    pub async fn check_out(&self, csrf: &str) -> Outcome {
        let url = format!("{}/checkout", self.base);
        let started = Instant::now();
        let answer = self
            .http
            .post(&url)
            .form(&[
                ("_csrf_token", csrf),
                ("email", "buyer@example.com"),
                ("name", "Bench Buyer"),
                ("address_line1", "1 Load Street"),
                ("city", "Testville"),
                ("postal_code", "12345"),
                ("country", "US"),
                // The test gateway's card that pays (Stripe's test card).
                ("card_number", "4242424242424242"),
                ("card_exp", "12/40"),
                ("card_cvc", "123"),
            ])
            .send()
            .await;
        let at = Instant::now();
        let answer = match answer {
            Ok(response) => Answer::of(response.status(), &location(&response)),
            Err(e) if e.is_timeout() => Answer::Error("timed out".into()),
            Err(e) => Answer::Error(root_cause(&e)),
        };
        Outcome {
            answer,
            latency: at - started,
            at,
        }
    }
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_checkout_answer_from_the_redirect() {
        assert_eq!(
            Answer::of(StatusCode::SEE_OTHER, "/checkout/complete?order=12"),
            Answer::Order
        );
        assert_eq!(
            Answer::of(StatusCode::SEE_OTHER, "/checkout?sold_out=7"),
            Answer::SoldOut
        );
        assert_eq!(
            Answer::of(StatusCode::SEE_OTHER, "/checkout"),
            Answer::Error("303 to /checkout".into())
        );
        assert_eq!(
            Answer::of(StatusCode::INTERNAL_SERVER_ERROR, ""),
            Answer::Error("HTTP 500".into())
        );
    }
}
