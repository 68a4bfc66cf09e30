//! An admin adds pictures to a live product in the browser and reorders them by dragging; a
//! shopper's open page shows each change without a reload; a file that is no picture gets the
//! form's message.

use fantoccini::Locator;
use image::{ImageEncoder, Rgb, RgbImage};

use super::harness::run;
use super::{admin_url, open_live};
use crate::helpers::{Backend, TestApp};

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

/// The shopper's picture has loaded a size whose `srcset` names `width`.
fn picture_shows(id: &str, width: u32) -> String {
    format!(
        "(function () {{ var i = document.querySelector('#product-{id}-picture'); \
         return !!i && (i.getAttribute('srcset') || '').indexOf(' {width}w') > 0 \
         && i.complete && i.naturalWidth > 0; }})()"
    )
}

/// Scenario 52: pictures uploaded through the file input (two at once) appear on the shopper's
/// open page; dragging the second before the first makes it the main picture there too; a
/// text file is refused with the form's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s52_an_admin_adds_and_reorders_pictures_and_the_shopper_sees_them_live() {
    run(
        "s52_an_admin_adds_and_reorders_pictures_and_the_shopper_sees_them_live",
        2,
        |ctx| async move {
            let app = TestApp::start(Backend::Sqlite).await;
            let id = app.create_product("PIC-LIVE", "now").await.to_string();
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
            let red = dir.path().join("red.png");
            let blue = dir.path().join("blue.png");
            let text = dir.path().join("notes.png");
            std::fs::write(&red, png(1600, 1000, [200, 20, 20])).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(&blue, png(900, 900, [20, 20, 200])).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(&text, "not a picture").unwrap_or_else(|e| panic!("{e}"));

            let shopper = ctx.browser(&app).await;
            open_live(&shopper, &format!("/products/{id}")).await;
            shopper.mark_document().await;
            assert_eq!(
                shopper.attr(&format!("#product-{id}-picture"), "srcset").await,
                None,
                "no picture yet"
            );

            let admin = ctx.browser(&app).await;
            let edit = format!(
                "{}/products/{id}/edit",
                admin_url(&app)
            );
            admin.goto_url(&edit).await;
            let input = admin
                .client
                .find(Locator::Css("#f-image"))
                .await
                .unwrap_or_else(|e| panic!("the file input: {e}"));
            input
                .send_keys(&format!("{}\n{}", red.display(), blue.display()))
                .await
                .unwrap_or_else(|e| panic!("choosing files: {e}"));
            admin.click(".picture-upload button[type=submit]").await;
            admin
                .wait_for(
                    "both pictures listed, the first the main one",
                    "document.querySelectorAll('.picture-list__item').length === 2 \
                     && !!document.querySelector('.picture-list__item:first-child .picture-list__main')",
                )
                .await;
            shopper
                .wait_for("the red picture, at every width", &picture_shows(&id, 1280))
                .await;

            // The blue one dragged before the red one: the shop's main picture follows.
            let ids = admin
                .js("return Array.from(document.querySelectorAll('.picture-list__item')).map(function (li) { return li.getAttribute('data-image-id'); });")
                .await;
            let blue_id = ids[1].as_str().unwrap_or_default().to_string();
            admin.mark_document().await;
            admin
                .js("var items = document.querySelectorAll('.picture-list__item'); \
                     var dt = new DataTransfer(); \
                     function fire(el, type) { el.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt })); } \
                     fire(items[1], 'dragstart'); fire(items[0], 'dragover'); fire(items[0], 'drop'); fire(items[1], 'dragend'); \
                     return null;")
                .await;
            admin
                .wait_for(
                    "the list re-read from the server, blue first and main",
                    &format!(
                        "(function () {{ var first = document.querySelector('.picture-list__item:first-child'); \
                         return !!first && first.getAttribute('data-image-id') === '{blue_id}' \
                         && !!first.querySelector('.picture-list__main') \
                         && !!first.querySelector('form[action$=\"/delete\"]'); }})()"
                    ),
                )
                .await;
            admin.assert_not_reloaded("a drag").await;
            shopper
                .wait_for("the blue picture, now the main one", &picture_shows(&id, 900))
                .await;
            shopper.assert_not_reloaded("pictures added and reordered").await;

            // A text file is refused on the form.
            ctx.expect_console_error("status of 422");
            let input = admin
                .client
                .find(Locator::Css("#f-image"))
                .await
                .unwrap_or_else(|e| panic!("the file input: {e}"));
            input
                .send_keys(&text.display().to_string())
                .await
                .unwrap_or_else(|e| panic!("choosing a file: {e}"));
            admin.click(".picture-upload button[type=submit]").await;
            admin
                .wait_for(
                    "the upload's error beside the field",
                    "(document.querySelector('#picture-error') || {}).textContent === 'That file is not a JPEG, PNG or WebP picture.' \
                     && document.querySelector('#f-image').getAttribute('aria-describedby') === 'picture-error'",
                )
                .await;
            assert_eq!(admin.count(".picture-list__item").await, 2);
        },
    )
    .await;
}
