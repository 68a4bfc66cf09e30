//! The product import/export file: JSON
//! `{"products":[{"sku","brand","name","color","description","price_cents","release",
//! "max_per_customer","line","draw","sizes":[{"size","sku","stock"}]}]}`, or CSV with the same
//! fields, one size a row ([`CSV_HEADER`]). A record is checked by the product form's own
//! rules ([`ProductRecord::form`]), so a file and the form refuse the same values in the same
//! words; [`field_name`] says which of the file's fields a form error is about.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::product_fields::format_local_time;
use super::product_form::ProductForm;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductFile {
    pub products: Vec<ProductRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRecord {
    pub sku: String,
    pub brand: String,
    pub name: String,
    pub color: String,
    #[serde(default)]
    pub description: String,
    pub price_cents: i64,
    /// `"draft"`, `"now"`, an RFC 3339 time, or `"soon"` (listed, no time yet).
    pub release: String,
    #[serde(default)]
    pub max_per_customer: Option<u32>,
    #[serde(default)]
    pub line: Option<LineRecord>,
    #[serde(default)]
    pub draw: Option<DrawRecord>,
    pub sizes: Vec<SizeRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRecord {
    pub admit_per_minute: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawRecord {
    pub opens: DateTime<Utc>,
    pub closes: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeRecord {
    pub size: String,
    /// Blank: derived from the product's SKU and the size, as the form does.
    #[serde(default)]
    pub sku: String,
    /// A new size's starting pairs (an existing size's count changes only by restock and sales).
    #[serde(default)]
    pub stock: i32,
}

/// An RFC 3339 time as the file writes it.
pub fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl ProductRecord {
    /// The product form as if an admin had typed this record (times in UTC).
    pub fn form(&self) -> Result<ProductForm, (&'static str, String)> {
        let utc = chrono::FixedOffset::east_opt(0).expect("zero is an offset");
        let mut form = ProductForm::blank(utc);
        form.brand.clone_from(&self.brand);
        form.name.clone_from(&self.name);
        form.color.clone_from(&self.color);
        form.sku.clone_from(&self.sku);
        form.description.clone_from(&self.description);
        form.price = if self.price_cents < 0 {
            format!("-{}", cents_text(-self.price_cents))
        } else {
            cents_text(self.price_cents)
        };
        form.max_per_customer = self
            .max_per_customer
            .map(|m| m.to_string())
            .unwrap_or_default();
        form.line = self.line.is_some();
        if let Some(line) = self.line {
            form.admit_per_minute = line.admit_per_minute.to_string();
        }
        match self.release.trim() {
            "draft" | "now" | "soon" => form.release = self.release.trim().to_string(),
            text => {
                let at = DateTime::parse_from_rfc3339(text).map_err(|_| {
                    (
                        "release",
                        format!(
                            "{text:?} is none of \"draft\", \"now\", \"soon\" or an RFC 3339 time."
                        ),
                    )
                })?;
                form.release = "at".into();
                form.release_at = format_local_time(at.with_timezone(&Utc), utc);
            }
        }
        form.sizes = self
            .sizes
            .iter()
            .map(|size| {
                let mut row = super::product_form::SizeRow::default();
                row.label.clone_from(&size.size);
                row.sku.clone_from(&size.sku);
                row.stock = size.stock.to_string();
                row
            })
            .collect();
        Ok(form)
    }
}

fn cents_text(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The file's field a product form's error is about: `price` is `price_cents`, `size-2-label`
/// is size 2's `size`. Returns the size's index too.
pub fn field_name(form_field: &str) -> (Option<usize>, String) {
    if let Some((n, field)) = form_field
        .strip_prefix("size-")
        .and_then(|rest| rest.split_once('-'))
        && let Ok(n) = n.parse::<usize>()
    {
        let name = match field {
            "label" => "size",
            "remove" => "size",
            other => other,
        };
        return (Some(n), name.to_string());
    }
    let name = match form_field {
        "price" => "price_cents",
        "admit_per_minute" => "line",
        "release_at" | "release_offset" => "release",
        other => other,
    };
    (None, name.to_string())
}

/// The CSV file's columns, in order.
pub const CSV_HEADER: [&str; 14] = [
    "sku",
    "brand",
    "name",
    "color",
    "description",
    "price_cents",
    "release",
    "max_per_customer",
    "line_admit_per_minute",
    "draw_opens",
    "draw_closes",
    "size",
    "size_sku",
    "stock",
];

/// Where in the file a record came from, for its errors: `products[3]`, or `line 7`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub product: String,
    /// Each size's place (a CSV row's line).
    pub sizes: Vec<String>,
}

/// A file read, with each record's origin; or every line that could not be read.
pub type Read = Result<(ProductFile, Vec<Origin>), Vec<String>>;

/// A JSON file.
pub fn read_json(text: &str) -> Read {
    let file: ProductFile = serde_json::from_str(text)
        .map_err(|e| vec![format!("line {}, column {}: {e}", e.line(), e.column())])?;
    let origins = file
        .products
        .iter()
        .enumerate()
        .map(|(i, p)| Origin {
            product: format!("products[{i}] ({})", p.sku),
            sizes: (0..p.sizes.len())
                .map(|n| format!("products[{i}].sizes[{n}] ({})", p.sku))
                .collect(),
        })
        .collect();
    Ok((file, origins))
}

/// The rows of a CSV text (RFC 4180: quoted cells may hold separators, quotes and line
/// breaks), each with the line it starts on. A cell the store neutralised on export (`'` before
/// a formula's first character) is read back as it was.
pub fn csv_rows(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut in_quotes = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    let finish = |cell: &mut String| {
        let text = std::mem::take(cell);
        let formula = ['=', '+', '-', '@', '\t', '\r'];
        match text.strip_prefix('\'') {
            Some(rest) if rest.starts_with(formula) => rest.to_string(),
            _ => text,
        }
    };
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    cell.push(c);
                }
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.is_empty() => in_quotes = true,
            ',' => row.push(finish(&mut cell)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(finish(&mut cell));
                if !(row.len() == 1 && row[0].is_empty()) {
                    rows.push((start, std::mem::take(&mut row)));
                }
                row.clear();
                line += 1;
                start = line;
            }
            _ => cell.push(c),
        }
    }
    if in_quotes {
        return Err(format!("line {start}: a quoted cell is not closed"));
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(finish(&mut cell));
        rows.push((start, row));
    }
    Ok(rows)
}

/// A CSV file: a header naming [`CSV_HEADER`]'s columns (any order), then one row per size;
/// a product's fields are read from its first row (later rows may leave them empty, or must
/// repeat them).
pub fn read_csv(text: &str) -> Read {
    let rows = csv_rows(text).map_err(|e| vec![e])?;
    let mut rows = rows.into_iter();
    let Some((_, header)) = rows.next() else {
        return Err(vec![
            "line 1: the file is empty; its first line names the columns".into(),
        ]);
    };
    let mut at = [usize::MAX; CSV_HEADER.len()];
    for (i, name) in CSV_HEADER.iter().enumerate() {
        match header.iter().position(|h| h.trim() == *name) {
            Some(col) => at[i] = col,
            None => return Err(vec![format!("line 1: no column {name:?}")]),
        }
    }
    let mut errors = Vec::new();
    let mut products: Vec<ProductRecord> = Vec::new();
    let mut origins: Vec<Origin> = Vec::new();
    for (line, cells) in rows {
        let get = |name: &str| -> String {
            let i = CSV_HEADER.iter().position(|h| *h == name).unwrap_or(0);
            cells.get(at[i]).cloned().unwrap_or_default()
        };
        let here = format!("line {line}");
        let sku = get("sku").trim().to_string();
        if sku.is_empty() {
            errors.push(format!("{here}: sku: every row names its product's SKU"));
            continue;
        }
        let number = |name: &str| -> Result<Option<i64>, String> {
            let text = get(name);
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            text.parse::<i64>()
                .map(Some)
                .map_err(|_| format!("{here}: {name}: {text:?} is not a whole number"))
        };
        let time = |name: &str| -> Result<Option<DateTime<Utc>>, String> {
            let text = get(name);
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            DateTime::parse_from_rfc3339(text)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|_| format!("{here}: {name}: {text:?} is not an RFC 3339 time"))
        };
        let size = SizeRecord {
            size: get("size"),
            sku: get("size_sku"),
            stock: match number("stock") {
                Ok(n) => i32::try_from(n.unwrap_or(0)).unwrap_or(i32::MAX),
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            },
        };
        if let Some(i) = products.iter().position(|p| p.sku == sku) {
            products[i].sizes.push(size);
            origins[i].sizes.push(here);
            continue;
        }
        let parsed = (|| -> Result<ProductRecord, String> {
            let price_cents = number("price_cents")?.ok_or_else(|| {
                format!("{here}: price_cents: the product's first row has its price")
            })?;
            let max = number("max_per_customer")?;
            let line_rate = number("line_admit_per_minute")?;
            let draw = match (time("draw_opens")?, time("draw_closes")?) {
                (Some(opens), Some(closes)) => Some(DrawRecord { opens, closes }),
                (None, None) => None,
                _ => {
                    return Err(format!(
                        "{here}: draw_opens, draw_closes: give both or neither"
                    ));
                }
            };
            let small = |n: i64, name: &str| {
                u32::try_from(n).map_err(|_| format!("{here}: {name}: {n} is out of range"))
            };
            Ok(ProductRecord {
                sku: sku.clone(),
                brand: get("brand"),
                name: get("name"),
                color: get("color"),
                description: get("description"),
                price_cents,
                release: get("release"),
                max_per_customer: max.map(|n| small(n, "max_per_customer")).transpose()?,
                line: line_rate
                    .map(|n| small(n, "line_admit_per_minute"))
                    .transpose()?
                    .map(|admit_per_minute| LineRecord { admit_per_minute }),
                draw,
                sizes: vec![size],
            })
        })();
        match parsed {
            Ok(product) => {
                products.push(product);
                origins.push(Origin {
                    product: here.clone(),
                    sizes: vec![here],
                });
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok((ProductFile { products }, origins))
    } else {
        Err(errors)
    }
}

/// The file as CSV, through the store's one CSV writer.
pub fn write_csv(file: &ProductFile) -> String {
    let mut out = super::csv::row(CSV_HEADER);
    for p in &file.products {
        let price = p.price_cents.to_string();
        let max = p
            .max_per_customer
            .map(|m| m.to_string())
            .unwrap_or_default();
        let line = p
            .line
            .map(|l| l.admit_per_minute.to_string())
            .unwrap_or_default();
        let opens = p.draw.map(|d| format_time(d.opens)).unwrap_or_default();
        let closes = p.draw.map(|d| format_time(d.closes)).unwrap_or_default();
        for s in &p.sizes {
            let stock = s.stock.to_string();
            out.push_str(&super::csv::row([
                p.sku.as_str(),
                &p.brand,
                &p.name,
                &p.color,
                &p.description,
                &price,
                &p.release,
                &max,
                &line,
                &opens,
                &closes,
                &s.size,
                &s.sku,
                &stock,
            ]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ProductRecord {
        ProductRecord {
            sku: "AJ1-TEST".into(),
            brand: "Jordan".into(),
            name: "Air Jordan 1, \"Chicago\"".into(),
            color: "-Red".into(),
            description: "One.\n\nTwo, three.".into(),
            price_cents: 18050,
            release: "2030-01-02T03:04:00Z".into(),
            max_per_customer: Some(2),
            line: Some(LineRecord {
                admit_per_minute: 30,
            }),
            draw: None,
            sizes: vec![
                SizeRecord {
                    size: "US 9".into(),
                    sku: String::new(),
                    stock: 4,
                },
                SizeRecord {
                    size: "=1+1".into(),
                    sku: "AJ1-TEST-X".into(),
                    stock: 0,
                },
            ],
        }
    }

    #[test]
    fn csv_round_trips_quotes_line_breaks_and_neutralised_cells() {
        let file = ProductFile {
            products: vec![record()],
        };
        let text = write_csv(&file);
        let (back, origins) = read_csv(&text).unwrap();
        assert_eq!(back, file);
        assert_eq!(origins[0].product, "line 2");
        assert_eq!(
            origins[0].sizes,
            ["line 2", "line 5"],
            "the description's line breaks count"
        );
    }

    #[test]
    fn a_record_is_the_form_an_admin_would_type() {
        let form = record().form().unwrap();
        assert_eq!(form.price, "180.50");
        assert_eq!(form.release, "at");
        assert_eq!(form.release_at, "2030-01-02T03:04");
        assert!(form.line);
        assert_eq!(form.admit_per_minute, "30");
        assert_eq!(form.sizes.len(), 2);
        let mut bad = record();
        bad.release = "tomorrow".into();
        assert_eq!(bad.form().unwrap_err().0, "release");
        assert_eq!(field_name("price"), (None, "price_cents".into()));
        assert_eq!(field_name("size-1-label"), (Some(1), "size".into()));
    }

    #[test]
    fn bad_csv_rows_are_named_by_line() {
        let mut text = CSV_HEADER.join(",");
        text.push_str("\nA,B,C,D,,abc,now,,,,,9,,1\n,B,C,D,,100,now,,,,,9,,1\nE,B,C,D,,100,now,,,2030-01-01T00:00:00Z,,9,,1\n");
        let errors = read_csv(&text).unwrap_err();
        assert_eq!(
            errors,
            [
                "line 2: price_cents: \"abc\" is not a whole number",
                "line 3: sku: every row names its product's SKU",
                "line 4: draw_opens, draw_closes: give both or neither",
            ]
        );
        assert!(read_csv("sku,brand\nA,B\n").unwrap_err()[0].contains("no column"));
        assert!(read_json("{\"products\": [}").unwrap_err()[0].starts_with("line 1, column"));
    }
}
