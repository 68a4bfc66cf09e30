//! `#product-form`: the admin's form for one product (new or existing), drawn from what was
//! typed, with each field's error beside it. A plain post re-renders it with the same errors
//! a live check shows.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::domain::catalog::MAX_LIMIT;
use crate::domain::product_fields::{
    MAX_DESCRIPTION, MAX_NAME, MAX_SIZE_LABEL, MAX_SKU, parse_local_time, parse_offset,
};
use crate::domain::product_form::{FieldErrors, MAX_ADMIT_PER_MINUTE, ProductForm};
use crate::domain::{ItemId, ProductId};

/// What the form needs besides the typed values.
pub struct FormContext<'a> {
    /// `None` for a new product.
    pub product_id: Option<ProductId>,
    /// On sale already: the release choices are "keep on sale" and "back to draft".
    pub released: bool,
    /// Sizes with pairs sold: they cannot be removed.
    pub sold: &'a HashSet<ItemId>,
    /// A notice above the form ("Saved.", "changed by another admin…").
    pub notice: Option<Notice<'a>>,
    /// Checked as the admin types, over the admin socket (`validate`); the page must carry
    /// the admin token for the shim to join it.
    pub live: bool,
}

pub enum Notice<'a> {
    Saved,
    Problem(&'a str),
}

pub const FORM_ID: &str = "product-form";

fn error_id(field: &str) -> String {
    format!("f-{field}-error")
}

/// A labelled text input with its error.
fn text_field(
    name: &str,
    label: &str,
    value: &str,
    max: usize,
    errors: &FieldErrors,
    extra: Option<&str>,
) -> Markup {
    let error = errors.get(name);
    html! {
        div.field {
            label for=(format!("f-{name}")) { (label) }
            input id=(format!("f-{name}")) type="text" name=(name) value=(value) maxlength=(max * 2)
                inputmode=[extra] aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| error_id(name))];
            (field_error(name, error))
        }
    }
}

fn field_error(name: &str, error: Option<&String>) -> Markup {
    html! {
        @if let Some(error) = error {
            p.field-error id=(error_id(name)) { (error) }
        }
    }
}

/// Every UTC offset in use, in quarter hours from -12:00 to +14:00.
fn offsets() -> impl Iterator<Item = String> {
    (-48..=56).map(|quarter: i32| {
        let sign = if quarter < 0 { '-' } else { '+' };
        let minutes = quarter.unsigned_abs() * 15;
        format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    })
}

/// "= 2026-12-24 17:00 UTC" for a release time the form can read.
fn in_utc(form: &ProductForm) -> Option<DateTime<Utc>> {
    let offset = parse_offset(&form.release_offset).ok()?;
    parse_local_time(&form.release_at, offset).ok()
}

