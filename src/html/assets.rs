//! Static files embedded in the binary (one file to deploy), and the fingerprinted URLs pages
//! link to them by (`?v=<content hash>`).

use std::collections::HashMap;
use std::sync::OnceLock;

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "static/"]
pub struct Assets;

pub fn hashes() -> &'static HashMap<String, String> {
    static HASHES: OnceLock<HashMap<String, String>> = OnceLock::new();
    HASHES.get_or_init(|| {
        Assets::iter()
            .filter_map(|path| {
                let file = Assets::get(&path)?;
                let hex: String = file.metadata.sha256_hash()[..8]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                Some((path.into_owned(), hex))
            })
            .collect()
    })
}

/// The URL to link to: fingerprinted, so browsers may cache it for good. Pages link only to
/// files of `static/`, named by constants.
pub fn asset_url(path: &str) -> String {
    let hash = hashes()
        .get(path)
        .expect("pages link only to files embedded from static/");
    format!("/static/{path}?v={hash}")
}
