//! The batch: every image given at once (one file, a URL, a sample, several files, a
//! folder) becomes an item, and the items are detected a few at a time, in order. The first
//! one is on screen from the start, so its result shows as soon as it is ready.

use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::{Blob, File};

use super::{folders, paint, storage, upload, url};
use crate::components::items::{Item, Phase};
use crate::components::state::{ImageView, KeyState, Ui};
use crate::format;
use crate::types::{DetectResponse, Problem};

/// Requests in flight at once: one uploads while the other is detected.
const PARALLEL: usize = 2;

/// Replaces the batch with `items` (the browser forgets the previous one: its uploads,
/// pictures and thumbnails); the first one goes on screen.
fn start(ui: Ui, items: Vec<Item>) {
    forget(ui);
    let first = items.first().map(|i| i.id);
    ui.items.set(items);
    ui.show(first);
}

/// A batch of one that failed before anything was sent (a check in the browser).
pub(super) fn reject(ui: Ui, source: String, problem: Problem) {
    let mut item = Item::new(ui.next_id(), source);
    item.phase = Phase::Failed;
    item.error = Some(problem);
    start(ui, vec![item]);
    ui.image.set(ImageView::None);
}

/// Starts a batch of chosen, pasted or dropped files.
pub fn start_files(ui: Ui, files: Vec<File>) {
    let blobs = files
        .into_iter()
        .map(|f| {
            let name = match f.name() {
                n if n.is_empty() => "pasted image".to_owned(),
                n => n,
            };
            (Blob::from(f), name)
        })
        .collect();
    start_blobs(ui, blobs);
}

/// Starts a batch of pictures: each is checked (type, size), then queued.
pub fn start_blobs(ui: Ui, blobs: Vec<(Blob, String)>) {
    let Some(client) = ui.client() else {
        return;
    };
    let limit = ui.upload_limit();
    let mut pictures = Vec::new();
    let items = blobs
        .into_iter()
        .map(|(blob, name)| {
            let mut item = Item::new(ui.next_id(), name);
            match check(&blob, &item.name, limit) {
                Ok(()) => {
                    item.thumb = web_sys::Url::create_object_url_with_blob(&blob).ok();
                    pictures.push((item.id, blob));
                }
                Err(problem) => {
                    item.phase = Phase::Failed;
                    item.error = Some(problem);
                }
            }
            item
        })
        .collect();
    // The previous batch is forgotten first, then the new pictures are kept.
    start(ui, items);
    for (id, blob) in pictures {
        client.set_blob(id, blob);
    }
    pump(ui);
}

/// Starts a batch of one picture already detected (a live frame and its answer: a
/// snapshot); it is on screen at once, like any result.
pub(super) fn start_done(ui: Ui, blob: Blob, name: String, response: DetectResponse) {
    let Some(client) = ui.client() else {
        return;
    };
    let mut item = Item::new(ui.next_id(), name);
    item.thumb = web_sys::Url::create_object_url_with_blob(&blob).ok();
    item.response = Some(response);
    item.phase = Phase::Done;
    let id = item.id;
    start(ui, vec![item]);
    client.set_blob(id, blob);
    paint::reveal_result(ui);
}

/// Starts a batch of one image given by its address.
pub fn start_url(ui: Ui, raw: String) {
    match url::check(&raw) {
        Ok(address) => {
            let mut item = Item::new(ui.next_id(), address.clone());
            item.url = Some(address);
            start(ui, vec![item]);
            pump(ui);
        }
        Err(problem) => reject(ui, raw.trim().to_owned(), problem),
    }
}

/// Starts a batch of the images in dropped folders (and loose files dropped with them).
pub fn start_folders(ui: Ui, dirs: Vec<web_sys::FileSystemDirectoryEntry>, loose: Vec<File>) {
    spawn_local(async move {
        let mut files = loose;
        for dir in dirs {
            files.extend(folders::image_files(dir).await);
        }
        if files.is_empty() {
            reject(
                ui,
                "the folder".to_owned(),
                Problem::new(
                    415,
                    "No images",
                    "the folder holds no JPEG, PNG, WebP, GIF, BMP or TIFF images",
                ),
            );
        } else {
            start_files(ui, files);
        }
    });
}

pub use super::folders::dropped_folders;

