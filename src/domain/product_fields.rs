//! What an admin types for a product, parsed into what the store keeps: a price in cents, a
//! size label, a SKU, a starting stock, a release; and the states a product goes through.
//! Each parser says in the admin's words what is wrong, for the form to show beside the field.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

use super::Product;

/// What is wrong with one field, worded for the form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("Enter a value.")]
    Empty,
    #[error("Use at most {0} characters.")]
    TooLong(usize),
    #[error("Enter a price such as 180, 180.00 or $180.")]
    NotAPrice,
    #[error("A price must be more than $0.")]
    NotPositive,
    #[error("A price must be at most $100,000.")]
    PriceTooHigh,
    #[error("Use letters, digits, dots, dashes or underscores (no spaces).")]
    BadSku,
    #[error("Use letters, digits, spaces, dots, dashes or slashes, such as 9.5, US 10 or EU 44.")]
    BadSize,
    #[error("Enter a whole number of pairs from 0 to {MAX_STARTING_STOCK}.")]
    BadStock,
    #[error("Enter a date and time such as 2026-12-24 18:00.")]
    BadTime,
    #[error("Choose a time zone offset such as +01:00.")]
    BadOffset,
    #[error("That time has passed: choose a moment in the future, or release now.")]
    InThePast,
    #[error("Choose draft, coming soon, a time, or now.")]
    BadRelease,
}

/// The most a price may be, in cents.
pub const MAX_PRICE_CENTS: i64 = 10_000_000;
/// The most pairs a size may start with (restocks add more).
pub const MAX_STARTING_STOCK: i32 = 1_000_000;
pub const MAX_SKU: usize = 40;
pub const MAX_SIZE_LABEL: usize = 12;
pub const MAX_NAME: usize = 80;
pub const MAX_DESCRIPTION: usize = 4000;

/// A price as an admin writes it (`180`, `180.00`, `$180`, `1,250.50`) in cents.
pub fn parse_price(raw: &str) -> Result<i32, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(FieldError::Empty);
    }
    let unsigned = raw.strip_prefix('-').map(str::trim_start);
    let body = unsigned.unwrap_or(raw);
    let body = body.strip_prefix('$').unwrap_or(body).trim_start();
    let (whole, fraction) = match body.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (body, None),
    };
    let whole: String = grouped_digits(whole).ok_or(FieldError::NotAPrice)?;
    let cents = match fraction {
        None => 0,
        Some(f) if (1..=2).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            let digits: i64 = f.parse().map_err(|_| FieldError::NotAPrice)?;
            // `.5` is fifty cents, `.05` five.
            if f.len() == 1 { digits * 10 } else { digits }
        }
        Some(_) => return Err(FieldError::NotAPrice),
    };
    let dollars: i64 = whole.parse().map_err(|_| FieldError::PriceTooHigh)?;
    let total = dollars
        .checked_mul(100)
        .and_then(|d| d.checked_add(cents))
        .ok_or(FieldError::PriceTooHigh)?;
    if unsigned.is_some() || total == 0 {
        return Err(FieldError::NotPositive);
    }
    if total > MAX_PRICE_CENTS {
        return Err(FieldError::PriceTooHigh);
    }
    i32::try_from(total).map_err(|_| FieldError::PriceTooHigh)
}

/// `1250` or `1,250` (commas only between groups of three) as plain digits.
fn grouped_digits(whole: &str) -> Option<String> {
    if whole.is_empty() {
        return None;
    }
    let groups: Vec<&str> = whole.split(',').collect();
    let well_grouped = groups.len() == 1
        || (!groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3));
    let digits = groups.concat();
    (well_grouped && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// A product's or a size's SKU: 1 to 40 of letters, digits, `.`, `-`, `_`.
pub fn parse_sku(raw: &str) -> Result<String, FieldError> {
    let sku = raw.trim();
    if sku.is_empty() {
        return Err(FieldError::Empty);
    }
    if sku.chars().count() > MAX_SKU {
        return Err(FieldError::TooLong(MAX_SKU));
    }
    if !sku
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(FieldError::BadSku);
    }
    Ok(sku.to_string())
}

