//! A page split into the parts every visitor shares (the catalog: rendered and compressed once
//! per change) and the slots that are each visitor's own (socket token, cart id, CSRF token,
//! cart count, cart panel, flash). Filling it costs a copy, not a render.
//!
//! Compressed answers are spliced, not compressed: each shared part is deflated on its own and
//! ends byte-aligned (a sync flush), each slot's text goes in as a stored block, and the gzip
//! trailer's CRC is the shared parts' precomputed CRCs combined with the slots'. The result is
//! one ordinary gzip member (RFC 1951/1952) any browser reads.

use std::io::Write;

use crc32fast::Hasher;
use flate2::Compression;
use flate2::write::DeflateEncoder;

/// What differs from one visitor to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    SocketToken,
    CartId,
    Csrf,
    CartCount,
    CartPanel,
    Flash,
}

const SLOTS: [Slot; 6] = [
    Slot::SocketToken,
    Slot::CartId,
    Slot::Csrf,
    Slot::CartCount,
    Slot::CartPanel,
    Slot::Flash,
];

/// Marks a slot in a page rendered for the template. Control characters never occur in the
/// store's own text and pass through maud's escaping as they are.
pub fn marker(slot: Slot) -> &'static str {
    match slot {
        Slot::SocketToken => "\u{1}slot:socket-token\u{1}",
        Slot::CartId => "\u{1}slot:cart-id\u{1}",
        Slot::Csrf => "\u{1}slot:csrf\u{1}",
        Slot::CartCount => "\u{1}slot:cart-count\u{1}",
        Slot::CartPanel => "\u{1}slot:cart-panel\u{1}",
        Slot::Flash => "\u{1}slot:flash\u{1}",
    }
}

/// One visitor's values for the slots. Every value is HTML already (tokens and ids are
/// URL-safe characters only; the panel and flash are rendered markup).
pub struct Fill<'a> {
    pub socket_token: &'a str,
    pub cart_id: &'a str,
    pub csrf: &'a str,
    pub cart_count: &'a str,
    pub cart_panel: &'a str,
    pub flash: &'a str,
}

impl Fill<'_> {
    fn get(&self, slot: Slot) -> &str {
        match slot {
            Slot::SocketToken => self.socket_token,
            Slot::CartId => self.cart_id,
            Slot::Csrf => self.csrf,
            Slot::CartCount => self.cart_count,
            Slot::CartPanel => self.cart_panel,
            Slot::Flash => self.flash,
        }
    }
}

struct Shared {
    text: String,
    deflated: Vec<u8>,
    crc: Hasher,
}

enum Segment {
    Shared(Shared),
    Slot(Slot),
}

pub struct Template {
    segments: Vec<Segment>,
    shared_len: usize,
    shared_deflated_len: usize,
}

/// A gzip member's header: deflate, no name, no time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// The last block: empty, stored, final.
const FINAL_BLOCK: [u8; 5] = [0x01, 0x00, 0x00, 0xff, 0xff];
const MAX_STORED: usize = u16::MAX as usize;

fn deflate(text: &str) -> Vec<u8> {
    let mut encoder =
        DeflateEncoder::new(Vec::with_capacity(text.len() / 4), Compression::default());
    encoder
        .write_all(text.as_bytes())
        .expect("writing to a Vec cannot fail");
    // A sync flush ends the part on a byte boundary without ending the stream.
    encoder.flush().expect("writing to a Vec cannot fail");
    let deflated = encoder.get_ref().clone();
    // Dropping the encoder would finish the stream into the (discarded) Vec: harmless.
    deflated
}

impl Template {
    /// Splits a page rendered with [`marker`]s into shared parts and slots.
    pub fn new(page: &str) -> Template {
        let mut segments = Vec::new();
        let mut rest = page;
        loop {
            let next = SLOTS
                .iter()
                .filter_map(|slot| rest.find(marker(*slot)).map(|at| (at, *slot)))
                .min_by_key(|(at, _)| *at);
            let (text, slot) = match next {
                Some((at, slot)) => (&rest[..at], Some(slot)),
                None => (rest, None),
            };
            if !text.is_empty() {
                let mut crc = Hasher::new();
                crc.update(text.as_bytes());
                segments.push(Segment::Shared(Shared {
                    text: text.to_string(),
                    deflated: deflate(text),
                    crc,
                }));
            }
            match slot {
                Some(slot) => {
                    segments.push(Segment::Slot(slot));
                    rest = &rest[text.len() + marker(slot).len()..];
                }
                None => break,
            }
        }
        let shared = || {
            segments.iter().filter_map(|s| match s {
                Segment::Shared(shared) => Some(shared),
                Segment::Slot(_) => None,
            })
        };
        Template {
            shared_len: shared().map(|s| s.text.len()).sum(),
            shared_deflated_len: shared().map(|s| s.deflated.len()).sum(),
            segments,
        }
    }

