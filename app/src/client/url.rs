//! Detecting an image by its address. The server fetches it (under its address rules) and
//! detects on it, then keeps the fetched bytes for a moment under a one-time path; the page
//! paints those very bytes. The browser never contacts the image's own host, so the picture
//! is the one detected on, and the canvas stays downloadable.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, RequestInit, Response};

use super::browser::js_error_text;
use super::{bitmap, storage};
use crate::components::items::Phase;
use crate::components::state::{ImageView, Ui};
use crate::server_fns::UrlDetection;
use crate::types::Problem;

/// Checks what was typed or pasted; the address, or the problem to show.
pub(super) fn check(raw: &str) -> Result<String, Problem> {
    let url = raw.trim().to_owned();
    if url.is_empty() {
        return Err(Problem::new(
            400,
            "No address",
            "paste the address of an image first, e.g. https://example.com/photo.jpg",
        ));
    }
    let scheme_ok = web_sys::Url::new(&url).ok().is_some_and(|u| {
        let p = u.protocol();
        p == "http:" || p == "https:"
    });
    if !scheme_ok {
        return Err(Problem::new(
            400,
            "Not a web address",
            format!("“{url}” is not a full web address; it should start with https:// or http://"),
        ));
    }
    Ok(url)
}

/// Asks the server to fetch and detect item `id`'s address, with the page's model and
/// tiling.
pub(super) async fn detect(ui: Ui, id: u64, url: String) -> Result<UrlDetection, Problem> {
    ui.set_phase(id, Phase::Detecting);
    let tile = ui.tile.get_untracked().then(|| "auto".to_owned());
    crate::server_fns::detect_url(url, ui.model.get_untracked(), tile).await
}

/// Loads the picture the server kept for item `id` (at `picture`), as its picture and
/// thumbnail, on screen if the item is.
pub(super) async fn show_picture(ui: Ui, id: u64, picture: Option<String>) {
    let picture = match picture {
        Some(path) => fetch_blob(&path, true).await,
        None => Err("the server did not keep it".to_owned()),
    };
    match (picture, ui.client()) {
        (Ok(blob), Some(client)) => {
            client.set_blob(id, blob);
            set_thumb(ui, id);
            if ui.is_current(id) {
                bitmap::show_current(ui);
            }
        }
        (Err(e), _) => {
            if ui.is_current(id) {
                ui.image.set(ImageView::Unavailable);
                ui.notice.set(Some(format!(
                    "The detections are listed, but the picture could not be shown ({e})."
                )));
            }
        }
        (Ok(_), None) => {}
    }
}

/// GETs a same-origin `path` as a file; `keyed` sends the tab's API key.
pub(super) async fn fetch_blob(path: &str, keyed: bool) -> Result<Blob, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    if keyed {
        if let Some(value) = storage::authorization() {
            let headers = web_sys::Headers::new().map_err(|e| js_error_text(&e))?;
            headers
                .set("Authorization", &value)
                .map_err(|e| js_error_text(&e))?;
            init.set_headers(&headers);
        }
    }
    let response = JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await
        .map_err(|e| js_error_text(&e))?;
    let response: Response = response.dyn_into().map_err(|_| "no response".to_owned())?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let blob = JsFuture::from(response.blob().map_err(|e| js_error_text(&e))?)
        .await
        .map_err(|e| js_error_text(&e))?;
    blob.dyn_into::<Blob>().map_err(|_| "not a file".to_owned())
}

/// A thumbnail for item `id` from its picture (URL images get theirs once fetched).
fn set_thumb(ui: Ui, id: u64) {
    let Some(blob) = ui.client().and_then(|c| c.blob(id)) else {
        return;
    };
    if let Ok(thumb) = web_sys::Url::create_object_url_with_blob(&blob) {
        ui.update_item(id, |i| i.thumb = Some(thumb));
    }
}
