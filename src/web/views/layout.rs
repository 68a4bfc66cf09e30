use maud::{DOCTYPE, Markup, html};

use crate::web::assets::asset_url;
use crate::web::session::PageMeta;

/// What a page's `<meta>` tags hand the shim.
#[derive(Clone, Copy)]
pub enum Tokens<'a> {
    None,
    Shopper(&'a PageMeta),
    /// The admin socket's token.
    Admin(&'a str),
}

/// The frame of every page. With tokens, the shim makes it live.
pub fn page(title: &str, tokens: Tokens, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Sneakers" }
                @match tokens {
                    Tokens::Shopper(meta) => {
                        meta name="socket-token" content=(meta.socket_token);
                        meta name="cart-id" content=(meta.cart_id);
                        meta name="csrf-token" content=(meta.csrf_token);
                    }
                    Tokens::Admin(token) => { meta name="admin-token" content=(token); }
                    Tokens::None => {}
                }
                meta name="description" content="Live sneaker drops: sizes update as pairs sell.";
                link rel="icon" type="image/svg+xml" href=(asset_url("images/favicon.svg"));
                link rel="stylesheet" href=(asset_url("css/app.css"));
                script src=(asset_url("app.js")) defer {}
            }
            body {
                header.site-header {
                    div.site-header__inner {
                        a.brand href="/" { "Sneakers" }
                        nav.site-nav {
                            a href="/" { "Drops" }
                            a.cart-link href="/checkout" {
                                "Cart"
                                @if let Tokens::Shopper(meta) = tokens {
                                    " " span.cart-link__count { (meta.cart_count) }
                                }
                            }
                        }
                    }
                }
                div #connection-status .connection-status hidden role="status" { "Reconnecting…" }
                main.page { (body) }
                footer.site-footer {
                    p { "Sneakers · live drops, first come first served. Sizes update as pairs sell." }
                }
            }
        }
    }
}