/// A size label (`9.5`, `US 10`, `EU 44`, `M 9 / W 10.5`), its spaces collapsed.
pub fn parse_size_label(raw: &str) -> Result<String, FieldError> {
    let label = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if label.is_empty() {
        return Err(FieldError::Empty);
    }
    if label.chars().count() > MAX_SIZE_LABEL {
        return Err(FieldError::TooLong(MAX_SIZE_LABEL));
    }
    if !label
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '-' | '/'))
    {
        return Err(FieldError::BadSize);
    }
    Ok(label)
}

/// Two labels that name the same size (`us 10` and `US  10`).
pub fn same_size(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The SKU a size gets when the admin gives none: the product's, a dash, the label without
/// spaces or slashes (`AJ1-HI-CHI-US10`).
pub fn derived_item_sku(product_sku: &str, label: &str) -> String {
    let label: String = label
        .chars()
        .filter_map(|c| match c {
            ' ' => None,
            '/' => Some('-'),
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') => Some(c),
            _ => None,
        })
        .collect();
    format!("{product_sku}-{label}")
}

/// A starting stock: a whole number of pairs, empty meaning none.
pub fn parse_stock(raw: &str) -> Result<i32, FieldError> {
    match raw.trim() {
        "" => Ok(0),
        raw => raw
            .parse::<i32>()
            .ok()
            .filter(|n| (0..=MAX_STARTING_STOCK).contains(n))
            .ok_or(FieldError::BadStock),
    }
}

/// A required line of text (brand, name, colour), trimmed.
pub fn parse_text(raw: &str, max: usize) -> Result<String, FieldError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(FieldError::Empty);
    }
    if text.chars().count() > max {
        return Err(FieldError::TooLong(max));
    }
    Ok(text.to_string())
}

/// A description: plain paragraphs, blank lines between them; may be empty.
pub fn parse_description(raw: &str) -> Result<String, FieldError> {
    let text = raw.replace("\r\n", "\n");
    let text = text.trim();
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(FieldError::TooLong(MAX_DESCRIPTION));
    }
    Ok(text.to_string())
}

/// A description's paragraphs, as the pages show them.
pub fn paragraphs(description: &str) -> impl Iterator<Item = &str> {
    description
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// A UTC offset as the form's time zone field holds it (`+01:00`, `-05:30`, `Z`).
pub fn parse_offset(raw: &str) -> Result<FixedOffset, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.eq_ignore_ascii_case("z") || raw.eq_ignore_ascii_case("utc") {
        return FixedOffset::east_opt(0).ok_or(FieldError::BadOffset);
    }
    let (sign, rest) = match raw.as_bytes()[0] {
        b'+' => (1, &raw[1..]),
        b'-' => (-1, &raw[1..]),
        _ => return Err(FieldError::BadOffset),
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
    let hours: i32 = hours.parse().map_err(|_| FieldError::BadOffset)?;
    let minutes: i32 = minutes.parse().map_err(|_| FieldError::BadOffset)?;
    if !(0..=14).contains(&hours) || !(0..60).contains(&minutes) {
        return Err(FieldError::BadOffset);
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or(FieldError::BadOffset)
}

/// `+01:00` for an offset, as the form writes it back.
pub fn format_offset(offset: FixedOffset) -> String {
    let seconds = offset.local_minus_utc();
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A local date and time (`2026-12-24T18:00` as a `datetime-local` input sends it, or with a
/// space, with or without seconds) in `offset`, as a UTC instant.
pub fn parse_local_time(raw: &str, offset: FixedOffset) -> Result<DateTime<Utc>, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(FieldError::Empty);
    }
    let local = [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
    .ok_or(FieldError::BadTime)?;
    offset
        .from_local_datetime(&local)
        .single()
        .map(|at| at.with_timezone(&Utc))
        .ok_or(FieldError::BadTime)
}

/// `2026-12-24T18:00` in `offset`, as a `datetime-local` input shows it.
pub fn format_local_time(at: DateTime<Utc>, offset: FixedOffset) -> String {
    at.with_timezone(&offset)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// When a product goes on sale, as the admin chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Hidden from shoppers.
    Draft,
    /// Shown as coming soon, no time set yet.
    Soon,
    /// Dropped by the scheduler at that moment.
    At(DateTime<Utc>),
    Now,
}

/// The release field (`draft`, `soon`, `at`, `now`) with, for `at`, its time and offset.
pub fn parse_release(
    choice: &str,
    time: &str,
    offset: &str,
    now: DateTime<Utc>,
) -> Result<Release, (&'static str, FieldError)> {
    match choice.trim() {
        "draft" => Ok(Release::Draft),
        "soon" => Ok(Release::Soon),
        "now" => Ok(Release::Now),
        "at" => {
            let offset = parse_offset(offset).map_err(|e| ("release_offset", e))?;
            let at = parse_local_time(time, offset).map_err(|e| ("release_at", e))?;
            if at <= now {
                return Err(("release_at", FieldError::InThePast));
            }
            Ok(Release::At(at))
        }
        _ => Err(("release", FieldError::BadRelease)),
    }
}

/// Whether shoppers see a product at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Visibility {
    /// Being prepared: a 404 for shoppers, absent from `/` and from the socket.
    Draft,
    /// On the store (coming soon, scheduled, or on sale).
    #[default]
    Listed,
    /// Taken off the store; kept for its orders.
    Archived,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Draft => "draft",
            Visibility::Listed => "listed",
            Visibility::Archived => "archived",
        }
    }

    /// The column's value; anything else is a draft (the column's CHECK allows no other).
    pub fn from_column(value: &str) -> Visibility {
        match value {
            "listed" => Visibility::Listed,
            "archived" => Visibility::Archived,
            _ => Visibility::Draft,
        }
    }
}

