//! What the browser holds for the page: arena handles to files, the decoded picture,
//! uploads in flight, listeners and the live video's session. The page's [`crate::components::state::Ui`] keeps one
//! [`Client`] (in the browser only); the functions that use it are in the other modules of
//! [`crate::client`]. Nothing here names the page's state.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::{Blob, ImageBitmap, XmlHttpRequest};

use super::session::Session;

/// The browser's state: handles into the reactive arena, so `Copy` and cheap to pass to
/// every callback. Values that hold browser objects are local to the page's thread.
#[derive(Clone, Copy)]
pub struct Client {
    /// The picture of each item, as given (the file, or the bytes the server fetched).
    pub(super) blobs: StoredValue<Vec<(u64, Blob)>, LocalStorage>,
    /// The decoded, upright picture on screen, and the item it belongs to.
    pub(super) bitmap: StoredValue<Option<(u64, ImageBitmap)>, LocalStorage>,
    /// Uploads in flight, by item (dropping one drops its callbacks).
    pub(super) inflight: StoredValue<Vec<(u64, Inflight)>, LocalStorage>,
    /// `dragenter` minus `dragleave` on the page, to know when a drag really left it.
    pub(super) drag_depth: StoredValue<i32>,
    /// The stage width the canvas was last laid out for.
    pub(super) stage_width: StoredValue<f64>,
    /// The object URL of the last download (revoked when the next one starts).
    pub(super) download_url: StoredValue<Option<String>>,
    /// Browser objects that live as long as the page (listeners, the resize observer).
    pub(super) keep: StoredValue<Vec<JsValue>, LocalStorage>,
    /// The live video's session (camera or video file), while one runs.
    pub(super) live: StoredValue<Option<Session>, LocalStorage>,
    /// The id of the live session the page wants (0: none); callbacks of an older one stop.
    pub(super) live_id: StoredValue<u64>,
    /// The size the live video's box had when its boxes were last laid out.
    pub(super) live_layout: StoredValue<(i32, i32)>,
}

impl Client {
    pub(super) fn new() -> Self {
        Self {
            blobs: StoredValue::new_local(Vec::new()),
            bitmap: StoredValue::new_local(None),
            inflight: StoredValue::new_local(Vec::new()),
            drag_depth: StoredValue::new(0),
            stage_width: StoredValue::new(-1.0),
            download_url: StoredValue::new(None),
            keep: StoredValue::new_local(Vec::new()),
            live: StoredValue::new_local(None),
            live_id: StoredValue::new(0),
            live_layout: StoredValue::new((0, 0)),
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
    pub(super) fn abort_uploads(&self) {
        // Take them out first: abort() runs callbacks, which must not find them borrowed.
        let inflight = self.inflight.try_update_value(std::mem::take);
        for (_, request) in inflight.into_iter().flatten() {
            request.abort();
        }
    }

    /// Forgets the previous batch: aborts its uploads, closes its picture.
    pub(super) fn clear(&self) {
        self.abort_uploads();
        if let Some(Some((_, old))) = self.bitmap.try_update_value(Option::take) {
            old.close();
        }
        self.blobs.update_value(Vec::clear);
    }
}

/// An upload in flight: the request and the callbacks it calls (dropped with it).
pub(super) struct Inflight {
    pub(super) xhr: XmlHttpRequest,
    pub(super) _callbacks: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Inflight {
    pub(super) fn abort(self) {
        let _ = self.xhr.abort();
    }
}
