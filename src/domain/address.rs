//! Where an order goes: the checkout form's email and shipping address, checked field by field
//! so the form can say what to fix next to each field.

use super::account::Email;

/// ISO 3166-1 alpha-2, the officially assigned codes.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ \
BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE \
DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR \
GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP \
KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT \
MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW \
PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG \
TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// Longest a line of an address may be (what labels print).
pub const MAX_FIELD: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    pub name: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
}

/// A form field to fix: its name in the form, and what to tell the shopper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: &'static str,
}

/// The checkout form's contact and address fields, as typed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShippingForm<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub address_line1: &'a str,
    pub address_line2: &'a str,
    pub city: &'a str,
    pub postal_code: &'a str,
    pub country: &'a str,
}

/// The email and address of an order, or every field to fix.
pub fn parse_shipping(form: &ShippingForm<'_>) -> Result<(Email, Address), Vec<FieldError>> {
    let mut errors = Vec::new();
    let email = Email::parse(form.email).map_err(|_| FieldError {
        field: "email",
        message: "Enter an email address like you@example.com: the receipt goes there.",
    });
    let mut line = |field: &'static str, text: &str, required: bool, what: &'static str| {
        let text = text.trim();
        if (required && text.is_empty())
            || text.chars().count() > MAX_FIELD
            || text.chars().any(char::is_control)
        {
            errors.push(FieldError {
                field,
                message: what,
            });
        }
        text.to_string()
    };
    let name = line("name", form.name, true, "Enter the name to ship to.");
    let line1 = line(
        "address_line1",
        form.address_line1,
        true,
        "Enter the street and number.",
    );
    let line2 = line(
        "address_line2",
        form.address_line2,
        false,
        "This line is too long.",
    );
    let city = line("city", form.city, true, "Enter the city.");
    let postal_code = line(
        "postal_code",
        form.postal_code,
        true,
        "Enter the postal code.",
    );
    let country = form.country.trim().to_ascii_uppercase();
    if country.len() != 2 || !COUNTRIES.split(' ').any(|c| c == country) {
        errors.push(FieldError {
            field: "country",
            message: "Choose a country (a two-letter code such as US or DE).",
        });
    }
    let email = match email {
        Ok(email) => Some(email),
        Err(error) => {
            errors.insert(0, error);
            None
        }
    };
    match email {
        Some(email) if errors.is_empty() => Ok((
            email,
            Address {
                name,
                line1,
                line2,
                city,
                postal_code,
                country,
            },
        )),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> ShippingForm<'static> {
        ShippingForm {
            email: " Ada@Example.com ",
            name: "Ada Lovelace",
            address_line1: "12 St James's Square",
            address_line2: "",
            city: "London",
            postal_code: "SW1Y 4JH",
            country: "gb",
        }
    }

    #[test]
    fn a_good_address_is_trimmed_and_its_country_upper_cased() {
        let (email, address) = parse_shipping(&form()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(email.as_str(), "ada@example.com");
        assert_eq!(address.country, "GB");
        assert_eq!(address.line2, "");
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = ShippingForm {
            email: "ada",
            name: " ",
            country: "XX",
            ..form()
        };
        let fields: Vec<&str> = parse_shipping(&bad)
            .err()
            .unwrap_or_default()
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["email", "name", "country"]);
        let long = "x".repeat(MAX_FIELD + 1);
        let bad = ShippingForm {
            address_line2: &long,
            city: "",
            ..form()
        };
        let fields: Vec<&str> = parse_shipping(&bad)
            .err()
            .unwrap_or_default()
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["address_line2", "city"]);
    }
}
