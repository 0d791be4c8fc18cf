//! The Export menu: the batch's results as a dataset (COCO, YOLO, VOC, CSV through
//! [`crate::export`], the same code the server's API uses), or its annotated pictures as a
//! ZIP. Everything is made in the browser from the results already on the page: no image is
//! sent again.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag};

use super::browser::js_error_text;
use super::{bitmap, save};
use crate::components::state::Ui;
use crate::export::{
    export as build, export_frames, frame_file_name, zip_files, ExportFormat, ExportFrame,
    ExportImage,
};
use crate::format;
use crate::types::DetectResponse;

/// What the Export menu offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportChoice {
    Dataset(ExportFormat),
    /// The annotated pictures, as PNGs in a ZIP.
    Annotated,
}

impl ExportChoice {
    pub const ALL: [ExportChoice; 5] = [
        ExportChoice::Dataset(ExportFormat::Coco),
        ExportChoice::Dataset(ExportFormat::Yolo),
        ExportChoice::Dataset(ExportFormat::Voc),
        ExportChoice::Dataset(ExportFormat::Csv),
        ExportChoice::Annotated,
    ];

    /// For `data-export` (and the tests).
    pub fn key(self) -> &'static str {
        match self {
            ExportChoice::Dataset(f) => f.as_str(),
            ExportChoice::Annotated => "images",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ExportChoice::Dataset(ExportFormat::Coco) => "COCO JSON",
            ExportChoice::Dataset(ExportFormat::Yolo) => "YOLO (ZIP)",
            ExportChoice::Dataset(ExportFormat::Voc) => "Pascal VOC (ZIP)",
            ExportChoice::Dataset(ExportFormat::Csv) => "CSV",
            ExportChoice::Annotated => "Annotated images (ZIP)",
        }
    }
}

/// The file name of the annotated pictures' archive.
const ANNOTATED_ZIP: &str = "lookout-annotated.zip";

/// Builds `choice` from the finished items of the batch and offers it as a download.
pub fn export(ui: Ui, choice: ExportChoice) {
    let results = finished(ui);
    if results.is_empty() {
        ui.flash("Nothing to export yet.", false);
        return;
    }
    let threshold = ui.threshold.get_untracked();
    match choice {
        ExportChoice::Dataset(format) => {
            let images: Vec<ExportImage<'_>> = results
                .iter()
                .map(|(_, name, r)| ExportImage {
                    file_name: name,
                    width: r.image.width,
                    height: r.image.height,
                    detections: &r.detections,
                })
                .collect();
            let labels = &results[0].2.model.labels;
            let saved = build(format, &images, labels, threshold)
                .map_err(|e| JsValue::from_str(&e.to_string()))
                .and_then(|e| {
                    let blob = bytes_blob(&e.bytes, e.mime)?;
                    save::save_blob(ui, &blob, e.file_name)
                });
            report(ui, saved, results.len());
        }
        ExportChoice::Annotated => spawn_local(async move {
            let saved = annotated_zip(ui, &results, threshold).await;
            report(ui, saved, results.len());
        }),
    }
}

/// Builds `format` from the analysed frames of the video playing in the live panel: one
/// image per frame (`<video>_t<ms>.jpg`), the CSV with each frame's number and time.
pub fn export_video(ui: Ui, format: ExportFormat) {
    let Some((video, frames, labels)) = super::live::analysed(ui).filter(|a| !a.1.is_empty())
    else {
        ui.live.say(Some(
            "No frame of the video has been analysed yet.".to_owned(),
        ));
        return;
    };
    let names: Vec<String> = frames
        .iter()
        .map(|f| frame_file_name(&video, f.time))
        .collect();
    let frames: Vec<ExportFrame<'_>> = frames
        .iter()
        .zip(&names)
        .map(|(f, name)| ExportFrame {
            image: ExportImage {
                file_name: name,
                width: f.width,
                height: f.height,
                detections: &f.detections,
            },
            number: f.number,
            time_s: f.time,
        })
        .collect();
    let stem = format::download_name(&video);
    let stem = stem.strip_suffix("-lookout.png").unwrap_or("lookout");
    let extension = match format {
        ExportFormat::Coco => "coco.json",
        ExportFormat::Csv => "csv",
        ExportFormat::Yolo => "yolo.zip",
        ExportFormat::Voc => "voc.zip",
    };
    let saved = export_frames(format, &frames, &labels, ui.threshold.get_untracked())
        .map_err(|e| JsValue::from_str(&e.to_string()))
        .and_then(|e| {
            let blob = bytes_blob(&e.bytes, e.mime)?;
            save::save_blob(ui, &blob, &format!("{stem}-frames.{extension}"))
        });
    if let Err(e) = saved {
        let why = js_error_text(&e);
        ui.live.say(Some(format!("Could not export ({why}).")));
    }
}

/// The done items, in batch order, with the same model as the first.
fn finished(ui: Ui) -> Vec<(u64, String, DetectResponse)> {
    let done: Vec<(u64, String, DetectResponse)> = ui.items.with_untracked(|items| {
        items
            .iter()
            .filter_map(|i| i.response.clone().map(|r| (i.id, i.name.clone(), r)))
            .collect()
    });
    let model = done.first().map(|d| d.2.model.name.clone());
    done.into_iter()
        .filter(|d| Some(&d.2.model.name) == model.as_ref())
        .collect()
}

async fn annotated_zip(
    ui: Ui,
    results: &[(u64, String, DetectResponse)],
    threshold: f32,
) -> Result<(), JsValue> {
    let client = ui.client().ok_or_else(|| JsValue::from_str("not ready"))?;
    let mut files = Vec::with_capacity(results.len());
    for (id, name, response) in results {
        let Some(blob) = client.blob(*id) else {
            continue;
        };
        let picture = bitmap::decode(&blob).await?;
        let canvas = save::annotated_canvas(&picture, response, threshold);
        picture.close();
        let png = save::canvas_png(&canvas?).await?;
        files.push((format::download_name(name), blob_bytes(&png).await?));
    }
    let zip = zip_files(files).map_err(|e| JsValue::from_str(&e.to_string()))?;
    save::save_blob(ui, &bytes_blob(&zip, "application/zip")?, ANNOTATED_ZIP)
}

fn report(ui: Ui, saved: Result<(), JsValue>, count: usize) {
    match saved {
        Ok(()) => {
            ui.flash(format!("Exported {}", format::images(count)), true);
        }
        Err(e) => {
            ui.flash(format!("Could not export ({}).", js_error_text(&e)), false);
        }
    }
}

fn bytes_blob(bytes: &[u8], mime: &str) -> Result<Blob, JsValue> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    Blob::new_with_u8_array_sequence_and_options(&parts, &options)
}

async fn blob_bytes(blob: &Blob) -> Result<Vec<u8>, JsValue> {
    let buffer = JsFuture::from(blob.array_buffer()).await?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}
