//! A product's pictures: what an admin's upload must be, and how the store turns it into the
//! sizes the pages show. Every limit of picture work is here. An upload is decoded by the
//! `image` crate with limits set before any pixel is allocated (a small file declaring 30,000
//! × 30,000 pixels is refused from its header), then re-encoded as JPEG at a few widths, each
//! named by the hash of its bytes so its URL never changes meaning.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits, RgbImage};
use sha2::{Digest, Sha256};

/// The largest file an admin may upload.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
/// The most pictures one product has.
pub const MAX_PICTURES: usize = 8;
/// The widest or tallest picture decoded (phone cameras take about 4,000 × 3,000).
pub const MAX_SIDE: u32 = 6000;
/// What one decode may allocate: a 6,000 × 6,000 picture with alpha is 144 MB.
pub const MAX_DECODE_BYTES: u64 = 150 * 1024 * 1024;
/// The widths pages ask for (`srcset`); a picture narrower than one is kept at its own width.
pub const WIDTHS: [u32; 3] = [320, 640, 1280];
/// JPEG quality of the re-encoded sizes.
const QUALITY: u8 = 82;
/// The one type the store serves its pictures as.
pub const CONTENT_TYPE: &str = "image/jpeg";

/// Why an upload was refused, in the words the form shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PictureError {
    #[error("Choose a picture to upload.")]
    Empty,
    #[error("That file is over 10 MB: make it smaller and upload it again.")]
    TooBig,
    #[error("That file is not a JPEG, PNG or WebP picture.")]
    NotAnImage,
    #[error(
        "That picture is over {MAX_SIDE} pixels wide or high: make it smaller and upload it again."
    )]
    TooManyPixels,
    #[error("That picture could not be read: it may be cut short or damaged.")]
    Unreadable,
    #[error("A product has {MAX_PICTURES} pictures at most: remove one first.")]
    TooMany,
}

/// One size of a picture, encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub width: u32,
    pub height: u32,
    pub hash: String,
    pub bytes: Vec<u8>,
}

/// An upload made ready to store: its size as uploaded and its encoded sizes, narrowest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub width: u32,
    pub height: u32,
    pub sizes: Vec<Encoded>,
}

/// One size of a stored picture, as pages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub width: u32,
    pub height: u32,
    pub hash: String,
}

impl Variant {
    /// Its content-hashed, immutable address.
    pub fn url(&self) -> String {
        format!("/images/{}.jpg", self.hash)
    }
}

/// A stored picture of a product: its id and sizes, narrowest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub id: i32,
    pub width: u32,
    pub height: u32,
    pub variants: Vec<Variant>,
}