    /// The page for one visitor, as it is.
    pub fn plain(&self, fill: &Fill) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.shared_len + 4096);
        for segment in &self.segments {
            match segment {
                Segment::Shared(shared) => out.extend_from_slice(shared.text.as_bytes()),
                Segment::Slot(slot) => out.extend_from_slice(fill.get(*slot).as_bytes()),
            }
        }
        out
    }

    /// The page for one visitor, gzipped.
    pub fn gzip(&self, fill: &Fill) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.shared_deflated_len + 4096);
        out.extend_from_slice(&GZIP_HEADER);
        let mut crc = Hasher::new();
        let mut len: usize = 0;
        for segment in &self.segments {
            match segment {
                Segment::Shared(shared) => {
                    out.extend_from_slice(&shared.deflated);
                    crc.combine(&shared.crc);
                    len += shared.text.len();
                }
                Segment::Slot(slot) => {
                    let text = fill.get(*slot).as_bytes();
                    crc.update(text);
                    len += text.len();
                    for block in text.chunks(MAX_STORED) {
                        // A stored block, not final: header bits 000 padded to a byte, then
                        // LEN and its complement, little-endian.
                        let n = block.len() as u16;
                        out.push(0);
                        out.extend_from_slice(&n.to_le_bytes());
                        out.extend_from_slice(&(!n).to_le_bytes());
                        out.extend_from_slice(block);
                    }
                }
            }
        }
        out.extend_from_slice(&FINAL_BLOCK);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        // ISIZE is the length modulo 2^32.
        out.extend_from_slice(&(len as u32).to_le_bytes());
        out
    }
}

/// Whether an `Accept-Encoding` value takes gzip (a `q=0` refuses it).
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|part| {
        let mut fields = part.split(';').map(str::trim);
        let name = fields.next().unwrap_or_default();
        let refused = fields.any(|f| {
            f.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn page() -> String {
        let shared = "<p>size 9.5 low</p>".repeat(200);
        format!(
            "<head><meta content=\"{}\"><meta content=\"{}\"></head><body>{shared}<form>{}</form>{shared}<b>{}</b>{}{}<form>{}</form></body>",
            marker(Slot::SocketToken),
            marker(Slot::CartId),
            marker(Slot::Csrf),
            marker(Slot::CartCount),
            marker(Slot::Flash),
            marker(Slot::CartPanel),
            marker(Slot::Csrf),
        )
    }

    fn fill(panel: &str) -> Fill<'_> {
        Fill {
            socket_token: "tok.en",
            cart_id: "cart123",
            csrf: "csrf-x",
            cart_count: "2",
            cart_panel: panel,
            flash: "",
        }
    }

    fn expected(panel: &str) -> String {
        page()
            .replace(marker(Slot::SocketToken), "tok.en")
            .replace(marker(Slot::CartId), "cart123")
            .replace(marker(Slot::Csrf), "csrf-x")
            .replace(marker(Slot::CartCount), "2")
            .replace(marker(Slot::Flash), "")
            .replace(marker(Slot::CartPanel), panel)
    }

    fn gunzip(bytes: &[u8]) -> String {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("not a valid gzip member: {e}"));
        text
    }

    #[test]
    fn filled_pages_read_back_plain_and_gzipped() {
        let template = Template::new(&page());
        let panel = "<aside id=\"cart\">".to_string() + &"x".repeat(70_000) + "</aside>";
        for panel in ["<aside id=\"cart\"></aside>", panel.as_str()] {
            let plain = template.plain(&fill(panel));
            assert_eq!(String::from_utf8_lossy(&plain), expected(panel));
            let gzipped = template.gzip(&fill(panel));
            assert_eq!(
                gunzip(&gzipped),
                expected(panel),
                "CRC and length check out too"
            );
        }
        let small = template.gzip(&fill(""));
        assert!(
            small.len() < page().len() / 4,
            "the shared parts are compressed"
        );
    }

    #[test]
    fn reads_accept_encoding() {
        assert!(accepts_gzip("gzip, deflate, br, zstd"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0, br"));
        assert!(!accepts_gzip("br, zstd"));
        assert!(!accepts_gzip(""));
    }
}
