//! The product form as an admin fills it in: the raw values (kept to show them again, errors
//! beside them) and the rules that turn them into a [`ProductSpec`] the store can write. The
//! same rules run for a plain post and for each keystroke sent over the admin socket.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, FixedOffset, Utc};

use super::catalog::parse_limit;
use super::draw::Window;
use super::product_fields::{
    FieldError, MAX_DESCRIPTION, MAX_NAME, Release, derived_item_sku, format_local_time,
    format_offset, parse_description, parse_local_time, parse_price, parse_release,
    parse_size_label, parse_sku, parse_stock, parse_text, same_size,
};
use super::{ItemId, Product};

/// The most sizes one product may have.
pub const MAX_SIZES: usize = 40;
/// Bounds of a line's admission rate, per minute.
pub const MAX_ADMIT_PER_MINUTE: u32 = 1000;

/// One size row of the form, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SizeRow {
    /// The size's item, for a row that exists already.
    pub id: Option<ItemId>,
    pub label: String,
    pub sku: String,
    pub stock: String,
    /// The stock the form showed when it was rendered: a row whose stock is still that is
    /// left alone (sales since then are not undone).
    pub was: String,
    pub remove: bool,
    /// Pairs of it have been sold (so it cannot be removed), as the page was told; a save
    /// asks the database again.
    pub sold: bool,
}

impl SizeRow {
    fn blank(&self) -> bool {
        self.id.is_none()
            && self.label.trim().is_empty()
            && self.sku.trim().is_empty()
            && self.stock.trim().is_empty()
    }
}

/// The whole form, as typed (every value a string, so a bad one is shown back as it was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductForm {
    /// The revision the form was opened at (empty for a new product).
    pub revision: String,
    pub brand: String,
    pub name: String,
    pub color: String,
    pub sku: String,
    pub price: String,
    pub description: String,
    pub max_per_customer: String,
    pub line: bool,
    pub admit_per_minute: String,
    /// `draft`, `soon`, `at` or `now`.
    pub release: String,
    pub release_at: String,
    pub release_offset: String,
    pub sizes: Vec<SizeRow>,
    /// Sold by draw: entries taken from `draw_opens` to `draw_closes` (UTC), winners drawn
    /// at close.
    pub draw: bool,
    pub draw_opens: String,
    pub draw_closes: String,
    /// What the form showed of the draw: `open` (its fields could be changed), `closed` (its
    /// window is past: shown, not changed), empty (a post without the draw's fields leaves
    /// the draw as it is).
    pub draw_state: String,
}

/// What a save does to the product's draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrawChoice {
    /// Left as it is (the form did not show it, or its window is past).
    Keep,
    /// Not sold by draw (any draw not yet closed is removed with its entries).
    Off,
    /// Sold by draw in this window.
    Window(Window),
}

/// Field name -> what is wrong with it, in the admin's words.
pub type FieldErrors = BTreeMap<String, String>;

/// A size as the store writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeSpec {
    pub id: Option<ItemId>,
    pub label: String,
    pub sku: String,
    /// `Some(n)`: the size has exactly `n` pairs after the save; `None`: left as it is.
    pub stock: Option<i32>,
}

/// A product as the store writes it, every field checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSpec {
    pub sku: String,
    pub brand: String,
    pub name: String,
    pub color: String,
    pub description: String,
    pub price_cents: i32,
    pub max_per_customer: Option<u32>,
    /// A waiting line's admission rate; `None`: first come, first served.
    pub line_per_minute: Option<u32>,
    pub release: Release,
    /// In the admin's order.
    pub sizes: Vec<SizeSpec>,
    /// Existing sizes the form removes.
    pub removed: Vec<ItemId>,
    pub draw: DrawChoice,
}

/// What the form is asked to do besides checking (buttons that re-render it, JS or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormOp {
    Save,
    AddSize,
    Up(usize),
    Down(usize),
}

impl FormOp {
    pub fn parse(raw: Option<&str>) -> FormOp {
        match raw.unwrap_or("save") {
            "add_size" => FormOp::AddSize,
            op => {
                let index = |prefix| op.strip_prefix(prefix).and_then(|n| n.parse().ok());
                if let Some(n) = index("up-") {
                    FormOp::Up(n)
                } else if let Some(n) = index("down-") {
                    FormOp::Down(n)
                } else {
                    FormOp::Save
                }
            }
        }
    }
}

