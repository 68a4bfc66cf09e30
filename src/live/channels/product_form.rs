//! `#product-form` checked as the admin types: the fields come over the admin socket
//! (`validate`, see `forms`), the channel re-renders the form from them with the same rules a
//! plain post runs (`domain::product_form`), and the shim morphs it in place. Only a field the
//! admin has filled in, or is in now, shows that it is empty: a new form is not all red at the
//! first keystroke.

use chrono::Utc;

use super::HandleResult;
use super::forms::{self, Change};
use crate::domain::ProductId;
use crate::domain::product_form::{FieldErrors, ProductForm};
use crate::html::fragments::product_form::{FormContext, product_form};
use crate::live::Live;

pub fn validate(live: &Live, change: &Change) -> HandleResult {
    let form = ProductForm::from_fields(change.pairs());
    let product_id = change
        .field("product_id")
        .and_then(|id| id.parse::<ProductId>().ok());
    // An existing product's state comes from the cache; which sizes are sold, from the form
    // (the post checks the database again).
    let released = match product_id {
        Some(id) => match live.inventory.read(|c| c.product(id).map(|p| p.released)) {
            Some(released) => released,
            None => return forms::unknown_form(),
        },
        None => false,
    };
    let sold = form.sold_sizes();
    let errors = match form.validate(Utc::now(), released, &sold) {
        Ok(_) => FieldErrors::new(),
        Err(errors) => shown_errors(errors, &form, change.target()),
    };
    let ctx = FormContext {
        product_id,
        released,
        sold: &sold,
        notice: None,
        live: true,
    };
    forms::rendered(product_form(&form, &errors, &ctx).into_string())
}

/// The errors of fields the admin has typed in (or is in now).
fn shown_errors(errors: FieldErrors, form: &ProductForm, target: Option<&str>) -> FieldErrors {
    errors
        .into_iter()
        .filter(|(field, _)| Some(field.as_str()) == target || !form.is_blank(field))
        .collect()
}
