//! Who is asking: the client's address, for rate limits. It is the TCP peer, unless the peer is
//! one of `TRUSTED_PROXIES` (the platform's router): then `X-Forwarded-For`, read from the
//! right, names it (the nearest address no trusted proxy stands for). Behind a Heroku-style
//! router (`DYNO` set, no `TRUSTED_PROXIES`) it is the last hop, the one the router appended.
//! Anything else in that header is the client's own say-so and is not believed.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::error::{Audience, Refusal, Refused};
use crate::config::TrustedProxies;
use crate::config::limits::canonical;
use crate::web::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The client's address as the peer and the trusted proxies say.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let mut client = canonical(peer);
    if !trusted.contains(client) {
        return client;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if trusted.is_platform_router() {
        // The router appends the address it was reached from; one it could not write (none,
        // or unreadable) leaves the router's own.
        return hops
            .last()
            .and_then(|hop| hop.parse::<IpAddr>().ok())
            .map_or(client, canonical);
    }
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(address) => {
                client = canonical(address);
                if !trusted.contains(client) {
                    break;
                }
            }
            // A hop we cannot read: the last one we could is as far as the chain is known.
            Err(_) => break,
        }
    }
    client
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refusal> {
        // `serve` puts the peer on every request; without it the route was wired wrongly.
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            tracing::error!(path = %parts.uri.path(), "a request without its peer address");
            return Err(Refused::Internal.to(Audience::of(parts.uri.path())));
        };
        Ok(ClientAddr(client_address(
            peer.ip(),
            &parts.headers,
            &state.config.connections.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|_| panic!("{text}"))
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.2"),
        );
        let none = TrustedProxies::default();
        let router: TrustedProxies = "10.0.0.0/8".parse().unwrap_or_default();
        // No trusted proxy: the peer, whatever the header claims.
        assert_eq!(
            client_address(ip("10.0.0.1"), &headers, &none),
            ip("10.0.0.1")
        );
        // From the router: the nearest untrusted hop, not the forgeable leftmost one.
        assert_eq!(
            client_address(ip("10.0.0.1"), &headers, &router),
            ip("203.0.113.7")
        );
        // A peer that is not the router is the client, header or not.
        assert_eq!(
            client_address(ip("198.51.100.1"), &headers, &router),
            ip("198.51.100.1")
        );
        // An unreadable hop ends the chain at the last readable one.
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("junk, 10.0.0.3"),
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &headers, &router),
            ip("10.0.0.3")
        );
        assert_eq!(
            client_address(ip("::ffff:10.0.0.1"), &HeaderMap::new(), &router),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn behind_the_platform_router_the_hop_it_appended_is_the_client() {
        let router = TrustedProxies::platform_router();
        let mut headers = HeaderMap::new();
        // The shopper wrote the first two; the router appended the address it saw.
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 10.0.0.9, 203.0.113.7"),
        );
        // Whatever the router's own address is.
        for peer in ["10.1.2.3", "54.1.2.3", "::ffff:172.16.0.1"] {
            assert_eq!(
                client_address(ip(peer), &headers, &router),
                ip("203.0.113.7")
            );
        }
        // Nothing appended: the router's own address.
        assert_eq!(
            client_address(ip("10.1.2.3"), &HeaderMap::new(), &router),
            ip("10.1.2.3")
        );
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, junk"));
        assert_eq!(
            client_address(ip("10.1.2.3"), &headers, &router),
            ip("10.1.2.3")
        );
    }
}
