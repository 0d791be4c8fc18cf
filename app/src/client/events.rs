//! Where images come in: the file and folder pickers, the forms, the samples, paste, and drag
//! and drop anywhere on the page (a video dropped or chosen goes to the live panel); plus
//! redrawing when the layout changes.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DataTransfer, File, HtmlElement, HtmlInputElement, ResizeObserver};

use super::{batch, paint, Client};
use crate::components::state::Ui;
use crate::types::Problem;

/// Starts listening to the page: paste, drag and drop anywhere, and resizes.
pub(super) fn listen(ui: Ui, client: Client) {
    let _ = window_event_listener(ev::paste, move |e| on_paste(ui, e));
    let _ = window_event_listener(ev::dragenter, move |e| on_drag_enter(ui, client, e));
    let _ = window_event_listener(ev::dragover, on_drag_over);
    let _ = window_event_listener(ev::dragleave, move |_| on_drag_leave(ui, client));
    let _ = window_event_listener(ev::drop, move |e| on_drop(ui, client, e));
    let _ = window_event_listener(ev::resize, move |_| paint::schedule_redraw(ui));

    // The stage's width follows the layout (window size, phone rotation, side panels);
    // redraw on the next frame so resizing the canvas never loops inside the observer.
    let on_resize = Closure::<dyn FnMut(js_sys::Array)>::new(move |_entries: js_sys::Array| {
        let width = ui
            .stage
            .get_untracked()
            .map(|s| f64::from(s.client_width()))
            .unwrap_or(0.0);
        if width != client.stage_width.get_value() {
            paint::schedule_redraw(ui);
        }
    });
    if let (Ok(observer), Some(stage)) = (
        ResizeObserver::new(on_resize.as_ref().unchecked_ref()),
        ui.stage.get_untracked(),
    ) {
        observer.observe(&stage);
        client.keep.update_value(|k| k.push(observer.into()));
    }
    client
        .keep
        .update_value(|k| k.push(on_resize.into_js_value()));
}

/// The drop zone was clicked: open the file picker.
pub fn choose_file(ui: Ui) {
    if let Some(input) = ui.file_input.get_untracked() {
        input.click();
    }
}

/// "Choose a folder" was clicked.
pub fn choose_folder(ui: Ui) {
    if let Some(input) = ui.folder_input.get_untracked() {
        input.click();
    }
}

/// Files (or a folder's files) were chosen in a picker.
pub fn files_chosen(ui: Ui, ev: ev::Event, folder: bool) {
    let Some(input) = ev
        .target()
        .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
    else {
        return;
    };
    let files = input
        .files()
        .map(|list| list_files(&list))
        .unwrap_or_default();
    if let Some(video) = (!folder).then(|| first_video(&files)).flatten() {
        super::live::start_video(ui, video);
        input.set_value("");
        return;
    }
    // In a folder, only the images count; chosen one by one, every file is tried.
    let files = if folder { only_images(files) } else { files };
    if !files.is_empty() {
        batch::start_files(ui, files);
    } else if folder {
        batch::reject(
            ui,
            "the folder".to_owned(),
            Problem::new(
                415,
                "No images",
                "the folder holds no JPEG, PNG, WebP, GIF, BMP or TIFF images",
            ),
        );
    }
    // Choosing the same files again should detect them again.
    input.set_value("");
}

/// The upload form was submitted with scripts on (Enter in a field): use the chosen files.
pub fn upload_form_submit(ui: Ui, ev: ev::SubmitEvent) {
    ev.prevent_default();
    let files = ui
        .file_input
        .get_untracked()
        .and_then(|i| i.files())
        .map(|list| list_files(&list))
        .unwrap_or_default();
    if files.is_empty() {
        choose_file(ui);
    } else {
        batch::start_files(ui, files);
    }
}

/// The URL form was submitted (Enter or the button).
pub fn url_submit(ui: Ui, ev: ev::SubmitEvent) {
    ev.prevent_default();
    batch::start_url(ui, ui.url_text.get_untracked());
}

/// A sample was clicked: fetch it from this site and detect it like a chosen file.
pub fn sample_click(ui: Ui, url: String) {
    let name = url.rsplit('/').next().unwrap_or("sample").to_owned();
    spawn_local(async move {
        match super::url::fetch_blob(&url, false).await {
            Ok(blob) => batch::start_blobs(ui, vec![(blob, name)]),
            Err(e) => batch::reject(
                ui,
                name.clone(),
                Problem::new(
                    0,
                    "Could not load the sample",
                    format!("{name} did not load ({e}); try again"),
                ),
            ),
        }
    });
}

