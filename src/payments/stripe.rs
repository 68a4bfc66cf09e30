//! Stripe's PaymentIntents over HTTP (form-encoded requests, JSON answers, `Idempotency-Key`
//! on every create, confirm, capture and refund so that a retry after a timeout never makes a
//! second payment). The browser tokenises the card with Stripe.js Elements; the store creates
//! the intent for the order's amount with that card and confirms it.

use std::time::Duration;

use serde_json::Value;

use super::{CURRENCY, Capture, NewPayment, PaymentError, Status};
use crate::config::StripeSettings;
use crate::domain::payment::Decline;

/// Stripe's own API; `STRIPE_API_BASE` points elsewhere (a Stripe-compatible server).
pub const STRIPE_API: &str = "https://api.stripe.com";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Stripe {
    http: reqwest::Client,
    base: String,
    secret_key: String,
    publishable_key: String,
    webhook_secret: String,
}

impl Stripe {
    pub fn new(settings: &StripeSettings) -> Stripe {
        Stripe {
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("a client with a timeout and the default TLS roots builds"),
            base: settings.api_base.trim_end_matches('/').to_string(),
            secret_key: settings.secret_key.clone(),
            publishable_key: settings.publishable_key.clone(),
            webhook_secret: settings.webhook_secret.clone(),
        }
    }

    /// The secret webhook deliveries are signed with.
    pub fn webhook_secret(&self) -> &str {
        &self.webhook_secret
    }

    pub fn publishable_key(&self) -> &str {
        &self.publishable_key
    }

    /// Stripe.js: Stripe's own, or the stand-in a Stripe-compatible server serves beside its
    /// API.
    pub fn script_url(&self) -> String {
        if self.base == STRIPE_API {
            "https://js.stripe.com/v3/".to_string()
        } else {
            format!("{}/js.stripe.com/v3/", self.base)
        }
    }

    /// The origin the payment page must allow scripts and requests to.
    pub fn origins(&self) -> Vec<String> {
        if self.base == STRIPE_API {
            vec!["https://js.stripe.com".into(), STRIPE_API.into()]
        } else {
            vec![self.base.clone()]
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> Result<Value, PaymentError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.secret_key);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if !form.is_empty() {
            request = request.form(form);
        }
        let response = request.send().await.map_err(PaymentError::Unreachable)?;
        let status = response.status().as_u16();
        let body: Value = response
            .json()
            .await
            .map_err(|e| PaymentError::Unreadable(e.to_string()))?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let error = &body["error"];
        let code = error["decline_code"]
            .as_str()
            .or(error["code"].as_str())
            .unwrap_or_default();
        // A card the bank refused: an answer about the payment, not a failure of the call.
        if status == 402 || error["type"] == "card_error" {
            return Err(PaymentError::Refused {
                status,
                message: format!("decline:{code}"),
            });
        }
        if status == 404 {
            return Err(PaymentError::NotFound(path.to_string()));
        }
        Err(PaymentError::Refused {
            status,
            message: error["message"]
                .as_str()
                .unwrap_or("no message")
                .to_string(),
        })
    }

