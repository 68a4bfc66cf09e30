//! The store's own error page, for every refusal a page request can meet.

use maud::{Markup, html};

use super::layout::{Meta, page};

pub fn error_page(code: u16, title: &str, message: &str) -> Markup {
    page(
        title,
        Meta::None,
        html! {
            section.error-page {
                p.error-page__code { (code) }
                h1 { (title) }
                p { (message) }
                a.button.button--primary href="/" { "Back to the drops" }
            }
        },
    )
}
