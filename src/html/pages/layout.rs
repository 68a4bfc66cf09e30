use maud::{DOCTYPE, Markup, html};

use crate::domain::Shopper;
use crate::domain::token::Tokens;
use crate::html::assets::asset_url;

/// What every shopper page carries in its `<meta>` tags.
pub struct PageMeta {
    pub cart_id: String,
    pub socket_token: String,
    pub csrf_token: String,
    /// Pairs in the cart, for the header's count (as text: a page template holds a marker).
    pub cart_count: String,
}

impl PageMeta {
    pub fn new(tokens: &Tokens, shopper: &Shopper) -> PageMeta {
        PageMeta {
            cart_id: shopper.cart_id.clone(),
            cart_count: "0".into(),
            socket_token: tokens
                .socket
                .sign(&shopper.subject(), chrono::Utc::now().timestamp_millis()),
            csrf_token: tokens.csrf_for(&shopper.cart_id),
        }
    }
}

/// What a page's `<meta>` tags hand the shim: nothing (it stays a plain page), a shopper's
/// tokens, or the admin socket's token.
#[derive(Clone, Copy)]
pub enum Meta<'a> {
    None,
    Shopper(&'a PageMeta),
    Admin(&'a str),
}

/// The shim's modules, imported by `app.js` by relative path (so not fingerprinted: they are
/// revalidated by ETag), preloaded so the browser fetches them at once rather than in turn.
const SHIM_MODULES: [&str; 6] = [
    "js/socket.js",
    "js/backoff.js",
    "js/dom.js",
    "js/countdown.js",
    "js/forms.js",
    "js/navigate.js",
];

fn module_url(path: &str) -> String {
    // Checked like every linked asset: a missing module fails the first page, not a browser.
    let _ = asset_url(path);
    format!("/static/{path}")
}

/// The frame of every page. With tokens, the shim makes it live.
pub fn page(title: &str, head: Meta, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Sneakers" }
                @match head {
                    Meta::Shopper(meta) => {
                        meta name="socket-token" content=(meta.socket_token);
                        meta name="cart-id" content=(meta.cart_id);
                        meta name="csrf-token" content=(meta.csrf_token);
                    }
                    Meta::Admin(token) => { meta name="admin-token" content=(token); }
                    Meta::None => {}
                }
                meta name="description" content="Live sneaker drops: sizes update as pairs sell.";
                link rel="icon" type="image/svg+xml" href=(asset_url("images/favicon.svg"));
                link rel="stylesheet" href=(asset_url("css/app.css"));
                script type="module" src=(asset_url("app.js")) {}
                @for module in SHIM_MODULES {
                    link rel="modulepreload" href=(module_url(module));
                }
            }
            body {
                header.site-header {
                    div.site-header__inner {
                        a.brand href="/" { "Sneakers" }
                        nav.site-nav {
                            a.nav-drops href="/" { "Drops" }
                            a href="/account" { "Account" }
                            a.cart-link href="/checkout" {
                                "Cart"
                                @if let Meta::Shopper(meta) = head {
                                    " " span.cart-link__count { (meta.cart_count) }
                                }
                            }
                        }
                    }
                }
                div #connection-status .connection-status hidden role="status" { "Reconnecting…" }
                // What the shim says aloud (stock changes, drops, cart warnings), in the
                // server's words; it outlives navigation, so it is outside the main region.
                div #announcer .visually-hidden aria-live="polite" {}
                // The region live navigation swaps; focused (not tabbable) after it.
                main #main .page tabindex="-1" { (body) }
                footer.site-footer {
                    p { "Sneakers · live drops, first come first served. Sizes update as pairs sell." }
                }
            }
        }
    }
}
