//! Product pictures: uploaded on the product's admin page, stored in the database, re-encoded
//! at the widths pages ask for, served at content-hashed URLs cached for a year, shown with
//! `srcset`, ordered by the admin; bad uploads get the form's own message.

use image::{ImageEncoder, Rgb, RgbImage};
use sneakers::domain::ProductId;

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    pictures_are_resized_served_forever_shown_with_srcset_and_ordered,
    bad_uploads_are_refused_on_the_form_and_keep_nothing,
);

/// A PNG of one colour.
fn png(width: u32, height: u32, colour: [u8; 3]) -> Vec<u8> {
    let image = RgbImage::from_pixel(width, height, Rgb(colour));
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(
            image.as_raw(),
            width,
            height,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap_or_else(|e| panic!("png: {e}"));
    bytes
}

/// A few hundred bytes of PNG whose header says `width` × `height` (a decompression bomb).
fn bomb(width: u32, height: u32) -> Vec<u8> {
    let mut out = png(1, 1, [0, 0, 0]);
    out[16..20].copy_from_slice(&width.to_be_bytes());
    out[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32fast::hash(&out[12..29]);
    out[29..33].copy_from_slice(&crc.to_be_bytes());
    out
}

const BOUNDARY: &str = "sneakers-test-boundary-7f3a";

/// A browser's multipart body: each file as a part of field `image`.
fn multipart(files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, mime, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

impl TestApp {
    /// Posts files to the product's upload form: `(status, location, body)`.
    async fn upload(&self, id: ProductId, files: &[(&str, &str, &[u8])]) -> (u16, String, String) {
        self.upload_from(id, files, None).await
    }

    async fn upload_from(
        &self,
        id: ProductId,
        files: &[(&str, &str, &[u8])],
        origin: Option<&str>,
    ) -> (u16, String, String) {
        let mut request = self
            .http
            .post(format!("{}/admin/products/{id}/images", self.url))
            .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
            .header("accept", "text/html")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(multipart(files));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("upload: {e}"));
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, location, response.text().await.unwrap_or_default())
    }

    /// The picture ids on the product's admin page, in their order.
    async fn picture_ids(&self, id: ProductId) -> Vec<i32> {
        let (status, page) = self.admin_get(&format!("/admin/products/{id}/edit")).await;
        assert_eq!(status, 200, "{page}");
        page.split("data-image-id=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next()?.parse().ok())
            .collect()
    }
}

/// The `srcset` of the product's picture on its shop page: `(url, width)`.
fn srcset(page: &str, id: ProductId) -> Vec<(String, u32)> {
    let at = page
        .find(&format!("id=\"product-{id}-picture\""))
        .unwrap_or_else(|| panic!("no picture on the page: {page}"));
    let tag = &page[at..at + page[at..].find('>').unwrap_or(0)];
    let set = tag
        .split("srcset=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no srcset in {tag}"));
    set.split(", ")
        .map(|entry| {
            let (url, width) = entry
                .split_once(' ')
                .unwrap_or_else(|| panic!("srcset entry {entry}"));
            let width = width.trim_end_matches('w').parse().unwrap_or(0);
            (url.to_string(), width)
        })
        .collect()
}

async fn pictures_are_resized_served_forever_shown_with_srcset_and_ordered(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let id = app.create_product("PIC-TEST", "now").await;
    let red = png(1600, 1000, [200, 20, 20]);
    let (status, location, body) = app.upload(id, &[("red.png", "image/png", &red)]).await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(
        location,
        format!("/admin/products/{id}/edit#product-pictures")
    );

    let (status, page) = app.get(&format!("/products/{id}")).await;
    assert_eq!(status, 200);
    let sizes = srcset(&page, id);
    let widths: Vec<u32> = sizes.iter().map(|(_, w)| *w).collect();
    assert_eq!(widths, [320, 640, 1280], "{sizes:?}");
    // The home page's card shows the same picture.
    let (_, home) = app.get("/").await;
    assert_eq!(srcset(&home, id), sizes);

    let mut first_bytes = Vec::new();
    for (url, width) in &sizes {
        let response = app
            .http
            .get(format!("{}{url}", app.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(response.status(), 200, "{url}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(header("content-type"), "image/jpeg");
        assert_eq!(
            header("cache-control"),
            "public, max-age=31536000, immutable"
        );
        let bytes = response.bytes().await.unwrap_or_default();
        let decoded = image::load_from_memory(&bytes).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(decoded.width(), *width, "{url}");
        assert_eq!(
            decoded.height(),
            width * 1000 / 1600,
            "{url}: the aspect kept"
        );
        let [r, g, b] = decoded.to_rgb8().get_pixel(5, 5).0;
        assert!(r > 150 && g < 80 && b < 80, "red stays red: {r} {g} {b}");
        if first_bytes.is_empty() {
            first_bytes = bytes.to_vec();
        }
    }
    // Kept in the database, not in the node: a restarted node (its memory empty) serves them.
    app.restart().await;
    let again = app
        .http
        .get(format!("{}{}", app.url, sizes[0].0))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET after restart: {e}"));
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.bytes().await.unwrap_or_default().to_vec(),
        first_bytes
    );
    let (status, _) = app
        .get("/images/00000000000000000000000000000000.jpg")
        .await;
    assert_eq!(status, 404, "an unknown hash");
    let (status, _) = app.get("/images/..%2Fsneakers.db").await;
    assert_eq!(status, 404);

    // A second picture, narrower than the widest size: it keeps its own width too.
    let blue = png(900, 900, [20, 20, 200]);
    let (status, _, body) = app.upload(id, &[("blue.png", "image/png", &blue)]).await;
    assert_eq!(status, 303, "{body}");
    let ids = app.picture_ids(id).await;
    assert_eq!(ids.len(), 2);
    let (red_id, blue_id) = (ids[0], ids[1]);

    // Made the main one (a plain form): the shop page shows it.
    let (status, location, _) = app
        .admin_post(&format!("/admin/products/{id}/images/{blue_id}/main"), &[])
        .await;
    assert_eq!(
        (status, location.as_str()),
        (
            303,
            format!("/admin/products/{id}/edit#product-pictures").as_str()
        )
    );
    assert_eq!(app.picture_ids(id).await, [blue_id, red_id]);
    let (_, page) = app.get(&format!("/products/{id}")).await;
    let widths: Vec<u32> = srcset(&page, id).iter().map(|(_, w)| *w).collect();
    assert_eq!(widths, [320, 640, 900]);

    // Moved back down, then the drag-and-drop's order; one naming a stranger is refused.
    app.admin_post(&format!("/admin/products/{id}/images/{blue_id}/down"), &[])
        .await;
    assert_eq!(app.picture_ids(id).await, [red_id, blue_id]);
    let order = |o: String| vec![("order".to_string(), o)];
    let (status, _, _) = app
        .admin_post(
            &format!("/admin/products/{id}/images/order"),
            &order(format!("{blue_id},{red_id}")),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(app.picture_ids(id).await, [blue_id, red_id]);
    let (status, _, _) = app
        .admin_post(
            &format!("/admin/products/{id}/images/order"),
            &order(format!("{blue_id},{}", red_id + 1000)),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(app.picture_ids(id).await, [blue_id, red_id]);

    // Removed: the other is the main one, and the removed one's sizes are gone.
    let blue_url = srcset(&app.get(&format!("/products/{id}")).await.1, id)[0]
        .0
        .clone();
    app.admin_post(
        &format!("/admin/products/{id}/images/{blue_id}/delete"),
        &[],
    )
    .await;
    assert_eq!(app.picture_ids(id).await, [red_id]);
    assert_eq!(
        srcset(&app.get(&format!("/products/{id}")).await.1, id),
        sizes
    );
    app.restart().await;
    assert_eq!(app.get(&blue_url).await.0, 404);
}

async fn bad_uploads_are_refused_on_the_form_and_keep_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let id = app.create_product("PIC-BAD", "draft").await;
    let whole = png(400, 300, [10, 200, 10]);
    let big = vec![0x89u8; 10 * 1024 * 1024 + 1];
    let cases: [(&str, &[u8], &str); 5] = [
        (
            "notes.txt",
            b"just some text, not a picture",
            "That file is not a JPEG, PNG or WebP picture.",
        ),
        (
            "cut.png",
            &whole[..whole.len() / 2],
            "That picture could not be read: it may be cut short or damaged.",
        ),
        (
            "huge.png",
            &big,
            "That file is over 10 MB: make it smaller and upload it again.",
        ),
        (
            "bomb.png",
            &bomb(30_000, 30_000),
            "That picture is over 6000 pixels wide or high: make it smaller and upload it again.",
        ),
        ("none.png", b"", "Choose a picture to upload."),
    ];
    for (name, bytes, message) in cases {
        let files: Vec<(&str, &str, &[u8])> = if bytes.is_empty() {
            vec![]
        } else {
            vec![(name, "image/png", bytes)]
        };
        let (status, _, page) = app.upload(id, &files).await;
        assert_eq!(status, 422, "{name}: {page}");
        assert!(
            page.contains(&format!(
                "id=\"picture-error\" role=\"alert\">{message}</p>"
            )),
            "{name}: {message} in {page}"
        );
        assert!(
            page.contains("aria-describedby=\"picture-error\""),
            "{name}"
        );
        assert!(app.picture_ids(id).await.is_empty(), "{name} kept nothing");
    }

    // Another site's form is refused before anything is read.
    let (status, _, _) = app
        .upload_from(
            id,
            &[("a.png", "image/png", &whole)],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(status, 403);
    assert!(app.picture_ids(id).await.is_empty());

    // Eight pictures, then a ninth is one too many; the same file twice is one picture.
    let small: Vec<Vec<u8>> = (0..9u8).map(|n| png(40, 30, [n * 20, 10, 10])).collect();
    let eight: Vec<(&str, &str, &[u8])> = small[..8]
        .iter()
        .map(|bytes| ("p.png", "image/png", bytes.as_slice()))
        .collect();
    let (status, _, body) = app.upload(id, &eight[..1]).await;
    assert_eq!(status, 303, "{body}");
    let (status, _, page) = app.upload(id, &eight[..1]).await;
    assert_eq!(status, 422);
    assert!(page.contains("That picture is uploaded already"), "{page}");
    let (status, _, body) = app.upload(id, &eight[1..]).await;
    assert_eq!(status, 303, "seven more in one post: {body}");
    assert_eq!(app.picture_ids(id).await.len(), 8);
    let (status, _, page) = app
        .upload(id, &[("ninth.png", "image/png", &small[8])])
        .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("A product has 8 pictures at most: remove one first."),
        "{page}"
    );
    assert!(
        !page.contains("id=\"f-image\""),
        "no upload field once full"
    );
    assert_eq!(app.picture_ids(id).await.len(), 8);
}
