//! Dataset exports: detection results as COCO JSON, YOLO and Pascal VOC archives, or CSV.
//!
//! Pure Rust, no I/O, no clock, no threads: the same code runs in the server's API, in the CLI
//! and in the browser (compiled to WASM), so the same results export the same way everywhere.
//!
//! The rules every format shares:
//! - **Threshold**: a detection is kept when its score passes the threshold ([`wire::passes`]:
//!   `score >= threshold`, the rule the engine and the page use too).
//! - **Boxes** are in original, EXIF-upright pixels. Corners are put in order (`x1 <= x2`,
//!   `y1 <= y2`) and clamped to the image; a box or score that is not a finite number is an error.
//! - **Classes** come from the model's label list (class names indexed by class id): the
//!   torchvision background slot `__background__`, the `N/A` placeholders of COCO models and
//!   empty names are not classes. A kept detection whose class id is not among them (a model
//!   without names, or one that predicted a placeholder) adds a class named by its label,
//!   after the model's own, so the model's classes keep their YOLO indices.
//! - **Names**: every format names a box by its class's name (the model's, else the label).
//! - **File names** are made safe and unique once per export with [`unique_names`]; COCO's
//!   `file_name`, VOC's `filename`, the CSV's `file` column and the YOLO/VOC entry names all use
//!   the result.
//! - **Videos**: each analysed frame is an image ([`ExportFrame`], [`export_frames`]); the CSV
//!   then starts each row with the frame's number and time.

mod archive;
mod coco;
mod csv;
mod frames;
mod names;
mod voc;
mod yolo;

use std::collections::BTreeMap;

use crate::types::DetectionOut;

pub use archive::zip_files;
pub use frames::{frame_file_name, ExportFrame};
pub use names::unique_names;

/// One image's results, as the detector returned them.
#[derive(Debug, Clone, Copy)]
pub struct ExportImage<'a> {
    /// The name the user gave the image (any string: it is made safe and unique).
    pub file_name: &'a str,
    /// The image size in the pixels the boxes are in.
    pub width: u32,
    pub height: u32,
    pub detections: &'a [DetectionOut],
}

/// The annotation formats, as the contract names them. (An archive of annotated images is
/// [`zip_files`].)
pub use wire::ExportFormat;

/// A finished export: save `bytes` as `file_name`, served as `mime`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub file_name: &'static str,
    pub mime: &'static str,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExportError {
    #[error("the threshold must be a number from 0 to 1, not {0}")]
    BadThreshold(f32),
    #[error("{file}: the image size {width}x{height} has no pixels")]
    EmptyImage {
        file: String,
        width: u32,
        height: u32,
    },
    #[error("{file}: detection {index} has a box or score that is not a finite number")]
    NotFinite { file: String, index: usize },
    #[error("could not write the ZIP archive: {0}")]
    Zip(String),
}

/// Builds one export of `images` (in this order) for a model whose class names, indexed by
/// class id, are `labels`, keeping the detections that pass it ([`wire::passes`]).
pub fn export(
    format: ExportFormat,
    images: &[ExportImage<'_>],
    labels: &[String],
    threshold: f32,
) -> Result<Export, ExportError> {
    let set = Prepared::new(images, labels, threshold)?;
    let bytes = match format {
        ExportFormat::Coco => coco::write(&set, threshold),
        ExportFormat::Yolo => archive::write_zip(&yolo::files(&set))?,
        ExportFormat::Voc => archive::write_zip(&voc::files(&set))?,
        ExportFormat::Csv => csv::write(&set),
    };
    Ok(Export {
        file_name: format.file_name(),
        mime: format.mime(),
        bytes,
    })
}

/// Builds one export of a video's analysed `frames` (in this order); see [`export`].
pub fn export_frames(
    format: ExportFormat,
    frames: &[ExportFrame<'_>],
    labels: &[String],
    threshold: f32,
) -> Result<Export, ExportError> {
    let images: Vec<ExportImage<'_>> = frames.iter().map(|f| f.image).collect();
    if format != ExportFormat::Csv {
        return export(format, &images, labels, threshold);
    }
    let set = Prepared::new(&images, labels, threshold)?;
    let times: Vec<(u64, u64)> = frames
        .iter()
        .map(|f| (f.number, frames::millis(f.time_s)))
        .collect();
    Ok(Export {
        file_name: format.file_name(),
        mime: format.mime(),
        bytes: csv::write_frames(&set, &times),
    })
}

/// A class of the export: the model's class id and its name.
#[derive(Debug, Clone, PartialEq)]
struct Class {
    id: i64,
    name: String,
}

/// A kept detection, its box in order and inside the image.
#[derive(Debug, Clone, Copy)]
struct Det<'a> {
    label: &'a str,
    class_id: i64,
    /// Position of its class in [`Prepared::classes`] (YOLO's class number).
    class_index: usize,
    score: f32,
    x1: f32,
    y1: f32,
    x2: f32,
    y2: f32,
}

#[derive(Debug, Clone)]
struct Image<'a> {
    /// Safe and unique within the export.
    name: String,
    /// `name` without its extension, also unique.
    stem: String,
    width: u32,
    height: u32,
    dets: Vec<Det<'a>>,
}

