//! Folders dropped on the page: their image files, read through the browser's file-system
//! entries (the folder picker gives its files directly).

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DataTransfer, File, FileSystemDirectoryEntry, FileSystemDirectoryReader, FileSystemEntry,
    FileSystemFileEntry,
};

/// A folder holds at most this many images for the page (a whole photo library would
/// overwhelm the tab).
const MAX_FILES: usize = 500;

/// The folders of a drop. Must be called while the drop event is being handled: the
/// browser empties the transfer afterwards.
pub fn dropped_folders(data: &DataTransfer) -> Vec<FileSystemDirectoryEntry> {
    let items = data.items();
    (0..items.length())
        .filter_map(|i| items.get(i))
        .filter(|item| item.kind() == "file")
        .filter_map(|item| item.webkit_get_as_entry().ok().flatten())
        .filter(FileSystemEntry::is_directory)
        .filter_map(|entry| entry.dyn_into::<FileSystemDirectoryEntry>().ok())
        .collect()
}

/// The image files in `dir` and its subfolders, sorted by path.
pub async fn image_files(dir: FileSystemDirectoryEntry) -> Vec<File> {
    let mut found: Vec<(String, File)> = Vec::new();
    let mut pending = vec![dir];
    while let Some(dir) = pending.pop() {
        for entry in entries(&dir.create_reader()).await {
            if found.len() >= MAX_FILES {
                break;
            }
            if entry.is_directory() {
                if let Ok(sub) = entry.dyn_into::<FileSystemDirectoryEntry>() {
                    pending.push(sub);
                }
            } else if let Ok(file_entry) = entry.dyn_into::<FileSystemFileEntry>() {
                let path = file_entry.full_path();
                if let Some(file) = file(&file_entry).await {
                    if file.type_().starts_with("image/") {
                        found.push((path, file));
                    }
                }
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.into_iter().map(|(_, f)| f).collect()
}

/// Every entry of a folder: `readEntries` answers in pieces until it answers none.
async fn entries(reader: &FileSystemDirectoryReader) -> Vec<FileSystemEntry> {
    let mut all = Vec::new();
    loop {
        let promise = js_sys::Promise::new(&mut |resolve, reject| {
            if let Err(e) = reader.read_entries_with_callback_and_callback(&resolve, &reject) {
                let _ = reject.call1(&JsValue::NULL, &e);
            }
        });
        let Ok(batch) = JsFuture::from(promise).await else {
            break;
        };
        let batch = js_sys::Array::from(&batch);
        if batch.length() == 0 {
            break;
        }
        all.extend(
            batch
                .iter()
                .filter_map(|e| e.dyn_into::<FileSystemEntry>().ok()),
        );
        if all.len() >= MAX_FILES * 4 {
            break;
        }
    }
    all
}

async fn file(entry: &FileSystemFileEntry) -> Option<File> {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        entry.file_with_callback_and_callback(&resolve, &reject);
    });
    JsFuture::from(promise).await.ok()?.dyn_into::<File>().ok()
}
