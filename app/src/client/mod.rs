//! What runs in the browser only: reading files, uploading them, asking for URLs, decoding
//! pictures upright, drawing the canvas, downloads and exports, the session's key and
//! model, and the live video (the camera or a video file, through the streaming door). The components call these functions from event handlers and effects, which never
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
mod browser;
mod camera;
mod capture;
pub mod events;
pub mod export;
pub mod folders;
mod handles;
pub mod keyed;
pub mod live;
pub mod overlay;
pub mod paint;
pub mod save;
mod session;
pub mod storage;
mod stream;
pub mod upload;
pub mod url;
mod video;

use leptos::prelude::*;

pub use handles::Client;

use crate::components::state::{KeyState, Ui};

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
