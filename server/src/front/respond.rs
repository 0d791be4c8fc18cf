//! The one place a finished detection, or a batch of them, becomes the answer the client
//! asked for: JSON, an annotated picture, a dataset export (COCO, YOLO, Pascal VOC, CSV) or a
//! ZIP of annotated images. Exports come from [`app::export`], the same code the page runs in
//! the browser, so the same results export the same way everywhere.

use std::sync::Arc;

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use app::export::{ExportFormat, ExportImage};
use app::types::DetectResponse;

use super::{Detected, OutputFormat};
use crate::annotate;
use crate::error::ApiError;

/// The header that lists, in an export answer to a batch, the items that failed and are
/// therefore not in the file: their zero-based positions in the request, comma-separated.
pub const FAILED_ITEMS: HeaderName = HeaderName::from_static("lookout-failed-items");

/// The download name of `format=zip`.
pub const ZIP_FILE_NAME: &str = "lookout-annotated.zip";

/// The usual file extension of a format named by [`detector::sniff_format`].
pub fn extension(format_name: &str) -> &'static str {
    match format_name {
        "PNG" => "png",
        "JPEG" => "jpg",
        "GIF" => "gif",
        "WebP" => "webp",
        "TIFF" => "tif",
        "BMP" => "bmp",
        _ => "img",
    }
}

/// What an answer keeps of one finished detection: its name, its result and, for
/// `format=zip`, its annotated PNG. The decoded image (and its memory reservation) is let go.
#[derive(Debug)]
pub struct Finished {
    pub name: String,
    pub response: DetectResponse,
    pub annotated_png: Option<Vec<u8>>,
}

impl Finished {
    /// Keeps what `format` needs from `detected`; draws the boxes (off the executor) only
    /// for `format=zip`.
    pub async fn keep(detected: Detected, format: OutputFormat) -> Result<Self, ApiError> {
        let annotated_png = match format {
            OutputFormat::Zip => Some(
                annotate::render(
                    Arc::clone(&detected.image),
                    detected.response.detections.clone(),
                    image::ImageFormat::Png,
                )
                .await?,
            ),
            _ => None,
        };
        Ok(Self {
            name: detected.name,
            response: detected.response,
            annotated_png,
        })
    }
}

/// The answer to a single detection. `threshold` is the one the request ran with (exports
/// keep the detections scoring at least it).
pub async fn single(
    detected: Detected,
    format: OutputFormat,
    threshold: f32,
) -> Result<Response, ApiError> {
    let (image_format, mime) = match format {
        OutputFormat::Json => return Ok(Json(detected.response).into_response()),
        OutputFormat::Png => (image::ImageFormat::Png, "image/png"),
        OutputFormat::Jpeg => (image::ImageFormat::Jpeg, "image/jpeg"),
        OutputFormat::Coco
        | OutputFormat::Yolo
        | OutputFormat::Voc
        | OutputFormat::Csv
        | OutputFormat::Zip => {
            let finished = Finished::keep(detected, format).await?;
            let labels = finished.response.model.labels.clone();
            return file(&[finished], &labels, threshold, format, &[]);
        }
    };
    let encoded =
        annotate::render(detected.image, detected.response.detections, image_format).await?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(mime))],
        encoded,
    )
        .into_response())
}

pub use wire::{BatchItemResult, BatchResponse};

/// One batch item's outcome: the name it was given, and its result.
#[derive(Debug)]
pub struct ItemOutcome {
    pub name: Option<String>,
    pub result: Result<Finished, ApiError>,
}

/// The answer to a batch: JSON with every item, or the export `format` asks for over the
/// items that succeeded (the failed ones are listed in the `Lookout-Failed-Items` header).
/// `labels` are the model's class names.
pub fn batch(
    items: Vec<ItemOutcome>,
    format: OutputFormat,
    labels: &[String],
    threshold: f32,
) -> Result<Response, ApiError> {
    if format == OutputFormat::Json {
        let failed = items.iter().filter(|i| i.result.is_err()).count();
        let results = items
            .into_iter()
            .map(|item| match item.result {
                Ok(finished) => BatchItemResult {
                    name: Some(finished.name),
                    status: 200,
                    result: Some(finished.response),
                    problem: None,
                },
                Err(e) => BatchItemResult {
                    name: item.name,
                    status: e.status().as_u16(),
                    result: None,
                    problem: Some(e.problem),
                },
            })
            .collect::<Vec<_>>();
        let succeeded = results.len() - failed;
        return Ok(Json(BatchResponse {
            results,
            succeeded,
            failed,
        })
        .into_response());
    }
    let mut failed = Vec::new();
    let mut good = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        match item.result {
            Ok(finished) => good.push(finished),
            Err(_) => failed.push(index),
        }
    }
    file(&good, labels, threshold, format, &failed)
}

/// An export (or the ZIP of annotated images) of `items`, as a download.
fn file(
    items: &[Finished],
    labels: &[String],
    threshold: f32,
    format: OutputFormat,
    failed: &[usize],
) -> Result<Response, ApiError> {
    let (file_name, mime, bytes) = match format.export() {
        Some(export_format) => export(items, labels, threshold, export_format)?,
        None => {
            let files = items
                .iter()
                .filter_map(|f| {
                    let png = f.annotated_png.clone()?;
                    Some((format!("{}.png", stem(&f.name)), png))
                })
                .collect();
            let bytes = app::export::zip_files(files).map_err(ApiError::internal)?;
            (ZIP_FILE_NAME, "application/zip", bytes)
        }
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (
                header::CONTENT_DISPOSITION,
                // The names are fixed ASCII: nothing the client sent ends up in the header.
                HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
                    .map_err(ApiError::internal)?,
            ),
        ],
        bytes,
    )
        .into_response();
    if !failed.is_empty() {
        let list = failed
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",");
        if let Ok(value) = HeaderValue::from_str(&list) {
            response.headers_mut().insert(FAILED_ITEMS, value);
        }
    }
    Ok(response)
}

fn export(
    items: &[Finished],
    labels: &[String],
    threshold: f32,
    format: ExportFormat,
) -> Result<(&'static str, &'static str, Vec<u8>), ApiError> {
    let images: Vec<ExportImage<'_>> = items
        .iter()
        .map(|f| ExportImage {
            file_name: &f.name,
            width: f.response.image.width,
            height: f.response.image.height,
            detections: &f.response.detections,
        })
        .collect();
    let export =
        app::export::export(format, &images, labels, threshold).map_err(ApiError::internal)?;
    Ok((export.file_name, export.mime, export.bytes))
}

/// The file name without its directories and its last extension (`a/b/photo.jpg` -> `photo`).
fn stem(name: &str) -> &str {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    match base.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_extensions() {
        for (name, want) in [
            ("photo.jpg", "photo"),
            ("dir.v2/photo", "photo"),
            (r"C:\x\a.b.png", "a.b"),
            (".hidden", ".hidden"),
            ("plain", "plain"),
        ] {
            assert_eq!(stem(name), want, "{name}");
        }
        assert_eq!(extension("JPEG"), "jpg");
        assert_eq!(extension("PNG"), "png");
        assert_eq!(extension("something else"), "img");
    }
}
