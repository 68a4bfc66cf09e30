//! `#product-pictures` on a product's admin page: its pictures, the main one first, each with
//! plain forms to make it the main one, move it or remove it (no JavaScript needed; the shim
//! also lets the list be reordered by dragging, `data-reorder`), and the upload form.

use maud::{Markup, html};

use crate::domain::Product;
use crate::domain::picture::{MAX_PICTURES, MAX_UPLOAD_BYTES};

/// How wide the admin's thumbnails are.
const THUMB: u32 = 160;

pub fn pictures(product: &Product, error: Option<&str>) -> Markup {
    let base = format!("/admin/products/{}/images", product.id);
    let list = &product.listing.pictures;
    let error_id = "picture-error";
    html! {
        section.admin-pictures id="product-pictures" aria-labelledby="pictures-title" {
            h2 id="pictures-title" { "Pictures" }
            @if let Some(error) = error {
                p.notice.notice--error id=(error_id) role="alert" { (error) }
            }
            @if list.is_empty() {
                p { "No pictures yet: shoppers see the store's placeholder." }
            } @else {
                p.field-hint { "The first picture is the main one. Drag a picture to move it, or use its buttons." }
                ol.picture-list data-reorder=(format!("{base}/order")) {
                    @for (n, picture) in list.iter().enumerate() {
                        li.picture-list__item draggable="true" data-image-id=(picture.id) {
                            @if let Some(thumb) = picture.fallback(THUMB) {
                                img src=(thumb.url()) width=(THUMB) height=(picture.height_at(THUMB))
                                    alt=(format!("Picture {} of {}", n + 1, list.len()));
                            }
                            @if n == 0 { p.picture-list__main { strong { "Main picture" } } }
                            div.picture-list__actions {
                                @if n > 0 {
                                    (action(&base, picture.id, "main", "Make main"))
                                    (action(&base, picture.id, "up", "Move earlier"))
                                }
                                @if n + 1 < list.len() {
                                    (action(&base, picture.id, "down", "Move later"))
                                }
                                (action(&base, picture.id, "delete", "Remove"))
                            }
                        }
                    }
                }
            }
            @if list.len() < MAX_PICTURES {
                form.picture-upload method="post" action=(base) enctype="multipart/form-data" {
                    div.field {
                        label for="f-image" {
                            "Add pictures (JPEG, PNG or WebP, up to " (MAX_UPLOAD_BYTES / (1024 * 1024))
                            " MB each, " (MAX_PICTURES) " in all)"
                        }
                        input id="f-image" type="file" name="image" multiple
                            accept="image/jpeg,image/png,image/webp"
                            aria-invalid=[error.map(|_| "true")]
                            aria-describedby=[error.map(|_| error_id)];
                    }
                    button.button type="submit" { "Upload" }
                }
            } @else {
                p { "This product has " (MAX_PICTURES) " pictures: remove one to add another." }
            }
        }
    }
}

fn action(base: &str, image_id: i32, what: &str, label: &str) -> Markup {
    html! {
        form method="post" action=(format!("{base}/{image_id}/{what}")) {
            button.button.button--small type="submit" { (label) }
        }
    }
}
