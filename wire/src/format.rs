//! What an answer is written as: Lookout's JSON, an annotated picture, or a dataset export.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ranges::ParamError;

/// What to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// The detections as JSON.
    #[default]
    Json,
    /// The image with the boxes drawn on it, as PNG.
    Png,
    /// The image with the boxes drawn on it, as JPEG.
    Jpeg,
    /// A COCO dataset JSON (`images`, `categories`, `annotations` with scores).
    Coco,
    /// A ZIP of YOLO label files (`labels/<stem>.txt`, `classes.txt`, `data.yaml`).
    Yolo,
    /// A ZIP of Pascal VOC XML files (`Annotations/<stem>.xml`).
    Voc,
    /// One CSV row per detection.
    Csv,
    /// A ZIP of the annotated images, as PNG.
    Zip,
}

impl OutputFormat {
    /// The dataset export this format is, if it is one.
    pub fn export(self) -> Option<ExportFormat> {
        match self {
            Self::Coco => Some(ExportFormat::Coco),
            Self::Yolo => Some(ExportFormat::Yolo),
            Self::Voc => Some(ExportFormat::Voc),
            Self::Csv => Some(ExportFormat::Csv),
            Self::Json | Self::Png | Self::Jpeg | Self::Zip => None,
        }
    }

    /// A picture of one image: no answer for several images at once.
    pub fn is_picture(self) -> bool {
        matches!(self, Self::Png | Self::Jpeg)
    }
}

impl FromStr for OutputFormat {
    type Err = ParamError;
    fn from_str(s: &str) -> Result<Self, ParamError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "png" => Ok(Self::Png),
            "jpeg" | "jpg" => Ok(Self::Jpeg),
            "zip" => Ok(Self::Zip),
            other => other
                .parse::<ExportFormat>()
                .map(Self::from)
                .map_err(|_| ParamError::Format(other.to_owned())),
        }
    }
}

impl From<ExportFormat> for OutputFormat {
    fn from(format: ExportFormat) -> Self {
        match format {
            ExportFormat::Coco => Self::Coco,
            ExportFormat::Yolo => Self::Yolo,
            ExportFormat::Voc => Self::Voc,
            ExportFormat::Csv => Self::Csv,
        }
    }
}

/// The dataset annotation formats. (An archive of annotated images is [`OutputFormat::Zip`].)
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

    /// YOLO and VOC are several files, packed in a ZIP.
    pub fn is_archive(self) -> bool {
        matches!(self, Self::Yolo | Self::Voc)
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExportFormat {
    type Err = ParamError;

    /// `coco`, `yolo`, `voc` (or `pascal_voc`, `pascal-voc`) and `csv`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "coco" => Ok(Self::Coco),
            "yolo" => Ok(Self::Yolo),
            "voc" | "pascal_voc" | "pascal-voc" => Ok(Self::Voc),
            "csv" => Ok(Self::Csv),
            _ => Err(ParamError::Format(s.trim().to_owned())),
        }
    }
}
