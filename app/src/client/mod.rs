//! What runs in the browser only: reading files, uploading them, asking for URLs, decoding
//! pictures upright, drawing the canvas, downloads and exports, and the session's key and
//! model. The components call these functions from event handlers and effects, which never
//! run on the server; the module is compiled there too only so that they can name them
//! (`web-sys` compiles everywhere and would panic if called outside a browser).
//!
//! Nothing here may panic: every browser call that can fail is handled, and failures end up
//! in the page (the alert, the notice under the canvas, or the flash next to the buttons).
//!
//! State lives in [`Client`] (arena handles, created in the browser by [`init`]) and in the
//! page's [`Ui`] signals; nothing is kept in globals.

pub mod batch;
pub mod bitmap;
pub mod events;
pub mod export;
pub mod folders;
pub mod keyed;
pub mod paint;
pub mod save;
pub mod storage;
pub mod upload;
pub mod url;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, ImageBitmap};

use crate::components::state::{KeyState, Ui};

/// The browser's state: handles into the reactive arena, so `Copy` and cheap to pass to
/// every callback. Values that hold browser objects are local to the page's thread.
#[derive(Clone, Copy)]
pub struct Client {
    /// The picture of each item, as given (the file, or the bytes the server fetched).
    blobs: StoredValue<Vec<(u64, Blob)>, LocalStorage>,
    /// The decoded, upright picture on screen, and the item it belongs to.
    bitmap: StoredValue<Option<(u64, ImageBitmap)>, LocalStorage>,
    /// Uploads in flight, by item (dropping one drops its callbacks).
    inflight: StoredValue<Vec<(u64, upload::Inflight)>, LocalStorage>,
    /// `dragenter` minus `dragleave` on the page, to know when a drag really left it.
    drag_depth: StoredValue<i32>,
    /// The stage width the canvas was last laid out for.
    stage_width: StoredValue<f64>,
    /// The object URL of the last download (revoked when the next one starts).
    download_url: StoredValue<Option<String>>,
    /// Browser objects that live as long as the page (listeners, the resize observer).
    keep: StoredValue<Vec<JsValue>, LocalStorage>,
}

impl Client {
    fn new() -> Self {
        Self {
            blobs: StoredValue::new_local(Vec::new()),
            bitmap: StoredValue::new_local(None),
            inflight: StoredValue::new_local(Vec::new()),
            drag_depth: StoredValue::new(0),
            stage_width: StoredValue::new(-1.0),
            download_url: StoredValue::new(None),
            keep: StoredValue::new_local(Vec::new()),
        }
    }

    /// The picture given for item `id`.
    pub fn blob(&self, id: u64) -> Option<Blob> {
        self.blobs
            .with_value(|b| b.iter().find(|(i, _)| *i == id).map(|(_, b)| b.clone()))
    }

    pub fn set_blob(&self, id: u64, blob: Blob) {
        self.blobs.update_value(|b| {
            b.retain(|(i, _)| *i != id);
            b.push((id, blob));
        });
    }

    /// Aborts the uploads in flight.
    fn abort_uploads(&self) {
        // Take them out first: abort() runs callbacks, which must not find them borrowed.
        let inflight = self.inflight.try_update_value(std::mem::take);
        for (_, request) in inflight.into_iter().flatten() {
            request.abort();
        }
    }

    /// Forgets the previous batch: aborts its uploads, closes its picture.
    fn clear(&self) {
        self.abort_uploads();
        if let Some(Some((_, old))) = self.bitmap.try_update_value(Option::take) {
            old.close();
        }
        self.blobs.update_value(Vec::clear);
    }
}

/// Called once, after hydration: creates the browser's state, reads the session's key and
/// model, and starts listening to the page (paste, drag and drop, resizes).
pub fn init(ui: Ui) {
    let client = Client::new();
    ui.client.set_value(Some(client));
    ui.model.set(storage::model());
    ui.tile.set(storage::tile());
    // Without JavaScript the form posts one image; with it, the picker takes several.
    if let Some(input) = ui.file_input.get_untracked() {
        input.set_multiple(true);
    }
    // (`webkitdirectory` has no typed attribute in the view macro.)
    if let Some(input) = ui.folder_input.get_untracked() {
        input.set_webkitdirectory(true);
    }
    events::listen(ui, client);
}

/// Settings have loaded: whether the page must ask for a key, and whether the model kept
/// for this tab still exists.
pub fn settings_loaded(ui: Ui) {
    let Some(settings) = ui.settings() else {
        return;
    };
    ui.key.set(match (settings.key_required, storage::key()) {
        (false, _) => KeyState::NotNeeded,
        (true, Some(_)) => KeyState::Given,
        (true, None) => KeyState::Missing,
    });
    let kept = ui.model.get_untracked();
    if kept.is_some_and(|m| !settings.models.iter().any(|c| c.name == m)) {
        ui.model.set(None);
        storage::set_model(None);
    }
}

/// The key was given in the prompt: keep it for this tab.
pub fn give_key(ui: Ui, key: String) {
    let key = key.trim().to_owned();
    if key.is_empty() {
        return;
    }
    storage::set_key(Some(&key));
    ui.key.set(KeyState::Given);
    // What failed for want of the key is tried again.
    batch::retry_refused(ui);
}

pub fn forget_key(ui: Ui) {
    storage::set_key(None);
    ui.key.set(KeyState::Missing);
}

/// The server refused the key (HTTP 401): forget it and ask again.
fn key_refused(ui: Ui) {
    storage::set_key(None);
    ui.key.set(KeyState::Refused);
}

/// A model was picked: keep the choice for this tab and run the batch again with it.
pub fn pick_model(ui: Ui, name: String) {
    let default = ui
        .settings()
        .and_then(|s| s.models.first().map(|m| m.name.clone()));
    let choice = (Some(&name) != default.as_ref()).then_some(name);
    if ui.model.get_untracked() == choice {
        return;
    }
    storage::set_model(choice.as_deref());
    ui.model.set(choice);
    batch::rerun(ui);
}

/// "Find small objects" was switched: keep it for this tab and run the batch again.
pub fn set_tiling(ui: Ui, on: bool) {
    if ui.tile.get_untracked() == on {
        return;
    }
    storage::set_tile(on);
    ui.tile.set(on);
    batch::rerun(ui);
}

/// A thumbnail was chosen: put its item on screen.
pub fn view_item(ui: Ui, id: u64) {
    if ui.is_current(id) {
        return;
    }
    ui.show(Some(id));
}

/// Words for a JavaScript error.
fn js_error_text(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        String::from(err.message())
    } else if let Some(s) = e.as_string() {
        s
    } else {
        "unknown error".to_owned()
    }
}

fn document() -> Result<web_sys::Document, JsValue> {
    web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("no document"))
}
