//! Dataset exports: detection results as COCO JSON, YOLO and Pascal VOC archives, or CSV.
//!
//! Pure Rust, no I/O, no clock, no threads: the same code runs in the server's API, in the CLI
//! and in the browser (compiled to WASM), so the same results export the same way everywhere.
//!
//! The rules every format shares:
//! - **Threshold**: a detection is kept when `score >= threshold`.
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

mod archive;
mod coco;
mod csv;
mod names;
mod voc;
mod yolo;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::types::DetectionOut;

pub use archive::zip_files;
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

/// The annotation formats. (An archive of annotated images is [`zip_files`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// One COCO dataset JSON (images, categories, annotations with scores).
    Coco,
    /// An Ultralytics YOLO ZIP: `labels/<stem>.txt`, `classes.txt`, `data.yaml`.
    Yolo,
    /// A Pascal VOC ZIP: `Annotations/<stem>.xml`.
    Voc,
    /// One CSV row per detection.
    Csv,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 4] = [Self::Coco, Self::Yolo, Self::Voc, Self::Csv];

    /// The name used in URLs and on the command line (`coco`, `yolo`, `voc`, `csv`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Coco => "coco",
            Self::Yolo => "yolo",
            Self::Voc => "voc",
            Self::Csv => "csv",
        }
    }

    /// The file name to download the export as.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Coco => "lookout-coco.json",
            Self::Yolo => "lookout-yolo.zip",
            Self::Voc => "lookout-voc.zip",
            Self::Csv => "lookout-detections.csv",
        }
    }

    /// The Content-Type of the export.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Coco => "application/json",
            Self::Yolo | Self::Voc => "application/zip",
            Self::Csv => "text/csv; charset=utf-8",
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExportFormat {
    type Err = ExportError;

    /// `coco`, `yolo`, `voc` (or `pascal_voc`, `pascal-voc`) and `csv`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "coco" => Ok(Self::Coco),
            "yolo" => Ok(Self::Yolo),
            "voc" | "pascal_voc" | "pascal-voc" => Ok(Self::Voc),
            "csv" => Ok(Self::Csv),
            _ => Err(ExportError::UnknownFormat(s.to_owned())),
        }
    }
}

