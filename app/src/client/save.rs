//! Taking results away: the annotated picture as a PNG at the image's own resolution, the
//! detections as JSON on the clipboard, and saving any file the page made.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, HtmlAnchorElement, HtmlCanvasElement, HtmlElement, ImageBitmap};

use super::browser::{document, js_error_text};
use super::paint::{context_2d, frame_of, Paint};
use crate::components::state::Ui;
use crate::draw::Style;
use crate::format;
use crate::types::{DetectResponse, DetectionOut};

/// Saves the annotated picture on screen, at its own resolution, as PNG.
pub fn download(ui: Ui) {
    let Some(id) = ui.current.get_untracked() else {
        return;
    };
    let Some(shown) = ui.shown.get_untracked() else {
        return;
    };
    let threshold = ui.threshold.get_untracked();
    let canvas = super::bitmap::with_bitmap(ui, id, |bitmap| {
        annotated_canvas(bitmap, &shown.response, threshold)
    });
    let name = format::download_name(&shown.source);
    spawn_local(async move {
        let blob = match canvas {
            Some(Ok(canvas)) => canvas_png(&canvas).await,
            Some(Err(e)) => Err(e),
            None => Err(JsValue::from_str("no image to save yet")),
        };
        match blob.and_then(|b| save_blob(ui, &b, &name)) {
            Ok(()) => {}
            Err(e) => {
                ui.flash(
                    format!("Could not make the PNG ({}).", js_error_text(&e)),
                    false,
                );
            }
        }
    });
}

/// A canvas with `bitmap` and the detections of `response` above `threshold`, drawn at the
/// image's own resolution (lines and labels as on a ~900 px wide screen).
pub(super) fn annotated_canvas(
    bitmap: &ImageBitmap,
    response: &DetectResponse,
    threshold: f32,
) -> Result<HtmlCanvasElement, JsValue> {
    let canvas: HtmlCanvasElement = document()?.create_element("canvas")?.dyn_into()?;
    let (fw, fh) = frame_of(Some((response.image.width, response.image.height)), bitmap);
    canvas.set_width(fw as u32);
    canvas.set_height(fh as u32);
    let ctx = context_2d(&canvas)?;
    let detections: Vec<&DetectionOut> = response
        .detections
        .iter()
        .filter(|d| format::passes(d, threshold))
        .collect();
    Paint {
        ctx: &ctx,
        bitmap: Some(bitmap),
        frame: (fw, fh),
        scale: 1.0,
        style: Style::for_image(fw as u32, fh as u32),
    }
    .draw(&detections, None)?;
    Ok(canvas)
}

/// The canvas as a PNG file.
pub(super) async fn canvas_png(canvas: &HtmlCanvasElement) -> Result<Blob, JsValue> {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        if let Err(e) = canvas.to_blob_with_type(&resolve, "image/png") {
            let _ = reject.call1(&JsValue::NULL, &e);
        }
    });
    JsFuture::from(promise)
        .await?
        .dyn_into::<Blob>()
        .map_err(|_| JsValue::from_str("the browser made no PNG"))
}

/// Offers `blob` as a download called `name`.
pub(super) fn save_blob(ui: Ui, blob: &Blob, name: &str) -> Result<(), JsValue> {
    let url = web_sys::Url::create_object_url_with_blob(blob)?;
    // The previous download has surely started by now.
    if let Some(client) = ui.client() {
        if let Some(Some(old)) = client
            .download_url
            .try_update_value(|u| u.replace(url.clone()))
        {
            let _ = web_sys::Url::revoke_object_url(&old);
        }
    }
    let a: HtmlAnchorElement = document()?.create_element("a")?.dyn_into()?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    Ok(())
}

/// Copies the detections above the threshold as JSON.
pub fn copy_json(ui: Ui) {
    let Some(text) = ui.shown.with_untracked(|s| {
        s.as_ref()
            .map(|s| format::detections_json(&s.response, &s.source, ui.threshold.get_untracked()))
    }) else {
        return;
    };
    let Some(window) = web_sys::window() else {
        return;
    };
    let navigator = window.navigator();
    // `navigator.clipboard` is missing on plain-HTTP pages other than localhost.
    let clipboard = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
        .ok()
        .filter(|c| !c.is_undefined() && !c.is_null());
    match clipboard {
        Some(clipboard) => {
            let promise = clipboard
                .unchecked_into::<web_sys::Clipboard>()
                .write_text(&text);
            spawn_local(async move {
                match JsFuture::from(promise).await {
                    Ok(_) => copied(ui),
                    Err(e) => {
                        if copy_with_selection(&text) {
                            copied(ui);
                        } else {
                            ui.flash(format!("Could not copy ({}).", js_error_text(&e)), false);
                        }
                    }
                }
            });
        }
        None => {
            if copy_with_selection(&text) {
                copied(ui);
            } else {
                ui.flash("This browser does not allow copying here.", false);
            }
        }
    }
}

fn copied(ui: Ui) {
    let id = ui.flash("Copied", true);
    set_timeout(
        move || {
            if ui.flash.get_untracked().is_some_and(|f| f.id == id) {
                ui.flash.set(None);
            }
        },
        std::time::Duration::from_millis(2500),
    );
}

/// The old way to copy: select the text in a hidden field and ask the document to copy.
fn copy_with_selection(text: &str) -> bool {
    let Ok(document) = document() else {
        return false;
    };
    let Some(body) = document.body() else {
        return false;
    };
    let Ok(area) = document.create_element("textarea").and_then(|e| {
        e.dyn_into::<web_sys::HtmlTextAreaElement>()
            .map_err(JsValue::from)
    }) else {
        return false;
    };
    area.set_value(text);
    let _ = HtmlElement::style(&area).set_property("position", "fixed");
    let _ = HtmlElement::style(&area).set_property("opacity", "0");
    if body.append_child(&area).is_err() {
        return false;
    }
    area.select();
    let ok = document
        .dyn_ref::<web_sys::HtmlDocument>()
        .and_then(|d| d.exec_command("copy").ok())
        .unwrap_or(false);
    area.remove();
    ok
}
