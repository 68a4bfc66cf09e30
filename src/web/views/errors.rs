use maud::{Markup, html};

use super::layout::page;

pub fn error_page(code: u16, title: &str, message: &str) -> Markup {
    page(
        title,
        super::layout::Tokens::None,
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