/// A finished export: save `bytes` as `file_name`, served as `mime`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub file_name: &'static str,
    pub mime: &'static str,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExportError {
    #[error("unknown export format `{0}`: use coco, yolo, voc or csv")]
    UnknownFormat(String),
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
/// class id, are `labels`, keeping the detections with `score >= threshold`.
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
                if d.score < threshold {
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
pub(crate) mod test_support {
    use crate::types::{BoxPx, DetectionOut};

    pub fn det(label: &str, class_id: i64, score: f32, b: [f32; 4]) -> DetectionOut {
        DetectionOut {
            label: label.to_owned(),
            class_id,
            score,
            bbox: BoxPx {
                x1: b[0],
                y1: b[1],
                x2: b[2],
                y2: b[3],
            },
        }
    }

    pub fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The entries of a ZIP archive, in order, as text.
    pub fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP archive");
        (0..zip.len())
            .map(|i| {
                let mut f = zip.by_index(i).expect("an entry");
                let mut text = String::new();
                std::io::Read::read_to_string(&mut f, &mut text).expect("UTF-8 text");
                (f.name().expect("a UTF-8 name").into_owned(), text)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{det, labels};
    use super::*;

    #[test]
    fn formats_parse_and_name_themselves() {
        for f in ExportFormat::ALL {
            assert_eq!(f.as_str().parse::<ExportFormat>(), Ok(f));
            assert_eq!(f.to_string(), f.as_str());
            assert!(f.file_name().starts_with("lookout"));
        }
        assert_eq!("Pascal-VOC".parse::<ExportFormat>(), Ok(ExportFormat::Voc));
        assert_eq!(" CSV ".parse::<ExportFormat>(), Ok(ExportFormat::Csv));
        assert_eq!(
            "zip".parse::<ExportFormat>(),
            Err(ExportError::UnknownFormat("zip".into()))
        );
    }

    #[test]
    fn placeholders_are_not_classes_and_unknown_ids_come_last() {
        let names = labels(&["__background__", "person", "N/A", "car", ""]);
        let dets = [
            det("class_9", 9, 0.9, [0.0, 0.0, 1.0, 1.0]),
            det("class_2", 2, 0.9, [0.0, 0.0, 1.0, 1.0]),
            det("class_7", 7, 0.1, [0.0, 0.0, 1.0, 1.0]), // below the threshold: no class
            det("car", 3, 0.9, [0.0, 0.0, 1.0, 1.0]),
        ];
        let images = [ExportImage {
            file_name: "a.jpg",
            width: 10,
            height: 10,
            detections: &dets,
        }];
        let set = Prepared::new(&images, &names, 0.5).unwrap();
        let classes: Vec<(i64, &str)> = set
            .classes
            .iter()
            .map(|c| (c.id, c.name.as_str()))
            .collect();
        assert_eq!(
            classes,
            [(1, "person"), (3, "car"), (2, "class_2"), (9, "class_9")]
        );
        let idx: Vec<usize> = set.images[0].dets.iter().map(|d| d.class_index).collect();
        assert_eq!(idx, [3, 2, 1]);
    }

    #[test]
    fn boxes_are_named_by_their_class() {
        let names = labels(&["__background__", "person"]);
        let dets = [
            det("someone", 1, 0.9, [0.0, 0.0, 1.0, 1.0]),
            det("", 5, 0.9, [0.0, 0.0, 1.0, 1.0]),
        ];
        let images = [ExportImage {
            file_name: "a.jpg",
            width: 10,
            height: 10,
            detections: &dets,
        }];
        let set = Prepared::new(&images, &names, 0.5).unwrap();
        let got: Vec<&str> = set.images[0]
            .dets
            .iter()
            .map(|d| set.class_name(d))
            .collect();
        assert_eq!(got, ["person", "class_5"]);
    }

    #[test]
    fn boxes_are_ordered_and_clamped() {
        let dets = [det("a", 1, 0.9, [30.0, 25.0, -5.0, 5.0])];
        let images = [ExportImage {
            file_name: "a.jpg",
            width: 20,
            height: 10,
            detections: &dets,
        }];
        let set = Prepared::new(&images, &labels(&["__background__", "a"]), 0.0).unwrap();
        let d = set.images[0].dets[0];
        assert_eq!((d.x1, d.y1, d.x2, d.y2), (0.0, 5.0, 20.0, 10.0));
    }

    #[test]
    fn bad_input_is_refused_with_the_file_named() {
        let names = labels(&["__background__", "a"]);
        let nan = [det("a", 1, 0.9, [0.0, f32::NAN, 1.0, 1.0])];
        let inf_score = [det("a", 1, f32::INFINITY, [0.0, 0.0, 1.0, 1.0])];
        let cases: [(ExportImage<'_>, f32, ExportError); 4] = [
            (
                ExportImage {
                    file_name: "dir/x.png",
                    width: 10,
                    height: 10,
                    detections: &nan,
                },
                0.5,
                ExportError::NotFinite {
                    file: "x.png".into(),
                    index: 0,
                },
            ),
            (
                ExportImage {
                    file_name: "y.png",
                    width: 10,
                    height: 10,
                    detections: &inf_score,
                },
                0.5,
                ExportError::NotFinite {
                    file: "y.png".into(),
                    index: 0,
                },
            ),
            (
                ExportImage {
                    file_name: "z.png",
                    width: 0,
                    height: 10,
                    detections: &[],
                },
                0.5,
                ExportError::EmptyImage {
                    file: "z.png".into(),
                    width: 0,
                    height: 10,
                },
            ),
            (
                ExportImage {
                    file_name: "w.png",
                    width: 1,
                    height: 1,
                    detections: &[],
                },
                1.5,
                ExportError::BadThreshold(1.5),
            ),
        ];
        for (image, threshold, want) in cases {
            for format in ExportFormat::ALL {
                let got = export(format, &[image], &names, threshold);
                assert_eq!(got, Err(want.clone()), "{format}");
            }
        }
        assert!(matches!(
            export(ExportFormat::Csv, &[], &names, f32::NAN),
            Err(ExportError::BadThreshold(_))
        ));
    }

    #[test]
    fn every_format_exports_an_empty_set() {
        for format in ExportFormat::ALL {
            let e = export(format, &[], &[], 0.5).unwrap();
            assert_eq!(e.file_name, format.file_name());
            assert!(!e.bytes.is_empty(), "{format}");
        }
    }
}
