//! What every request passes through, apart from what it asks for: the HTTP server itself,
//! the client's address, rate limits, the session cookie, the device cookie, `Secure` on every cookie over HTTPS, CSRF, admin auth, the extractors
//! that refuse in the store's words, and typed errors turned into pages and JSON.

pub mod auth;
pub mod client;
pub mod csrf;
pub mod device_cookie;
pub mod error;
pub mod extract;
pub mod limits;
pub mod secure_cookies;
pub mod serve;
pub mod session;