/// A product's state as admins read it (`GET /admin/inventory` `state`, the products list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProductState {
    Draft,
    /// Listed, not released yet (with or without a time).
    Scheduled,
    Live,
    /// Released, and every size is gone.
    SoldOut,
    Archived,
}

impl ProductState {
    pub const ALL: [ProductState; 5] = [
        ProductState::Draft,
        ProductState::Scheduled,
        ProductState::Live,
        ProductState::SoldOut,
        ProductState::Archived,
    ];

    pub fn of(product: &Product) -> ProductState {
        match product.listing.visibility {
            Visibility::Draft => ProductState::Draft,
            Visibility::Archived => ProductState::Archived,
            Visibility::Listed if !product.released => ProductState::Scheduled,
            Visibility::Listed
                if !product.items.is_empty()
                    && product.items.iter().all(|i| i.available_count == 0) =>
            {
                ProductState::SoldOut
            }
            Visibility::Listed => ProductState::Live,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProductState::Draft => "draft",
            ProductState::Scheduled => "scheduled",
            ProductState::Live => "live",
            ProductState::SoldOut => "sold_out",
            ProductState::Archived => "archived",
        }
    }

    pub fn parse(raw: &str) -> Option<ProductState> {
        ProductState::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn label(self) -> &'static str {
        match self {
            ProductState::Draft => "Draft",
            ProductState::Scheduled => "Scheduled",
            ProductState::Live => "Live",
            ProductState::SoldOut => "Sold out",
            ProductState::Archived => "Archived",
        }
    }
}