impl ProductForm {
    /// An empty form for a new product: a draft with one blank size.
    pub fn blank(offset: FixedOffset) -> ProductForm {
        ProductForm {
            revision: String::new(),
            brand: String::new(),
            name: String::new(),
            color: String::new(),
            sku: String::new(),
            price: String::new(),
            description: String::new(),
            max_per_customer: String::new(),
            line: false,
            admit_per_minute: "60".into(),
            release: "draft".into(),
            release_at: String::new(),
            release_offset: format_offset(offset),
            sizes: vec![SizeRow::default()],
            draw: false,
            draw_opens: String::new(),
            draw_closes: String::new(),
            draw_state: "open".into(),
        }
    }

    /// The form's draw fields for the product's current draw (`None`: none), times in UTC;
    /// a window already closed is shown, not offered for change.
    pub fn with_draw(mut self, window: Option<Window>, now: DateTime<Utc>) -> ProductForm {
        self.draw = window.is_some();
        let offset = FixedOffset::east_opt(0).expect("zero is an offset");
        if let Some(window) = window {
            self.draw_opens = format_local_time(window.opens, offset);
            self.draw_closes = format_local_time(window.closes, offset);
            if window.closes <= now {
                self.draw_state = "closed".into();
            }
        }
        self
    }

    /// The form of an existing product, as the cache holds it, plus one blank size.
    pub fn of(product: &Product, offset: FixedOffset) -> ProductForm {
        let release = if !product.listed() {
            "draft"
        } else if product.released {
            "now"
        } else if product.release_at.is_some() {
            "at"
        } else {
            "soon"
        };
        let mut sizes: Vec<SizeRow> = product
            .items
            .iter()
            .map(|item| SizeRow {
                id: Some(item.id),
                label: item.size.clone(),
                sku: item.sku.clone(),
                stock: item.available_count.to_string(),
                was: item.available_count.to_string(),
                remove: false,
                sold: false,
            })
            .collect();
        sizes.push(SizeRow::default());
        ProductForm {
            revision: product.listing.revision.to_string(),
            brand: product.brand.clone(),
            name: product.name.clone(),
            color: product.color.clone(),
            sku: product.sku.clone(),
            price: format!(
                "{}.{:02}",
                product.price_cents / 100,
                product.price_cents % 100
            ),
            description: product.listing.description.clone(),
            max_per_customer: product
                .max_per_customer
                .map(|m| m.to_string())
                .unwrap_or_default(),
            line: product.line_per_minute.is_some(),
            admit_per_minute: product.line_per_minute.unwrap_or(60).to_string(),
            release: release.into(),
            release_at: product
                .release_at
                .map(|at| format_local_time(at, offset))
                .unwrap_or_default(),
            release_offset: format_offset(offset),
            sizes,
            draw: false,
            draw_opens: String::new(),
            draw_closes: String::new(),
            draw_state: "open".into(),
        }
    }