pub fn product_form(form: &ProductForm, errors: &FieldErrors, ctx: &FormContext) -> Markup {
    let action = match ctx.product_id {
        Some(id) => format!("/admin/products/{id}"),
        None => "/admin/products".to_string(),
    };
    let offsets: Vec<String> = offsets().collect();
    let choices: &[(&str, &str)] = if ctx.released {
        &[
            ("now", "On sale"),
            ("draft", "Back to draft (hidden from shoppers)"),
        ]
    } else {
        &[
            ("draft", "Draft (hidden from shoppers)"),
            ("soon", "Coming soon, no date yet"),
            ("at", "Drops at a date and time"),
            ("now", "Release now"),
        ]
    };
    html! {
        form.admin-form id=(FORM_ID) method="post" action=(action) novalidate
            data-change=[ctx.live.then_some("validate")] {
            @if let Some(id) = ctx.product_id { input type="hidden" name="product_id" value=(id); }
            input type="hidden" name="revision" value=(form.revision);
            @match &ctx.notice {
                Some(Notice::Saved) => p.notice.notice--ok role="status" { "Saved." },
                Some(Notice::Problem(text)) => p.notice.notice--error role="alert" { (text) },
                None => {}
            }
            @if !errors.is_empty() {
                p.notice.notice--error role="alert" {
                    @if errors.len() == 1 { "One field needs attention." }
                    @else { (errors.len()) " fields need attention." }
                }
            }
            fieldset {
                legend { "Product" }
                (text_field("brand", "Brand", &form.brand, MAX_NAME, errors, None))
                (text_field("name", "Name", &form.name, MAX_NAME, errors, None))
                (text_field("color", "Colour", &form.color, MAX_NAME, errors, None))
                (text_field("sku", "SKU", &form.sku, MAX_SKU, errors, None))
                (text_field("price", "Price (USD)", &form.price, 20, errors, Some("decimal")))
                div.field {
                    label for="f-description" { "Description (plain paragraphs, a blank line between them)" }
                    @let error = errors.get("description");
                    textarea id="f-description" name="description" rows="5" maxlength=(MAX_DESCRIPTION)
                        aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[error.map(|_| error_id("description"))] { (form.description) }
                    (field_error("description", error))
                }
            }
            fieldset {
                legend { "Sizes" }
                (field_error("sizes", errors.get("sizes")))
                table.table.admin-sizes {
                    thead { tr { th { "Size" } th { "SKU (blank: derived)" } th.num { "Pairs" } th { "" } } }
                    tbody {
                        @for (n, row) in form.sizes.iter().enumerate() {
                            @let f = |name: &str| format!("size-{n}-{name}");
                            @let sold = row.id.is_some_and(|id| row.sold || ctx.sold.contains(&id));
                            tr id=(format!("size-row-{n}")) {
                                td {
                                    @if let Some(id) = row.id { input type="hidden" name=(f("id")) value=(id); }
                                    input type="hidden" name=(f("was")) value=(row.was);
                                    @if sold { input type="hidden" name=(f("sold")) value="1"; }
                                    @let label_error = errors.get(&f("label"));
                                    input id=(format!("f-{}", f("label"))) type="text" name=(f("label")) value=(row.label)
                                        size="8" maxlength=(MAX_SIZE_LABEL * 2) aria-label=(format!("Size {}", n + 1))
                                        placeholder="9.5, US 10, EU 44"
                                        aria-invalid=[label_error.map(|_| "true")]
                                        aria-describedby=[label_error.map(|_| error_id(&f("label")))];
                                    (field_error(&f("label"), label_error))
                                }
                                td {
                                    @let sku_error = errors.get(&f("sku"));
                                    input id=(format!("f-{}", f("sku"))) type="text" name=(f("sku")) value=(row.sku)
                                        size="14" maxlength=(MAX_SKU * 2) aria-label=(format!("SKU of size {}", n + 1))
                                        aria-invalid=[sku_error.map(|_| "true")]
                                        aria-describedby=[sku_error.map(|_| error_id(&f("sku")))];
                                    (field_error(&f("sku"), sku_error))
                                }
                                td.num {
                                    @let stock_error = errors.get(&f("stock"));
                                    input id=(format!("f-{}", f("stock"))) type="number" name=(f("stock")) value=(row.stock)
                                        min="0" size="6" inputmode="numeric" aria-label=(format!("Pairs of size {}", n + 1))
                                        aria-invalid=[stock_error.map(|_| "true")]
                                        aria-describedby=[stock_error.map(|_| error_id(&f("stock")))];
                                    (field_error(&f("stock"), stock_error))
                                }
                                td {
                                    button.button.button--small type="submit" name="op" value=(format!("up-{n}"))
                                        aria-label=(format!("Move size {} up", n + 1)) disabled[n == 0] { "↑" }
                                    button.button.button--small type="submit" name="op" value=(format!("down-{n}"))
                                        aria-label=(format!("Move size {} down", n + 1)) disabled[n + 1 == form.sizes.len()] { "↓" }
                                    @if sold {
                                        span.muted { " sold: set to 0 to stop selling" }
                                    } @else if row.id.is_some() {
                                        label { input type="checkbox" name=(f("remove")) value="1" checked[row.remove]; " Remove" }
                                    }
                                    (field_error(&f("remove"), errors.get(&f("remove"))))
                                }
                            }
                        }
                    }
                }
                button.button type="submit" name="op" value="add_size" { "Add a size" }
            }
            fieldset {
                legend { "Selling" }
                div.field {
                    label for="f-max_per_customer" { "Pairs per customer (blank: no limit)" }
                    @let error = errors.get("max_per_customer");
                    input id="f-max_per_customer" type="number" name="max_per_customer" min="0" max=(MAX_LIMIT)
                        value=(form.max_per_customer) aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[error.map(|_| error_id("max_per_customer"))];
                    (field_error("max_per_customer", error))
                }
                div.field {
                    label { input type="checkbox" name="line" value="1" checked[form.line]; " Waiting line" }
                    label for="f-admit_per_minute" { "Shoppers let in per minute" }
                    @let error = errors.get("admit_per_minute");
                    input id="f-admit_per_minute" type="number" name="admit_per_minute" min="1" max=(MAX_ADMIT_PER_MINUTE)
                        value=(form.admit_per_minute) aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[error.map(|_| error_id("admit_per_minute"))];
                    (field_error("admit_per_minute", error))
                    (field_error("line", errors.get("line")))
                }
                (draw_fields(form, errors))
            }
            fieldset {
                legend { "Release" }
                @for (value, label) in choices {
                    label.choice {
                        input type="radio" name="release" value=(value) checked[form.release == *value];
                        " " (label)
                    }
                }
                (field_error("release", errors.get("release")))
                @if !ctx.released {
                    div.field {
                        label for="f-release_at" { "Date and time (your time zone)" }
                        @let error = errors.get("release_at");
                        input id="f-release_at" type="datetime-local" name="release_at" value=(form.release_at)
                            aria-invalid=[error.map(|_| "true")]
                            aria-describedby=[error.map(|_| error_id("release_at"))];
                        (field_error("release_at", error))
                        label for="f-release_offset" { "Your time zone (offset from UTC)" }
                        select id="f-release_offset" name="release_offset" data-local-offset
                            data-local-offset-for="release_at" {
                            @if !offsets.contains(&form.release_offset) {
                                option value=(form.release_offset) selected { (form.release_offset) }
                            }
                            @for offset in &offsets {
                                option value=(offset) selected[*offset == form.release_offset] { "UTC" (offset) }
                            }
                        }
                        (field_error("release_offset", errors.get("release_offset")))
                        @if let Some(at) = in_utc(form) {
                            p.muted id="f-release-utc" { "That is " time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M UTC")) } "." }
                        }
                    }
                }
            }
            button.button.button--primary type="submit" name="op" value="save" { "Save" }
        }
    }
}

/// Draw mode and its entry window, in UTC; a window already past is shown as it was, not
/// offered for change (its entries were decided by it).
fn draw_fields(form: &ProductForm, errors: &FieldErrors) -> Markup {
    html! {
        div.field id="f-draw" {
            input type="hidden" name="draw_state" value=(form.draw_state);
            @if form.draw_state == "closed" {
                input type="hidden" name="draw" value="1";
                input type="hidden" name="draw_opens" value=(form.draw_opens);
                input type="hidden" name="draw_closes" value=(form.draw_closes);
                p { "Sold by draw: entries were taken from " (form.draw_opens.replace('T', " "))
                    " to " (form.draw_closes.replace('T', " ")) " UTC; the window is past." }
            } @else {
                label { input type="checkbox" name="draw" value="1" checked[form.draw];
                    " Draw: shoppers enter during a window, winners are drawn at its close" }
                @for (name, label) in [("draw_opens", "Entries open (UTC)"), ("draw_closes", "Entries close (UTC)")] {
                    @let error = errors.get(name);
                    label for=(format!("f-{name}")) { (label) }
                    input id=(format!("f-{name}")) type="datetime-local" name=(name)
                        value=(if name == "draw_opens" { &form.draw_opens } else { &form.draw_closes })
                        aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[error.map(|_| error_id(name))];
                    (field_error(name, error))
                }
            }
        }
    }
}
