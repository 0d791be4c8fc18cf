//! Decoding pictures upright (EXIF orientation applied: the frame the server's boxes are
//! in), for the canvas, the download and the annotated exports.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, ImageBitmap, ImageBitmapOptions, ImageOrientation};

use crate::components::state::{ImageView, Ui};

/// Decodes `blob` with its EXIF orientation applied.
pub async fn decode(blob: &Blob) -> Result<ImageBitmap, JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let options = ImageBitmapOptions::new();
    options.set_image_orientation(ImageOrientation::FromImage);
    let promise = window.create_image_bitmap_with_blob_and_image_bitmap_options(blob, &options)?;
    JsFuture::from(promise).await?.dyn_into::<ImageBitmap>()
}

/// Decodes the picture of the item on screen (unless it is decoded already) and shows it.
/// An item without a picture yet (a URL being fetched) shows it once it arrives.
pub fn show_current(ui: Ui) {
    let (Some(client), Some(id)) = (ui.client(), ui.current.get_untracked()) else {
        return;
    };
    let decoded = client
        .bitmap
        .with_value(|b| b.as_ref().map(|(i, bm)| (*i, bm.width(), bm.height())));
    if let Some((bitmap_id, width, height)) = decoded {
        if bitmap_id == id {
            ui.image.set(ImageView::Ready { width, height });
            return;
        }
    }
    let Some(blob) = client.blob(id) else {
        let pending = ui.item(id).is_some_and(|i| i.phase.is_pending());
        ui.image.set(if pending {
            ImageView::Loading
        } else {
            ImageView::None
        });
        return;
    };
    ui.image.set(ImageView::Loading);
    spawn_local(async move {
        match decode(&blob).await {
            Ok(bitmap) => set_bitmap(ui, id, bitmap),
            Err(_) => {
                if ui.is_current(id) {
                    ui.image.set(ImageView::Unavailable);
                    let kind = blob.type_();
                    let what = if kind.is_empty() {
                        "this image".to_owned()
                    } else {
                        format!("{kind} images")
                    };
                    ui.notice.set(Some(format!(
                        "This browser cannot display {what}, so the boxes are not drawn; the detections are listed."
                    )));
                }
            }
        }
    });
}

fn set_bitmap(ui: Ui, id: u64, bitmap: ImageBitmap) {
    let Some(client) = ui.client().filter(|_| ui.is_current(id)) else {
        bitmap.close();
        return;
    };
    let (width, height) = (bitmap.width(), bitmap.height());
    if let Some(Some((_, old))) = client.bitmap.try_update_value(|b| b.replace((id, bitmap))) {
        old.close();
    }
    ui.image.set(ImageView::Ready { width, height });
}

/// Runs `f` with the decoded picture of item `id`, if it is the one on screen.
pub(super) fn with_bitmap<T>(ui: Ui, id: u64, f: impl FnOnce(&ImageBitmap) -> T) -> Option<T> {
    let client = ui.client()?;
    client
        .bitmap
        .with_value(|b| b.as_ref().filter(|(i, _)| *i == id).map(|(_, bm)| f(bm)))
}