fn on_paste(ui: Ui, ev: web_sys::ClipboardEvent) {
    let Some(data) = ev.clipboard_data() else {
        return;
    };
    let files = transfer_files(&data);
    if !files.is_empty() {
        ev.prevent_default();
        batch::start_files(ui, files);
        return;
    }
    // Text pasted into a field is just typing.
    if target_is_editable(ev.target()) {
        return;
    }
    let text = data.get_data("text/plain").unwrap_or_default();
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    ev.prevent_default();
    if looks_like_url(text) {
        ui.url_text.set(text.to_owned());
        batch::start_url(ui, text.to_owned());
    } else {
        batch::reject(
            ui,
            "the clipboard".to_owned(),
            Problem::new(
                400,
                "Nothing to detect",
                "the clipboard holds text, not an image or an image address; copy an image or its link and paste again",
            ),
        );
    }
}

fn has_type(data: &DataTransfer, wanted: &str) -> bool {
    data.types()
        .iter()
        .any(|t| t.as_string().as_deref() == Some(wanted))
}

fn on_drag_enter(ui: Ui, client: Client, ev: web_sys::DragEvent) {
    if ev.data_transfer().is_some_and(|d| has_type(&d, "Files")) {
        client.drag_depth.update_value(|d| *d += 1);
        ui.dragging.set(true);
    }
}

fn on_drag_over(ev: web_sys::DragEvent) {
    let Some(data) = ev.data_transfer() else {
        return;
    };
    let files = has_type(&data, "Files");
    let link = has_type(&data, "text/uri-list") && !target_is_editable(ev.target());
    if files || link {
        // Accept the drop here instead of letting the browser open the file.
        ev.prevent_default();
        data.set_drop_effect("copy");
    }
}

fn on_drag_leave(ui: Ui, client: Client) {
    client.drag_depth.update_value(|d| *d = (*d - 1).max(0));
    if client.drag_depth.get_value() == 0 {
        ui.dragging.set(false);
    }
}

fn on_drop(ui: Ui, client: Client, ev: web_sys::DragEvent) {
    client.drag_depth.set_value(0);
    ui.dragging.set(false);
    let Some(data) = ev.data_transfer() else {
        return;
    };
    let folders = super::batch::dropped_folders(&data);
    if !folders.is_empty() {
        ev.prevent_default();
        let loose = only_images(transfer_files(&data));
        batch::start_folders(ui, folders, loose);
        return;
    }
    let files = transfer_files(&data);
    if let Some(video) = first_video(&files) {
        ev.prevent_default();
        super::live::start_video(ui, video);
        return;
    }
    if !files.is_empty() {
        ev.prevent_default();
        batch::start_files(ui, files);
        return;
    }
    if target_is_editable(ev.target()) {
        return;
    }
    let link = data
        .get_data("text/uri-list")
        .ok()
        .and_then(|list| {
            list.lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
        })
        .or_else(|| {
            data.get_data("text/plain")
                .ok()
                .map(|t| t.trim().to_owned())
        })
        .filter(|t| looks_like_url(t));
    if let Some(url) = link {
        ev.prevent_default();
        ui.url_text.set(url.clone());
        batch::start_url(ui, url);
    }
}

fn list_files(list: &web_sys::FileList) -> Vec<File> {
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// The files of a drop or paste, in order.
fn transfer_files(data: &DataTransfer) -> Vec<File> {
    let mut files = data.files().map(|l| list_files(&l)).unwrap_or_default();
    if files.is_empty() {
        let items = data.items();
        for i in 0..items.length() {
            if let Some(item) = items.get(i) {
                if item.kind() == "file" {
                    if let Ok(Some(f)) = item.get_as_file() {
                        files.push(f);
                    }
                }
            }
        }
    }
    files
}

/// A video among `files` (it plays in the live panel instead of being sent as an image).
fn first_video(files: &[File]) -> Option<File> {
    files
        .iter()
        .find(|f| f.type_().starts_with("video/"))
        .cloned()
}

pub(super) fn only_images(files: Vec<File>) -> Vec<File> {
    files
        .into_iter()
        .filter(|f| f.type_().starts_with("image/"))
        .collect()
}

fn target_is_editable(target: Option<web_sys::EventTarget>) -> bool {
    let Some(el) = target.and_then(|t| t.dyn_into::<HtmlElement>().ok()) else {
        return false;
    };
    let tag = el.tag_name().to_ascii_uppercase();
    tag == "INPUT" || tag == "TEXTAREA" || el.is_content_editable()
}

pub(super) fn looks_like_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://"))
        && !text.contains(char::is_whitespace)
}