/// What admins keep about a product beyond what shoppers buy by.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    pub visibility: Visibility,
    /// Plain paragraphs (see [`paragraphs`]).
    pub description: String,
    /// Grows with every admin edit (the stale-edit check).
    pub revision: i32,
    /// Its uploaded pictures, the main one first (none: the seeded `main_image_url`).
    pub pictures: Vec<crate::domain::picture::Picture>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_read_as_admins_write_them() {
        assert_eq!(parse_price("180"), Ok(18_000));
        assert_eq!(parse_price("180.00"), Ok(18_000));
        assert_eq!(parse_price("$180"), Ok(18_000));
        assert_eq!(parse_price(" $ 180.5 "), Ok(18_050));
        assert_eq!(parse_price("179.99"), Ok(17_999));
        assert_eq!(parse_price("1,250.05"), Ok(125_005));
        assert_eq!(parse_price("0.07"), Ok(7));
    }

    #[test]
    fn bad_prices_say_why() {
        assert_eq!(parse_price(""), Err(FieldError::Empty));
        assert_eq!(parse_price("-5"), Err(FieldError::NotPositive));
        assert_eq!(parse_price("-$5"), Err(FieldError::NotPositive));
        assert_eq!(parse_price("0"), Err(FieldError::NotPositive));
        assert_eq!(parse_price("abc"), Err(FieldError::NotAPrice));
        assert_eq!(parse_price("1.999"), Err(FieldError::NotAPrice));
        assert_eq!(parse_price("12,50"), Err(FieldError::NotAPrice));
        assert_eq!(parse_price("1e3"), Err(FieldError::NotAPrice));
        assert_eq!(parse_price("$"), Err(FieldError::NotAPrice));
        assert_eq!(parse_price("100001"), Err(FieldError::PriceTooHigh));
        assert_eq!(
            parse_price("99999999999999999999999"),
            Err(FieldError::PriceTooHigh)
        );
    }

    #[test]
    fn skus_and_sizes() {
        assert_eq!(parse_sku(" AJ1-HI_CHI.2 "), Ok("AJ1-HI_CHI.2".into()));
        assert_eq!(parse_sku("a b"), Err(FieldError::BadSku));
        assert_eq!(parse_sku(""), Err(FieldError::Empty));
        assert_eq!(
            parse_sku(&"x".repeat(41)),
            Err(FieldError::TooLong(MAX_SKU))
        );
        assert_eq!(parse_size_label(" US   10 "), Ok("US 10".into()));
        assert_eq!(parse_size_label("9.5"), Ok("9.5".into()));
        assert_eq!(parse_size_label("M 9 / W 10.5"), Ok("M 9 / W 10.5".into()));
        assert_eq!(parse_size_label("<b>"), Err(FieldError::BadSize));
        assert_eq!(parse_size_label("  "), Err(FieldError::Empty));
        assert!(same_size("us 10", "US 10"));
        assert_eq!(derived_item_sku("AJ1", "US 10"), "AJ1-US10");
        assert_eq!(derived_item_sku("AJ1", "M 9 / W 10.5"), "AJ1-M9-W10.5");
    }

    #[test]
    fn stock_is_a_whole_number_of_pairs() {
        assert_eq!(parse_stock(""), Ok(0));
        assert_eq!(parse_stock(" 25 "), Ok(25));
        assert_eq!(parse_stock("-1"), Err(FieldError::BadStock));
        assert_eq!(parse_stock("2.5"), Err(FieldError::BadStock));
        assert_eq!(parse_stock("1000001"), Err(FieldError::BadStock));
    }

    #[test]
    fn a_release_time_is_read_in_the_admins_offset() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
        let at = parse_release("at", "2026-12-07T14:30", "+01:00", now);
        assert_eq!(
            at,
            Ok(Release::At(
                Utc.with_ymd_and_hms(2026, 12, 7, 13, 30, 0).unwrap()
            ))
        );
        assert_eq!(
            parse_release("at", "2026-12-07 12:30", "+01:00", now),
            Err(("release_at", FieldError::InThePast))
        );
        assert_eq!(
            parse_release("at", "tomorrow", "+01:00", now),
            Err(("release_at", FieldError::BadTime))
        );
        assert_eq!(
            parse_release("at", "2026-12-08T10:00", "+25:00", now),
            Err(("release_offset", FieldError::BadOffset))
        );
        assert_eq!(parse_release("draft", "", "", now), Ok(Release::Draft));
        assert_eq!(
            parse_release("later", "", "", now),
            Err(("release", FieldError::BadRelease))
        );
        let offset = parse_offset("-05:30").unwrap();
        assert_eq!(format_offset(offset), "-05:30");
        let utc = parse_local_time("2026-12-24T18:00", offset).unwrap();
        assert_eq!(format_local_time(utc, offset), "2026-12-24T18:00");
    }

    #[test]
    fn descriptions_are_paragraphs() {
        let d = parse_description("One.\r\n\r\n\r\nTwo\nlines.\n\n").unwrap();
        assert_eq!(paragraphs(&d).collect::<Vec<_>>(), ["One.", "Two\nlines."]);
    }
}