/// Everything a format writer needs, checked, filtered and named once.
#[derive(Debug, Clone)]
struct Prepared<'a> {
    images: Vec<Image<'a>>,
    classes: Vec<Class>,
}

impl Prepared<'_> {
    /// The name every format gives a detection's class (its own label only for a class the
    /// set does not know, which cannot happen).
    fn class_name<'s>(&'s self, d: &Det<'s>) -> &'s str {
        self.classes
            .get(d.class_index)
            .map_or(d.label, |c| c.name.as_str())
    }
}

/// Whether a label-list slot is a placeholder rather than a class.
fn is_placeholder(name: &str) -> bool {
    let name = name.trim();
    name.is_empty() || name == "__background__" || name.eq_ignore_ascii_case("n/a")
}

impl<'a> Prepared<'a> {
    fn new(
        images: &[ExportImage<'a>],
        labels: &[String],
        threshold: f32,
    ) -> Result<Self, ExportError> {
        if !(0.0..=1.0).contains(&threshold) {
            return Err(ExportError::BadThreshold(threshold));
        }
        let mut classes: Vec<Class> = labels
            .iter()
            .enumerate()
            .filter(|(_, name)| !is_placeholder(name))
            .filter_map(|(i, name)| {
                Some(Class {
                    id: i64::try_from(i).ok()?,
                    name: name.clone(),
                })
            })
            .collect();
        let mut index: BTreeMap<i64, usize> =
            classes.iter().enumerate().map(|(i, c)| (c.id, i)).collect();

        let names = unique_names(images.iter().map(|im| im.file_name));
        let mut kept: Vec<Vec<&'a DetectionOut>> = Vec::with_capacity(images.len());
        let mut extra: BTreeMap<i64, &'a str> = BTreeMap::new();
        for (im, name) in images.iter().zip(&names) {
            if im.width == 0 || im.height == 0 {
                return Err(ExportError::EmptyImage {
                    file: name.clone(),
                    width: im.width,
                    height: im.height,
                });
            }
            let mut dets = Vec::new();
            for (i, d) in im.detections.iter().enumerate() {
                let b = d.bbox;
                if ![d.score, b.x1, b.y1, b.x2, b.y2]
                    .iter()
                    .all(|v| v.is_finite())
                {
                    return Err(ExportError::NotFinite {
                        file: name.clone(),
                        index: i,
                    });
                }
                if !wire::passes(d.score, threshold) {
                    continue;
                }
                if !index.contains_key(&d.class_id) {
                    extra.entry(d.class_id).or_insert(&d.label);
                }
                dets.push(d);
            }
            kept.push(dets);
        }
        // Classes the model's list does not name go after its own, by class id.
        for (id, label) in extra {
            index.insert(id, classes.len());
            let name = if is_placeholder(label) {
                format!("class_{id}")
            } else {
                label.to_owned()
            };
            classes.push(Class { id, name });
        }

        let images = images
            .iter()
            .zip(names)
            .zip(kept)
            .map(|((im, name), dets)| {
                let (w, h) = (im.width as f32, im.height as f32);
                let dets = dets
                    .into_iter()
                    .map(|d| {
                        let b = d.bbox;
                        Det {
                            label: &d.label,
                            class_id: d.class_id,
                            class_index: index.get(&d.class_id).copied().unwrap_or_default(),
                            score: d.score,
                            x1: b.x1.min(b.x2).clamp(0.0, w),
                            y1: b.y1.min(b.y2).clamp(0.0, h),
                            x2: b.x1.max(b.x2).clamp(0.0, w),
                            y2: b.y1.max(b.y2).clamp(0.0, h),
                        }
                    })
                    .collect();
                Image {
                    stem: names::stem(&name).to_owned(),
                    name,
                    width: im.width,
                    height: im.height,
                    dets,
                }
            })
            .collect();
        Ok(Self { images, classes })
    }
}

#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests;