    /// Reads the posted fields (`name=value` pairs, sizes as `size-<n>-<field>`).
    pub fn from_fields<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> ProductForm {
        let mut form = ProductForm::blank(FixedOffset::east_opt(0).expect("zero is an offset"));
        form.release = String::new();
        form.admit_per_minute = String::new();
        form.draw_state = String::new();
        let mut rows: BTreeMap<usize, SizeRow> = BTreeMap::new();
        for (name, value) in fields {
            let value = value.to_string();
            match name {
                "revision" => form.revision = value,
                "brand" => form.brand = value,
                "name" => form.name = value,
                "color" => form.color = value,
                "sku" => form.sku = value,
                "price" => form.price = value,
                "description" => form.description = value,
                "max_per_customer" => form.max_per_customer = value,
                "line" => form.line = !value.is_empty() && value != "0",
                "admit_per_minute" => form.admit_per_minute = value,
                "release" => form.release = value,
                "release_at" => form.release_at = value,
                "release_offset" => form.release_offset = value,
                "draw" => form.draw = !value.is_empty() && value != "0",
                "draw_opens" => form.draw_opens = value,
                "draw_closes" => form.draw_closes = value,
                "draw_state" => form.draw_state = value,
                other => {
                    let Some((n, field)) = other
                        .strip_prefix("size-")
                        .and_then(|rest| rest.split_once('-'))
                        .and_then(|(n, field)| Some((n.parse::<usize>().ok()?, field)))
                    else {
                        continue;
                    };
                    if n >= MAX_SIZES * 2 {
                        continue;
                    }
                    let row = rows.entry(n).or_default();
                    match field {
                        "id" => row.id = value.trim().parse().ok(),
                        "label" => row.label = value,
                        "sku" => row.sku = value,
                        "stock" => row.stock = value,
                        "was" => row.was = value,
                        "remove" => row.remove = !value.is_empty(),
                        "sold" => row.sold = !value.is_empty(),
                        _ => {}
                    }
                }
            }
        }
        form.sizes = rows.into_values().collect();
        form
    }

    /// The sizes the page marked sold (for a live check; a save reads the database).
    pub fn sold_sizes(&self) -> HashSet<ItemId> {
        self.sizes
            .iter()
            .filter(|r| r.sold)
            .filter_map(|r| r.id)
            .collect()
    }

    /// Whether the admin has left this field (`price`, `size-2-label`) empty.
    pub fn is_blank(&self, field: &str) -> bool {
        let value = match field {
            "brand" => &self.brand,
            "name" => &self.name,
            "color" => &self.color,
            "sku" => &self.sku,
            "price" => &self.price,
            "description" => &self.description,
            "max_per_customer" => &self.max_per_customer,
            "admit_per_minute" => &self.admit_per_minute,
            "release_at" => &self.release_at,
            "draw_opens" => &self.draw_opens,
            "draw_closes" => &self.draw_closes,
            other => {
                let row = other
                    .strip_prefix("size-")
                    .and_then(|rest| rest.split_once('-'))
                    .and_then(|(n, name)| Some((self.sizes.get(n.parse::<usize>().ok()?)?, name)));
                match row {
                    Some((row, "label")) => &row.label,
                    Some((row, "sku")) => &row.sku,
                    Some((row, "stock")) => &row.stock,
                    Some((_, "remove")) => return false,
                    _ => return true,
                }
            }
        };
        value.trim().is_empty()
    }

    /// Applies a button that only re-renders (a new row, a row moved); `false` for a save.
    pub fn apply(&mut self, op: FormOp) -> bool {
        match op {
            FormOp::Save => return false,
            FormOp::AddSize => {
                if self.sizes.len() < MAX_SIZES {
                    self.sizes.push(SizeRow::default());
                }
            }
            FormOp::Up(n) if n > 0 && n < self.sizes.len() => self.sizes.swap(n - 1, n),
            FormOp::Down(n) if n + 1 < self.sizes.len() => self.sizes.swap(n, n + 1),
            FormOp::Up(_) | FormOp::Down(_) => {}
        }
        true
    }