impl Picture {
    /// `srcset`'s value: every size with its width.
    pub fn srcset(&self) -> String {
        self.variants
            .iter()
            .map(|v| format!("{} {}w", v.url(), v.width))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The size for a page that shows it `width` pixels wide (`src`, for browsers without
    /// `srcset`): the narrowest at least that wide, else the widest.
    pub fn fallback(&self, width: u32) -> Option<&Variant> {
        self.variants
            .iter()
            .find(|v| v.width >= width)
            .or_else(|| self.variants.last())
    }

    /// The height it takes shown `width` pixels wide.
    pub fn height_at(&self, width: u32) -> u32 {
        let scaled = u64::from(width) * u64::from(self.height) / u64::from(self.width.max(1));
        u32::try_from(scaled.max(1)).unwrap_or(u32::MAX)
    }
}

/// A file name under `/images/` back to the hash it names (`<32 hex>.jpg`).
pub fn hash_of_file(file: &str) -> Option<&str> {
    let hash = file.strip_suffix(".jpg")?;
    (hash.len() == 32
        && hash
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then_some(hash)
}

fn hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

/// Decodes an upload within the limits and encodes the sizes pages show. CPU-bound: run it
/// on a blocking thread.
pub fn prepare(upload: &[u8]) -> Result<Prepared, PictureError> {
    if upload.is_empty() {
        return Err(PictureError::Empty);
    }
    if upload.len() > MAX_UPLOAD_BYTES {
        return Err(PictureError::TooBig);
    }
    let mut reader = ImageReader::new(Cursor::new(upload))
        .with_guessed_format()
        .map_err(|_| PictureError::NotAnImage)?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => {}
        _ => return Err(PictureError::NotAnImage),
    }
    reader.limits(limits());
    let image = reader.decode().map_err(|error| match error {
        image::ImageError::Limits(_) => PictureError::TooManyPixels,
        image::ImageError::Unsupported(_) => PictureError::NotAnImage,
        _ => PictureError::Unreadable,
    })?;
    let (width, height) = (image.width(), image.height());
    if width == 0 || height == 0 {
        return Err(PictureError::Unreadable);
    }
    let flat = flatten(&image);
    drop(image);
    let mut sizes = Vec::new();
    for target in targets(width) {
        let resized = if target == width {
            flat.clone()
        } else {
            let h = ((u64::from(height) * u64::from(target)) / u64::from(width)).max(1);
            let h = u32::try_from(h).unwrap_or(1);
            image::imageops::resize(&flat, target, h, FilterType::Triangle)
        };
        let bytes = encode(&resized)?;
        sizes.push(Encoded {
            width: resized.width(),
            height: resized.height(),
            hash: hash(&bytes),
            bytes,
        });
    }
    Ok(Prepared {
        width,
        height,
        sizes,
    })
}

/// The widths to encode for a picture `width` wide: never wider than it is, and its own
/// width too when that is between two of [`WIDTHS`] (no sharpness lost on a wide screen).
fn targets(width: u32) -> Vec<u32> {
    let mut out: Vec<u32> = WIDTHS.iter().copied().filter(|w| *w <= width).collect();
    if out.last() != Some(&width) && WIDTHS.iter().any(|w| *w > width) {
        out.push(width);
    }
    out
}

/// RGB on white: JPEG has no transparency, and a transparent PNG's hidden pixels are often
/// black.
fn flatten(image: &DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (src, dst) in rgba.pixels().zip(out.pixels_mut()) {
        let [r, g, b, a] = src.0;
        let a = u16::from(a);
        let over = |c: u8| u8::try_from((u16::from(c) * a + 255 * (255 - a)) / 255).unwrap_or(255);
        dst.0 = [over(r), over(g), over(b)];
    }
    out
}

fn encode(image: &RgbImage) -> Result<Vec<u8>, PictureError> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, QUALITY)
        .encode_image(image)
        .map_err(|_| PictureError::Unreadable)?;
    Ok(bytes)
}

/// A product's pictures in a new order: `chosen` first (the main one), the rest as they were.
pub fn with_main(order: &[i32], chosen: i32) -> Option<Vec<i32>> {
    order.contains(&chosen).then(|| {
        std::iter::once(chosen)
            .chain(order.iter().copied().filter(|id| *id != chosen))
            .collect()
    })
}

/// A product's pictures with `id` moved one place earlier (`up`) or later.
pub fn moved(order: &[i32], id: i32, up: bool) -> Option<Vec<i32>> {
    let at = order.iter().position(|x| *x == id)?;
    let mut out = order.to_vec();
    let other = if up { at.checked_sub(1)? } else { at + 1 };
    if other >= out.len() {
        return None;
    }
    out.swap(at, other);
    Some(out)
}