    pub async fn create(
        &self,
        payment: &NewPayment<'_>,
        card: &str,
    ) -> Result<String, PaymentError> {
        let form = [
            ("amount", payment.amount_cents.to_string()),
            ("currency", CURRENCY.to_string()),
            ("payment_method", card.to_string()),
            ("payment_method_types[0]", "card".to_string()),
            (
                "capture_method",
                match payment.capture {
                    Capture::Automatic => "automatic",
                    Capture::Manual => "manual",
                }
                .to_string(),
            ),
            ("metadata[order_id]", payment.order_id.to_string()),
        ];
        let intent = self
            .call(
                reqwest::Method::POST,
                "/v1/payment_intents",
                &form,
                Some(payment.idempotency_key),
            )
            .await?;
        intent["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| PaymentError::Unreadable("a payment intent without an id".into()))
    }

    /// The card behind a payment method Stripe.js made: its fingerprint (the same for one card
    /// number whichever payment method or token carries it) and its last four digits. A
    /// PaymentMethod holds them under `card`; a Card object (`card_…`, which the Payment
    /// Methods API also answers for) holds them itself.
    pub async fn card(&self, method: &str) -> Result<CardFacts, PaymentError> {
        let path = format!("/v1/payment_methods/{}", path_part(method)?);
        let found = self.call(reqwest::Method::GET, &path, &[], None).await?;
        let card = if found["card"].is_object() {
            &found["card"]
        } else {
            &found
        };
        let fingerprint = card["fingerprint"]
            .as_str()
            .filter(|f| !f.is_empty())
            .ok_or_else(|| {
                PaymentError::Unreadable(format!("payment method {method} has no card fingerprint"))
            })?;
        Ok(CardFacts {
            fingerprint: fingerprint.to_string(),
            last4: card["last4"].as_str().map(str::to_string),
        })
    }

    pub async fn confirm(&self, reference: &str, key: &str) -> Result<Status, PaymentError> {
        let path = format!("/v1/payment_intents/{}/confirm", path_part(reference)?);
        match self
            .call(reqwest::Method::POST, &path, &[], Some(key))
            .await
        {
            Ok(intent) => intent_status(&intent),
            Err(PaymentError::Refused { message, .. }) if message.starts_with("decline:") => Ok(
                Status::Declined(Decline::from_code(message.trim_start_matches("decline:"))),
            ),
            Err(other) => Err(other),
        }
    }

    pub async fn lookup(&self, reference: &str) -> Result<Status, PaymentError> {
        let path = format!("/v1/payment_intents/{}", path_part(reference)?);
        let intent = self.call(reqwest::Method::GET, &path, &[], None).await?;
        intent_status(&intent)
    }

    pub async fn cancel(&self, reference: &str) -> Result<Status, PaymentError> {
        let path = format!("/v1/payment_intents/{}/cancel", path_part(reference)?);
        match self.call(reqwest::Method::POST, &path, &[], None).await {
            Ok(intent) => intent_status(&intent),
            // Not cancellable (it succeeded, or is already canceled): say where it is.
            Err(PaymentError::Refused { status: 400, .. }) => self.lookup(reference).await,
            Err(other) => Err(other),
        }
    }

    pub async fn capture(&self, reference: &str, key: &str) -> Result<Status, PaymentError> {
        let path = format!("/v1/payment_intents/{}/capture", path_part(reference)?);
        let intent = self
            .call(reqwest::Method::POST, &path, &[], Some(key))
            .await?;
        intent_status(&intent)
    }

    pub async fn refund(
        &self,
        reference: &str,
        amount_cents: i32,
        key: &str,
    ) -> Result<String, PaymentError> {
        let form = [
            ("payment_intent", reference.to_string()),
            ("amount", amount_cents.to_string()),
        ];
        let refund = self
            .call(reqwest::Method::POST, "/v1/refunds", &form, Some(key))
            .await?;
        refund["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| PaymentError::Unreadable("a refund without an id".into()))
    }
}

/// A reference goes into a path: Stripe's ids are letters, digits and underscores.
/// What Stripe says of a card, without its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFacts {
    pub fingerprint: String,
    pub last4: Option<String>,
}

fn path_part(reference: &str) -> Result<&str, PaymentError> {
    if !reference.is_empty()
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Ok(reference)
    } else {
        Err(PaymentError::NotFound(reference.to_string()))
    }
}

/// A PaymentIntent object as a [`Status`].
pub fn intent_status(intent: &Value) -> Result<Status, PaymentError> {
    let amount = intent["amount"]
        .as_i64()
        .and_then(|a| i32::try_from(a).ok())
        .ok_or_else(|| PaymentError::Unreadable("a payment intent without an amount".into()))?;
    Ok(match intent["status"].as_str().unwrap_or_default() {
        "succeeded" => Status::Succeeded {
            amount_cents: amount,
        },
        "requires_capture" => Status::RequiresCapture {
            amount_cents: amount,
        },
        "canceled" => Status::Canceled,
        "requires_payment_method" if intent["last_payment_error"].is_object() => {
            let error = &intent["last_payment_error"];
            let code = error["decline_code"]
                .as_str()
                .or(error["code"].as_str())
                .unwrap_or("card_declined");
            Status::Declined(Decline::from_code(code))
        }
        _ => Status::Pending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn intents_read_as_statuses() {
        let status = |v: Value| intent_status(&v).ok();
        assert_eq!(
            status(json!({"amount": 500, "status": "succeeded"})),
            Some(Status::Succeeded { amount_cents: 500 })
        );
        assert_eq!(
            status(json!({"amount": 500, "status": "requires_payment_method",
                          "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds"}})),
            Some(Status::Declined(Decline::InsufficientFunds))
        );
        assert_eq!(
            status(
                json!({"amount": 500, "status": "requires_payment_method", "last_payment_error": null})
            ),
            Some(Status::Pending)
        );
        assert_eq!(
            status(json!({"amount": 500, "status": "requires_capture"})),
            Some(Status::RequiresCapture { amount_cents: 500 })
        );
        assert_eq!(status(json!({"status": "succeeded"})), None);
        assert!(path_part("pi_123abc").is_ok());
        assert!(path_part("../v1/refunds").is_err());
    }
}
