//! Prices are integer cents; this is how shoppers read them.

pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let dollars = abs / 100;
    let mut grouped = String::new();
    let digits = dollars.to_string();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{sign}${grouped}.{:02}", abs % 100)
}

#[cfg(test)]
mod tests {
    use super::format_cents;

    #[test]
    fn formats_dollars_and_cents() {
        assert_eq!(format_cents(0), "$0.00");
        assert_eq!(format_cents(13000), "$130.00");
        assert_eq!(format_cents(1999), "$19.99");
        assert_eq!(format_cents(12_345_678), "$123,456.78");
        assert_eq!(format_cents(-500), "-$5.00");
    }
}
