//! Payment rules that need no provider: the card form of the built-in test gateway (what a
//! valid number, expiry and CVC are) and what its test cards do, which follow Stripe's test
//! cards so that a shopper (or a test) sees the same outcomes on either provider; and the
//! reasons a payment is declined, worded for the shopper.

use chrono::{Datelike, NaiveDate};

/// Why a provider refused a payment. The code is Stripe's `decline_code`/`code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decline {
    CardDeclined,
    InsufficientFunds,
    ExpiredCard,
    IncorrectCvc,
    /// Another reason the provider named (its code).
    Other(String),
}

impl Decline {
    pub fn from_code(code: &str) -> Decline {
        match code {
            "card_declined" | "generic_decline" => Decline::CardDeclined,
            "insufficient_funds" => Decline::InsufficientFunds,
            "expired_card" => Decline::ExpiredCard,
            "incorrect_cvc" => Decline::IncorrectCvc,
            other => Decline::Other(other.to_string()),
        }
    }

    pub fn code(&self) -> &str {
        match self {
            Decline::CardDeclined => "card_declined",
            Decline::InsufficientFunds => "insufficient_funds",
            Decline::ExpiredCard => "expired_card",
            Decline::IncorrectCvc => "incorrect_cvc",
            Decline::Other(code) => code,
        }
    }

    /// What the shopper reads above the card form.
    pub fn message(&self) -> &'static str {
        match self {
            Decline::CardDeclined | Decline::Other(_) => {
                "Your card was declined. Nothing was charged: try another card."
            }
            Decline::InsufficientFunds => {
                "Your card has insufficient funds. Nothing was charged: try another card."
            }
            Decline::ExpiredCard => "Your card has expired. Nothing was charged.",
            Decline::IncorrectCvc => "Your card's security code is incorrect. Nothing was charged.",
        }
    }
}

/// A card as the test gateway's form gives it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCard {
    /// Digits only.
    number: String,
}

/// A card field the shopper must fix (the field's form name and the text shown beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardFieldError {
    pub field: &'static str,
    pub message: &'static str,
}

impl TestCard {
    /// Checks the form's `card_number`, `card_exp` (`MM/YY`) and `card_cvc` as a card network
    /// would before any charge: Luhn, not expired (on `today`), 3 or 4 digits.
    pub fn parse(
        number: &str,
        exp: &str,
        cvc: &str,
        today: NaiveDate,
    ) -> Result<TestCard, Vec<CardFieldError>> {
        let mut errors = Vec::new();
        let digits: String = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if !(12..=19).contains(&digits.len())
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || !luhn(&digits)
        {
            errors.push(CardFieldError {
                field: "card_number",
                message: "Enter the card's number (try 4242 4242 4242 4242).",
            });
        }
        match parse_expiry(exp) {
            None => errors.push(CardFieldError {
                field: "card_exp",
                message: "Enter the expiry as MM/YY.",
            }),
            Some((year, month)) if (year, month) < (today.year(), today.month()) => {
                errors.push(CardFieldError {
                    field: "card_exp",
                    message: "This card has expired.",
                })
            }
            Some(_) => {}
        }
        let cvc = cvc.trim();
        if !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(CardFieldError {
                field: "card_cvc",
                message: "Enter the 3 or 4 digits on the back of the card.",
            });
        }
        if errors.is_empty() {
            Ok(TestCard { number: digits })
        } else {
            Err(errors)
        }
    }

    pub fn last4(&self) -> &str {
        &self.number[self.number.len() - 4..]
    }

    /// The same for every use of one card number, and not the number: hex SHA-256 of it, as a
    /// provider's card fingerprint (draws treat entries paying with one card as one person's).
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        Sha256::digest(format!("sneakers test card|{}", self.number))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// What charging this card does, as Stripe's test cards: `4242…` (and the other Stripe
    /// test numbers that pay) pays; `4000 0000 0000 0002` is declined; `…9995` has
    /// insufficient funds; `…0069` is expired; `…0127` has a wrong CVC; `…0341` attaches but
    /// its charge fails. Any other number is not a test card and is declined, as Stripe's test
    /// mode declines real cards.
    pub fn outcome(&self) -> Result<(), Decline> {
        match self.number.as_str() {
            "4242424242424242" | "4000056655665556" | "5555555555554444" | "2223003122003222"
            | "5200828282828210" | "378282246310005" | "6011111111111117" => Ok(()),
            "4000000000009995" => Err(Decline::InsufficientFunds),
            "4000000000000069" => Err(Decline::ExpiredCard),
            "4000000000000127" => Err(Decline::IncorrectCvc),
            _ => Err(Decline::CardDeclined),
        }
    }
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `MM/YY` (also `MM / YY`, `MM/YYYY`) as (year, month).
fn parse_expiry(text: &str) -> Option<(i32, u32)> {
    let (month, year) = text.split_once('/')?;
    let month: u32 = month.trim().parse().ok().filter(|m| (1..=12).contains(m))?;
    let year = year.trim();
    let year: i32 = match year.len() {
        2 => 2000 + year.parse::<i32>().ok()?,
        4 => year.parse().ok()?,
        _ => return None,
    };
    Some((year, month))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 7).expect("a real date")
    }

    fn card(number: &str) -> Result<TestCard, Vec<CardFieldError>> {
        TestCard::parse(number, "12/30", "123", today())
    }

    #[test]
    fn stripes_test_cards_do_what_stripe_says() {
        let outcome = |n: &str| card(n).map(|c| c.outcome());
        assert_eq!(outcome("4242 4242 4242 4242"), Ok(Ok(())));
        assert_eq!(
            outcome("4000 0000 0000 0002"),
            Ok(Err(Decline::CardDeclined))
        );
        assert_eq!(
            outcome("4000-0000-0000-9995"),
            Ok(Err(Decline::InsufficientFunds))
        );
        assert_eq!(outcome("4000000000000341"), Ok(Err(Decline::CardDeclined)));
        assert_eq!(
            card("4242424242424242").map(|c| c.last4().to_string()),
            Ok("4242".into())
        );
    }

    #[test]
    fn the_form_names_each_field_to_fix() {
        let fields = |r: Result<TestCard, Vec<CardFieldError>>| {
            r.err()
                .unwrap_or_default()
                .iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(fields(card("4242 4242 4242 4241")), ["card_number"]);
        assert_eq!(fields(card("42")), ["card_number"]);
        assert_eq!(
            fields(TestCard::parse("4242424242424242", "11/26", "12", today())),
            ["card_exp", "card_cvc"]
        );
        assert_eq!(
            fields(TestCard::parse("", "13/30", "abc", today())),
            ["card_number", "card_exp", "card_cvc"]
        );
        // This month still counts.
        assert!(TestCard::parse("4242424242424242", "12/26", "1234", today()).is_ok());
        assert!(TestCard::parse("4242424242424242", "12/2031", "123", today()).is_ok());
    }

    #[test]
    fn declines_read_back_from_their_codes() {
        for decline in [
            Decline::CardDeclined,
            Decline::InsufficientFunds,
            Decline::ExpiredCard,
            Decline::IncorrectCvc,
        ] {
            assert_eq!(Decline::from_code(decline.code()), decline);
            assert!(decline.message().contains("Nothing was charged"));
        }
        assert_eq!(Decline::from_code("generic_decline"), Decline::CardDeclined);
        assert_eq!(Decline::from_code("lost_card").code(), "lost_card");
    }
}
