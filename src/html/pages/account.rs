//! Accounts: the signup and login forms, the pages of a signup's mailed link, and the account
//! page with the shopper's orders.

use maud::{Markup, html};

use super::layout::{Meta, PageMeta, page};
use crate::domain::money::format_cents;
use crate::domain::order::Order;
use crate::html::fragments::order_state::order_state;

/// Which form, and where it posts.
#[derive(Clone, Copy)]
pub enum Form {
    Signup,
    Login,
}

/// What a form shows again after a refusal.
pub struct FormState<'a> {
    pub email: &'a str,
    pub error: Option<&'a str>,
    /// Login only: where to go afterwards (a same-site path).
    pub next: Option<&'a str>,
}

pub fn form(meta: &PageMeta, which: Form, state: &FormState) -> Markup {
    let (title, action, button, other) = match which {
        Form::Signup => (
            "Create an account",
            "/account/signup",
            "Create account",
            html! { "Already have one? " a href="/account/login" { "Sign in" } },
        ),
        Form::Login => (
            "Sign in",
            "/account/login",
            "Sign in",
            html! { "New here? " a href="/account/signup" { "Create an account" } },
        ),
    };
    page(
        title,
        Meta::Shopper(meta),
        html! {
            section.checkout.account-form {
                h1 { (title) }
                @if let Some(error) = state.error {
                    div #form-error .notice.notice--error role="alert" { (error) }
                }
                form method="post" action=(action) {
                    input type="hidden" name="_csrf_token" value=(meta.csrf_token);
                    @if let Some(next) = state.next {
                        input type="hidden" name="next" value=(next);
                    }
                    p {
                        label for="email" { "Email" }
                        input #email type="email" name="email" value=(state.email) required autocomplete="email";
                    }
                    p {
                        label for="password" { "Password" }
                        @match which {
                            Form::Signup => input #password type="password" name="password" required minlength="10" autocomplete="new-password";,
                            Form::Login => input #password type="password" name="password" required autocomplete="current-password";,
                        }
                        @if let Form::Signup = which { small { "At least 10 characters." } }
                    }
                    button.button.button--primary type="submit" { (button) }
                }
                p { (other) }
            }
        },
    )
}

/// After a signup, whatever the address: the same page for a new address and a registered one.
pub fn signup_sent(meta: &PageMeta) -> Markup {
    page(
        "Check your email",
        Meta::Shopper(meta),
        html! {
            section.checkout.account-form #signup-sent {
                h1 { "Check your email" }
                p {
                    "We have sent a mail to the address you gave. Open the link in it to finish "
                    "making your account; it works for 24 hours."
                }
                p { "No mail? Look in your spam folder, or " a href="/account/signup" { "try again" } "." }
            }
        },
    )
}

/// A mailed link, opened: one button confirms it (a link scanner that only fetches the page
/// confirms nothing).
pub fn confirm(meta: &PageMeta, token: &str) -> Markup {
    page(
        "Confirm your email",
        Meta::Shopper(meta),
        html! {
            section.checkout.account-form #confirm-email {
                h1 { "Confirm your email" }
                p { "Confirm this address to finish making your account, or to verify it for the one you have." }
                form method="post" action="/account/verify" {
                    input type="hidden" name="_csrf_token" value=(meta.csrf_token);
                    input type="hidden" name="token" value=(token);
                    button.button.button--primary #confirm type="submit" { "Confirm my email" }
                }
            }
        },
    )
}

/// A mailed link that cannot be followed (any more), and why.
pub fn link_refused(meta: &PageMeta, message: &str) -> Markup {
    page(
        "This link does not work",
        Meta::Shopper(meta),
        html! {
            section.checkout.account-form #link-refused {
                h1 { "This link does not work" }
                div #form-error .notice.notice--error role="alert" { (message) }
                p { a href="/account/login" { "Sign in" } " or " a href="/account/signup" { "sign up again" } "." }
            }
        },
    )
}

/// What the account page says above its forms after a post.
pub struct Notices<'a> {
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
}

pub fn show(
    meta: &PageMeta,
    email: &str,
    verified: bool,
    orders: &[Order],
    notices: &Notices,
    entries: Markup,
) -> Markup {
    page(
        "Your account",
        Meta::Shopper(meta),
        html! {
            section.checkout.account {
                h1 { "Your account" }
                p { "Signed in as " strong #account-email { (email) } "." }
                div #account-verification data-verified=(verified) {
                    @if verified {
                        p { "Your email is verified." }
                    } @else {
                        p { "Your email is not verified yet: limited pairs and waiting lines need a verified email." }
                        form method="post" action="/account/verify/send" {
                            input type="hidden" name="_csrf_token" value=(meta.csrf_token);
                            button.button #send-verification type="submit" { "Mail me a link" }
                        }
                    }
                }
                @if let Some(notice) = notices.notice {
                    div #account-notice .notice role="status" { (notice) }
                }
                @if let Some(error) = notices.error {
                    div #form-error .notice.notice--error role="alert" { (error) }
                }
                div.account__actions {
                    form method="post" action="/account/logout" {
                        input type="hidden" name="_csrf_token" value=(meta.csrf_token);
                        button.button type="submit" { "Sign out" }
                    }
                    form method="post" action="/account/logout/everywhere" {
                        input type="hidden" name="_csrf_token" value=(meta.csrf_token);
                        button.button #logout-everywhere type="submit" { "Sign out everywhere" }
                    }
                }
                h2 { "Change your password" }
                form.account-form #password-form method="post" action="/account/password" {
                    input type="hidden" name="_csrf_token" value=(meta.csrf_token);
                    p {
                        label for="current_password" { "Current password" }
                        input #current_password type="password" name="current_password" required autocomplete="current-password";
                    }
                    p {
                        label for="new_password" { "New password" }
                        input #new_password type="password" name="new_password" required minlength="10" autocomplete="new-password";
                        small { "At least 10 characters. Every other browser is signed out." }
                    }
                    button.button type="submit" { "Change password" }
                }
                (entries)
                h2 { "Your orders" }
                @if orders.is_empty() {
                    p.orders-empty { "No orders yet. Your pairs will show here." }
                }
                @for order in orders {
                    article.order data-order-id=(order.id) {
                        h3 {
                            "Order #" (order.id) " · "
                            time datetime=(order.placed_at.to_rfc3339()) { (order.placed_at.format("%Y-%m-%d %H:%M UTC")) }
                        }
                        (order_state(order.id, order.state))
                        table.table {
                            thead { tr { th { "Pair" } th { "Size" } th { "Price" } } }
                            tbody {
                                @for pair in &order.lines {
                                    tr { td { (pair.brand) " " (pair.name) } td { (pair.size) } td { (format_cents(pair.price_cents.into())) } }
                                }
                            }
                        }
                        p.checkout__total { "Total " strong { (format_cents(order.total_cents.into())) } }
                    }
                }
            }
        },
    )
}