/// Runs waiting items while fewer than [`PARALLEL`] are in flight.
fn pump(ui: Ui) {
    let Some(client) = ui.client() else {
        return;
    };
    loop {
        let (busy, next) = ui.items.with_untracked(|items| {
            let busy = items
                .iter()
                .filter(|i| matches!(i.phase, Phase::Uploading { .. } | Phase::Detecting))
                .count();
            let next = items
                .iter()
                .find(|i| i.phase == Phase::Waiting)
                .map(|i| (i.id, i.attempt, i.name.clone(), i.url.clone()));
            (busy, next)
        });
        let Some((id, attempt, name, address)) = next.filter(|_| busy < PARALLEL) else {
            return;
        };
        match (client.blob(id), address) {
            (Some(blob), _) => upload::send(ui, client, (id, attempt), &blob, &name, uploaded),
            (None, Some(address)) => {
                ui.set_phase(id, Phase::Detecting);
                spawn_local(detect_address(ui, (id, attempt), address));
            }
            (None, None) => ui.fail(
                id,
                Problem::new(0, "Nothing to send", "the picture is no longer available"),
            ),
        }
    }
}

/// The answer to item `id`'s upload.
fn uploaded(ui: Ui, id: u64, result: Result<DetectResponse, Problem>) {
    match result {
        Ok(response) => {
            ui.finish(id, response);
            pump(ui);
            if ui.is_current(id) {
                paint::reveal_result(ui);
            }
        }
        Err(problem) => failed(ui, id, problem),
    }
}

/// Detects item `id` by its address (this `attempt` of it), then loads the picture the
/// server kept.
async fn detect_address(ui: Ui, (id, attempt): (u64, u32), address: String) {
    let result = url::detect(ui, id, address).await;
    if !ui.wants(id, attempt) {
        return;
    }
    match result {
        Ok(detection) => {
            let (response, picture) = detection.into_parts();
            ui.finish(id, response);
            pump(ui);
            url::show_picture(ui, id, picture).await;
        }
        Err(problem) => failed(ui, id, problem),
    }
}

/// Item `id` failed: a key the server refused (HTTP 401) is forgotten, and asked for again.
fn failed(ui: Ui, id: u64, problem: Problem) {
    if problem.status == 401 {
        storage::set_key(None);
        ui.key.set(KeyState::Refused);
    }
    ui.fail(id, problem);
    pump(ui);
}

/// The model or the tiling changed: detect every item of the batch again, with the pictures already here.
pub(super) fn rerun(ui: Ui) {
    let Some(client) = ui.client() else {
        return;
    };
    client.abort_uploads();
    ui.items.update(|items| {
        for item in items.iter_mut() {
            let sendable = client.blob(item.id).is_some() || item.url.is_some();
            if sendable {
                item.attempt += 1;
                item.phase = Phase::Waiting;
                item.response = None;
                item.error = None;
            }
        }
    });
    ui.active.set(None);
    pump(ui);
}

/// A key was given: items refused for want of it are sent again.
pub(super) fn retry_refused(ui: Ui) {
    ui.items.update(|items| {
        for item in items.iter_mut() {
            if item.error.as_ref().is_some_and(|p| p.status == 401) {
                item.attempt += 1;
                item.phase = Phase::Waiting;
                item.error = None;
            }
        }
    });
    pump(ui);
}

/// Forgets the batch: its uploads, pictures and thumbnails (in the browser; a no-op on the
/// server, which has none).
fn forget(ui: Ui) {
    let Some(client) = ui.client() else {
        return;
    };
    client.clear();
    for thumb in ui.items.with_untracked(|items| {
        items
            .iter()
            .filter_map(|i| i.thumb.clone())
            .collect::<Vec<_>>()
    }) {
        let _ = web_sys::Url::revoke_object_url(&thumb);
    }
    if let Some(canvas) = ui.canvas.get_untracked() {
        let _ = canvas.remove_attribute("data-boxes");
        let _ = canvas.remove_attribute("data-active");
    }
}

/// What can be refused before sending: a file that is not an image, or one over the limit.
fn check(blob: &Blob, name: &str, limit: Option<u64>) -> Result<(), Problem> {
    let kind = blob.type_();
    if !kind.is_empty() && !kind.starts_with("image/") {
        return Err(Problem::new(
            415,
            "Not an image",
            format!("“{name}” is a {kind} file, not an image; choose a JPEG, PNG, WebP, GIF, BMP or TIFF image"),
        ));
    }
    if let Some(limit) = limit {
        if blob.size() > limit as f64 {
            return Err(Problem::new(
                413,
                "Image too large",
                format!(
                    "“{name}” is {}; the upload is larger than the {} limit",
                    format::bytes(blob.size() as u64),
                    format::bytes(limit)
                ),
            ));
        }
    }
    Ok(())
}