    /// Checks every field; `sold` are the sizes with pairs sold (they cannot be removed) and
    /// `released` whether the product is on sale already.
    pub fn validate(
        &self,
        now: DateTime<Utc>,
        released: bool,
        sold: &HashSet<ItemId>,
    ) -> Result<ProductSpec, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut check = |field: &str, result: Result<String, FieldError>| match result {
            Ok(value) => value,
            Err(error) => {
                errors.insert(field.to_string(), error.to_string());
                String::new()
            }
        };
        let brand = check("brand", parse_text(&self.brand, MAX_NAME));
        let name = check("name", parse_text(&self.name, MAX_NAME));
        let color = check("color", parse_text(&self.color, MAX_NAME));
        let sku = check("sku", parse_sku(&self.sku));
        let description = check("description", parse_description(&self.description));
        let price_cents = match parse_price(&self.price) {
            Ok(cents) => cents,
            Err(error) => {
                errors.insert("price".into(), error.to_string());
                0
            }
        };
        let max_per_customer = match parse_limit(Some(&self.max_per_customer)) {
            Ok(max) => max,
            Err(error) => {
                errors.insert("max_per_customer".into(), error.to_string());
                None
            }
        };
        let line_per_minute = if self.line {
            match self.admit_per_minute.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_ADMIT_PER_MINUTE).contains(&n) => Some(n),
                _ => {
                    errors.insert(
                        "admit_per_minute".into(),
                        format!("Enter a whole number of shoppers a minute from 1 to {MAX_ADMIT_PER_MINUTE}."),
                    );
                    None
                }
            }
        } else {
            None
        };
        let release =
            match parse_release(&self.release, &self.release_at, &self.release_offset, now) {
                Ok(release) => {
                    if released && matches!(release, Release::Soon | Release::At(_)) {
                        errors.insert(
                            "release".into(),
                            "It is on sale already: keep it on sale, or set it back to draft."
                                .into(),
                        );
                    }
                    release
                }
                Err((field, error)) => {
                    errors.insert(field.into(), error.to_string());
                    Release::Draft
                }
            };
        let draw = self.draw_choice(now, &mut errors);
        let (sizes, removed) = self.sizes_spec(&sku, sold, &mut errors);
        if sizes.is_empty() && release != Release::Draft {
            errors.insert(
                "sizes".into(),
                "Add at least one size before it goes on the store.".into(),
            );
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ProductSpec {
            sku,
            brand,
            name,
            color,
            description,
            price_cents,
            max_per_customer,
            line_per_minute,
            release,
            sizes,
            removed,
            draw,
        })
    }

    /// The draw's window, checked: both times in UTC (the release's time zone follows the
    /// browser, the window stays as typed), closing after opening and in the future; no
    /// waiting line beside it.
    fn draw_choice(&self, now: DateTime<Utc>, errors: &mut FieldErrors) -> DrawChoice {
        if self.draw_state != "open" {
            return DrawChoice::Keep;
        }
        if !self.draw {
            return DrawChoice::Off;
        }
        if self.line {
            errors.insert(
                "line".into(),
                "A draw takes entries, not a waiting line: untick one of them.".into(),
            );
        }
        let utc = FixedOffset::east_opt(0).expect("zero is an offset");
        let mut time = |field: &str, raw: &str| match parse_local_time(raw, utc) {
            Ok(at) => Some(at),
            Err(error) => {
                errors.insert(field.into(), error.to_string());
                None
            }
        };
        let (Some(opens), Some(closes)) = (
            time("draw_opens", &self.draw_opens),
            time("draw_closes", &self.draw_closes),
        ) else {
            return DrawChoice::Keep;
        };
        if closes <= now {
            errors.insert(
                "draw_closes".into(),
                "That time has passed: entries must close in the future.".into(),
            );
            return DrawChoice::Keep;
        }
        match Window::new(opens, closes) {
            Ok(window) => DrawChoice::Window(window),
            Err(_) => {
                errors.insert(
                    "draw_closes".into(),
                    "Entries must close after they open.".into(),
                );
                DrawChoice::Keep
            }
        }
    }

    fn sizes_spec(
        &self,
        product_sku: &str,
        sold: &HashSet<ItemId>,
        errors: &mut FieldErrors,
    ) -> (Vec<SizeSpec>, Vec<ItemId>) {
        let mut sizes: Vec<SizeSpec> = Vec::new();
        let mut removed = Vec::new();
        for (n, row) in self.sizes.iter().enumerate() {
            let field = |name: &str| format!("size-{n}-{name}");
            if row.blank() {
                continue;
            }
            if row.remove {
                match row.id {
                    Some(id) if sold.contains(&id) => {
                        errors.insert(
                            field("remove"),
                            "Pairs of this size have been sold: set its stock to 0 instead.".into(),
                        );
                    }
                    Some(id) => {
                        removed.push(id);
                        continue;
                    }
                    None => continue,
                }
            }
            let label = match parse_size_label(&row.label) {
                Ok(label) => label,
                Err(error) => {
                    errors.insert(field("label"), error.to_string());
                    continue;
                }
            };
            if sizes.iter().any(|s| same_size(&s.label, &label)) {
                errors.insert(field("label"), "This size is in the list twice.".into());
                continue;
            }
            let sku = if row.sku.trim().is_empty() {
                derived_item_sku(product_sku, &label)
            } else {
                match parse_sku(&row.sku) {
                    Ok(sku) => sku,
                    Err(error) => {
                        errors.insert(field("sku"), error.to_string());
                        continue;
                    }
                }
            };
            if sizes.iter().any(|s| s.sku.eq_ignore_ascii_case(&sku)) {
                errors.insert(field("sku"), "Two sizes have this SKU.".into());
                continue;
            }
            let stock = if row.id.is_some() && row.stock.trim() == row.was.trim() {
                None
            } else {
                match parse_stock(&row.stock) {
                    Ok(n) => Some(n),
                    Err(error) => {
                        errors.insert(field("stock"), error.to_string());
                        continue;
                    }
                }
            };
            sizes.push(SizeSpec {
                id: row.id,
                label,
                sku,
                stock,
            });
        }
        if sizes.len() > MAX_SIZES {
            errors.insert(
                "sizes".into(),
                format!("A product has at most {MAX_SIZES} sizes."),
            );
        }
        (sizes, removed)
    }
}