/// An order posted by the drag-and-drop (`"3,1,2"`): exactly the product's pictures, each once.
pub fn parse_order(raw: &str, current: &[i32]) -> Option<Vec<i32>> {
    let order: Vec<i32> = raw
        .split(',')
        .map(|part| part.trim().parse().ok())
        .collect::<Option<_>>()?;
    let mut sorted = order.clone();
    sorted.sort_unstable();
    let mut have = current.to_vec();
    have.sort_unstable();
    (sorted == have).then_some(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgba, RgbaImage};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbaImage::from_pixel(width, height, Rgba([200, 30, 30, 128]));
        let mut bytes = Vec::new();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(
                image.as_raw(),
                width,
                height,
                image::ExtendedColorType::Rgba8,
            )
            .unwrap();
        bytes
    }

    #[test]
    fn an_upload_becomes_jpegs_at_the_widths_pages_show_never_wider_than_it_was() {
        let prepared = prepare(&png(900, 600)).unwrap();
        assert_eq!((prepared.width, prepared.height), (900, 600));
        let widths: Vec<(u32, u32)> = prepared.sizes.iter().map(|s| (s.width, s.height)).collect();
        assert_eq!(widths, [(320, 213), (640, 426), (900, 600)]);
        for size in &prepared.sizes {
            assert_eq!(&size.bytes[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");
            assert_eq!(size.hash, hash(&size.bytes));
            assert!(hash_of_file(&format!("{}.jpg", size.hash)).is_some());
        }
        // Half-transparent red on white, not on black.
        let small = image::load_from_memory(&prepared.sizes[0].bytes)
            .unwrap()
            .to_rgb8();
        let [r, g, b] = small.get_pixel(10, 10).0;
        assert!(r > 200 && g > 120 && b > 120, "{r} {g} {b}");

        let tiny = prepare(&png(100, 50)).unwrap();
        assert_eq!(tiny.sizes.len(), 1);
        assert_eq!((tiny.sizes[0].width, tiny.sizes[0].height), (100, 50));
    }

    #[test]
    fn bad_uploads_are_refused_with_the_reason() {
        assert_eq!(prepare(b""), Err(PictureError::Empty));
        assert_eq!(
            prepare(b"%PDF-1.4 not a picture at all"),
            Err(PictureError::NotAnImage)
        );
        assert_eq!(
            prepare(&vec![0u8; MAX_UPLOAD_BYTES + 1]),
            Err(PictureError::TooBig)
        );
        let whole = png(400, 300);
        assert_eq!(
            prepare(&whole[..whole.len() / 2]),
            Err(PictureError::Unreadable)
        );
    }

    /// A PNG whose header declares 30,000 × 30,000 pixels (3.6 GB decoded) in a few hundred
    /// bytes is refused from its header, before anything is allocated for its pixels.
    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        let bomb = bomb_png(30_000, 30_000);
        assert!(bomb.len() < 1024, "{} bytes", bomb.len());
        assert_eq!(prepare(&bomb), Err(PictureError::TooManyPixels));
    }

    /// A valid PNG header for `width` × `height` 8-bit grey pixels, with a tiny (wrong) body.
    fn bomb_png(width: u32, height: u32) -> Vec<u8> {
        let small = {
            let image = image::GrayImage::new(1, 1);
            let mut bytes = Vec::new();
            image::codecs::png::PngEncoder::new(&mut bytes)
                .write_image(image.as_raw(), 1, 1, image::ExtendedColorType::L8)
                .unwrap();
            bytes
        };
        // Rewrite IHDR's width and height and its CRC.
        let mut out = small.clone();
        out[16..20].copy_from_slice(&width.to_be_bytes());
        out[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32fast::hash(&out[12..29]);
        out[29..33].copy_from_slice(&crc.to_be_bytes());
        out
    }

    #[test]
    fn pictures_are_reordered_as_asked() {
        assert_eq!(with_main(&[1, 2, 3], 3), Some(vec![3, 1, 2]));
        assert_eq!(with_main(&[1, 2, 3], 9), None);
        assert_eq!(moved(&[1, 2, 3], 2, true), Some(vec![2, 1, 3]));
        assert_eq!(moved(&[1, 2, 3], 3, false), None);
        assert_eq!(moved(&[1, 2, 3], 1, true), None);
        assert_eq!(parse_order("3, 1,2", &[1, 2, 3]), Some(vec![3, 1, 2]));
        assert_eq!(parse_order("3,1", &[1, 2, 3]), None);
        assert_eq!(parse_order("3,1,1", &[1, 2, 3]), None);
        assert_eq!(parse_order("x", &[1, 2, 3]), None);
    }

    #[test]
    fn a_picture_names_its_sizes_for_srcset() {
        let picture = Picture {
            id: 1,
            width: 1000,
            height: 500,
            variants: vec![
                Variant {
                    width: 320,
                    height: 160,
                    hash: "a".repeat(32),
                },
                Variant {
                    width: 640,
                    height: 320,
                    hash: "b".repeat(32),
                },
            ],
        };
        assert_eq!(
            picture.srcset(),
            format!(
                "/images/{}.jpg 320w, /images/{}.jpg 640w",
                "a".repeat(32),
                "b".repeat(32)
            )
        );
        assert_eq!(picture.fallback(600).unwrap().width, 640);
        assert_eq!(picture.fallback(2000).unwrap().width, 640);
        assert_eq!(picture.height_at(600), 300);
        assert_eq!(hash_of_file("../etc.jpg"), None);
    }
}