/// The description's limit, for the form's `maxlength`.
pub const DESCRIPTION_LIMIT: usize = MAX_DESCRIPTION;

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
    }

    fn filled(extra: &[(&str, &str)]) -> ProductForm {
        let mut fields = vec![
            ("brand", "Nike"),
            ("name", "Air Max 1"),
            ("color", "Red"),
            ("sku", "AM1-RED"),
            ("price", "$180"),
            ("release", "draft"),
            ("size-0-label", "9.5"),
            ("size-0-stock", "10"),
            ("size-1-label", "US 10"),
            ("size-1-sku", ""),
            ("size-1-stock", "5"),
            ("size-2-label", ""),
        ];
        fields.extend_from_slice(extra);
        ProductForm::from_fields(fields)
    }

    #[test]
    fn a_filled_form_is_a_spec() {
        let spec = filled(&[]).validate(now(), false, &HashSet::new());
        let spec = spec.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(spec.price_cents, 18_000);
        assert_eq!(spec.release, Release::Draft);
        let sizes: Vec<_> = spec
            .sizes
            .iter()
            .map(|s| (s.label.as_str(), s.sku.as_str(), s.stock))
            .collect();
        assert_eq!(
            sizes,
            [
                ("9.5", "AM1-RED-9.5", Some(10)),
                ("US 10", "AM1-RED-US10", Some(5))
            ]
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let form = ProductForm::from_fields([
            ("brand", ""),
            ("name", &*"x".repeat(81)),
            ("color", "Red"),
            ("sku", "has space"),
            ("price", "-3"),
            ("release", "at"),
            ("release_at", "2026-12-07T11:00"),
            ("release_offset", "+00:00"),
            ("max_per_customer", "lots"),
            ("line", "1"),
            ("admit_per_minute", "0"),
            ("size-0-label", "9"),
            ("size-1-label", "9"),
            ("size-2-label", "10"),
            ("size-2-stock", "-1"),
        ]);
        let errors = form
            .validate(now(), false, &HashSet::new())
            .err()
            .unwrap_or_default();
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "admit_per_minute",
                "brand",
                "max_per_customer",
                "name",
                "price",
                "release_at",
                "size-1-label",
                "size-2-stock",
                "sku"
            ]
        );
        assert_eq!(errors["size-1-label"], "This size is in the list twice.");
    }

    #[test]
    fn a_sold_size_cannot_be_removed_and_untouched_stock_is_left_alone() {
        let form = filled(&[
            ("size-0-id", "7"),
            ("size-0-was", "10"),
            ("size-1-id", "8"),
            ("size-1-was", "4"),
            ("size-1-remove", "1"),
        ]);
        let sold: HashSet<ItemId> = [ItemId(8)].into();
        let errors = form.validate(now(), false, &sold).err().unwrap_or_default();
        assert!(errors.contains_key("size-1-remove"), "{errors:?}");
        let spec = form
            .validate(now(), false, &HashSet::new())
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(spec.removed, [ItemId(8)]);
        assert_eq!(spec.sizes.len(), 1);
        assert_eq!(spec.sizes[0].stock, None, "the stock was not touched");
    }

    #[test]
    fn a_released_product_is_kept_on_sale_or_set_back_to_draft() {
        let soon = filled(&[]);
        let soon = ProductForm {
            release: "soon".into(),
            ..soon
        };
        assert!(soon.validate(now(), false, &HashSet::new()).is_ok());
        let errors = soon.validate(now(), true, &HashSet::new()).err();
        assert!(errors.is_some_and(|e| e.contains_key("release")));
    }

    #[test]
    fn buttons_add_and_move_rows() {
        let mut form = filled(&[]);
        assert!(form.apply(FormOp::AddSize));
        assert_eq!(form.sizes.len(), 4);
        assert!(form.apply(FormOp::parse(Some("up-1"))));
        assert_eq!(form.sizes[0].label, "US 10");
        assert!(!form.apply(FormOp::parse(Some("save"))));
        assert!(
            form.apply(FormOp::parse(Some("up-0"))),
            "nothing above: no move"
        );
    }

    #[test]
    fn a_draw_is_a_window_closing_in_the_future_without_a_line() {
        let draw = |extra: &[(&str, &str)]| {
            let mut fields = vec![
                ("draw_state", "open"),
                ("draw", "1"),
                ("release_offset", "+01:00"),
            ];
            // The release's offset does not move the window: it is typed in UTC.
            fields.extend_from_slice(extra);
            filled(&fields).validate(now(), false, &HashSet::new())
        };
        let spec = draw(&[
            ("draw_opens", "2026-12-07T11:30"),
            ("draw_closes", "2026-12-08T12:00"),
        ])
        .unwrap_or_else(|e| panic!("{e:?}"));
        let expected = Window::new(
            Utc.with_ymd_and_hms(2026, 12, 7, 11, 30, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 8, 12, 0, 0).unwrap(),
        )
        .unwrap();
        assert_eq!(
            spec.draw,
            DrawChoice::Window(expected),
            "in the admin's +01:00"
        );
        let errors = |extra: &[(&str, &str)]| {
            let errors = draw(extra).err().unwrap_or_default();
            errors.into_keys().collect::<Vec<_>>()
        };
        assert_eq!(
            errors(&[("draw_closes", "2026-12-08T13:00")]),
            ["draw_opens"]
        );
        // Half an hour ago.
        assert_eq!(
            errors(&[
                ("draw_opens", "2026-12-07T10:00"),
                ("draw_closes", "2026-12-07T11:30")
            ]),
            ["draw_closes"]
        );
        assert_eq!(
            errors(&[
                ("draw_opens", "2026-12-09T10:00"),
                ("draw_closes", "2026-12-08T13:00")
            ]),
            ["draw_closes"]
        );
        assert_eq!(
            errors(&[
                ("draw_opens", "2026-12-07T11:30"),
                ("draw_closes", "2026-12-08T12:00"),
                ("line", "1"),
                ("admit_per_minute", "60")
            ]),
            ["line"]
        );
    }

    #[test]
    fn a_draw_left_alone_unless_its_fields_were_on_the_form() {
        let spec = |form: ProductForm| {
            form.validate(now(), false, &HashSet::new())
                .unwrap_or_else(|e| panic!("{e:?}"))
                .draw
        };
        assert_eq!(spec(filled(&[])), DrawChoice::Keep, "a post without them");
        assert_eq!(spec(filled(&[("draw_state", "open")])), DrawChoice::Off);
        let closed = filled(&[("draw_state", "closed"), ("draw", "1")]);
        assert_eq!(
            spec(closed),
            DrawChoice::Keep,
            "a closed draw is not changed"
        );
        // A product's form shows its draw; one already closed is shown as closed.
        let window = Window::new(now() - chrono::Duration::hours(2), now()).unwrap();
        let shown = filled(&[]).with_draw(Some(window), now());
        assert_eq!(
            (
                shown.draw,
                shown.draw_opens.as_str(),
                shown.draw_state.as_str()
            ),
            (true, "2026-12-07T10:00", "closed")
        );
    }
}
