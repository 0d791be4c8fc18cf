//! The one request model every door produces: where the image comes from and what to do
//! with it, validated once.

use bytes::Bytes;
use detector::{DetectOptions, Reservation};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;

/// What to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// The detections as JSON.
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
    pub fn export(self) -> Option<app::export::ExportFormat> {
        use app::export::ExportFormat;
        match self {
            Self::Coco => Some(ExportFormat::Coco),
            Self::Yolo => Some(ExportFormat::Yolo),
            Self::Voc => Some(ExportFormat::Voc),
            Self::Csv => Some(ExportFormat::Csv),
            Self::Json | Self::Png | Self::Jpeg | Self::Zip => None,
        }
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Self, ApiError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "png" => Ok(Self::Png),
            "jpeg" | "jpg" => Ok(Self::Jpeg),
            "coco" => Ok(Self::Coco),
            "yolo" => Ok(Self::Yolo),
            "voc" | "pascal_voc" | "pascal-voc" => Ok(Self::Voc),
            "csv" => Ok(Self::Csv),
            "zip" => Ok(Self::Zip),
            other => Err(ApiError::invalid(format!(
                "format `{other}` is not one of json, png, jpeg, coco, yolo, voc, csv, zip"
            ))),
        }
    }
}

/// The way in a request came: each door has its own defaults, nothing else differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// `PUT /predict`, the original service's API.
    Predict,
    /// `POST /v1/detect`.
    Api,
    /// The page's server functions: everything above a low floor comes back once, and the
    /// page filters with its slider.
    Page,
    /// `POST /detect`, the page's form without JavaScript.
    Form,
}

impl Door {
    pub fn default_threshold(self) -> f32 {
        match self {
            Door::Page => app::types::UI_SCORE_FLOOR,
            _ => app::types::DEFAULT_THRESHOLD,
        }
    }
}

/// Where the image comes from.
#[derive(Debug)]
pub enum ImageSource {
    /// The bytes came with the request (raw, multipart or base64), already decoded from base64.
    Bytes(Bytes),
    /// An http(s) URL the server fetches under its address rules.
    Url(String),
}

/// One detection request, as every door hands it to the front.
#[derive(Debug)]
pub struct DetectRequest {
    pub source: ImageSource,
    pub options: DetectOptions,
    pub format: OutputFormat,
    /// `None`: the default model.
    pub model: Option<String>,
    /// The image's name as the client gave it (a multipart file name, a batch item's
    /// `name`, a URL's last path segment), for exports.
    pub name: Option<String>,
    /// Memory reserved for the request body while it is held.
    pub(crate) body: Option<Reservation>,
}

/// The fields a request may carry, before validation, gathered from wherever the door
/// found them (query, JSON, form fields). Unknown field names are refused by the parser.
#[derive(Debug, Default)]
pub struct Draft {
    pub image: Option<Bytes>,
    pub url: Option<String>,
    pub threshold: Option<f32>,
    pub max_detections: Option<usize>,
    pub format: Option<OutputFormat>,
    pub model: Option<String>,
    pub api_key: Option<String>,
    /// The image's name as the client gave it (multipart file name).
    pub name: Option<String>,
    /// `tile=auto|off`: also look at a large image tile by tile (small objects).
    pub tile: Option<detector::TileMode>,
    /// How much neighbouring tiles overlap (0..0.5, default 0.2).
    pub tile_overlap: Option<f32>,
}

/// The option names every door accepts (besides the image itself).
pub const OPTION_FIELDS: &str = "threshold, max_detections, format, model, tile, tile_overlap";

impl Draft {
    /// Sets one option from its text form (query strings, form fields). `Ok(false)` when
    /// `name` is not an option.
    pub fn set_option(&mut self, name: &str, value: &str) -> Result<bool, ApiError> {
        let value = value.trim();
        match name {
            "threshold" => {
                self.threshold = Some(value.parse().map_err(|_| {
                    ApiError::invalid(format!("threshold `{value}` is not a number"))
                })?)
            }
            "max_detections" => {
                self.max_detections = Some(value.parse().map_err(|_| {
                    ApiError::invalid(format!("max_detections `{value}` is not a whole number"))
                })?)
            }
            "format" => self.format = Some(value.parse()?),
            "model" => {
                if !value.is_empty() {
                    self.model = Some(value.to_owned())
                }
            }
            "tile" => self.tile = Some(value.parse()?),
            "tile_overlap" => {
                self.tile_overlap = Some(value.parse().map_err(|_| {
                    ApiError::invalid(format!("tile_overlap `{value}` is not a number"))
                })?)
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Later values (the query string) override earlier ones (the body).
    pub fn overlay(&mut self, over: Draft) {
        self.threshold = over.threshold.or(self.threshold);
        self.max_detections = over.max_detections.or(self.max_detections);
        self.format = over.format.or(self.format);
        self.model = over.model.or(self.model.take());
        self.tile = over.tile.or(self.tile);
        self.tile_overlap = over.tile_overlap.or(self.tile_overlap);
    }

    /// Validates and completes the request with the door's defaults.
    pub fn finish(
        mut self,
        door: Door,
        accept_format: OutputFormat,
        body: Option<Reservation>,
    ) -> Result<DetectRequest, ApiError> {
        // Empty data (a raw body of nothing, an empty base64 string or file part) is no image.
        let image = self.image.take().filter(|bytes| !bytes.is_empty());
        let source = match (image, self.url.take()) {
            (Some(bytes), None) => ImageSource::Bytes(bytes),
            (None, Some(url)) => ImageSource::Url(url),
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "send either an image or a `url`, not both",
                ))
            }
            (None, None) => {
                return Err(ApiError::new(
                    crate::error::Kind::MissingImage,
                    match door {
                        Door::Form | Door::Page => {
                            "no image was chosen; pick an image file and try again"
                        }
                        Door::Predict => {
                            "the body has no `base64str`: send the image, base64-encoded, in `base64str`"
                        }
                        _ => "the request has no image: send it in `image` (a file or base64) or give a `url`",
                    },
                ))
            }
        };
        Ok(DetectRequest {
            source,
            options: self.options(door)?,
            format: self.format.unwrap_or(accept_format),
            model: self.model,
            name: self.name,
            body,
        })
    }

    /// The detection options, validated, with the door's defaults (a batch's options, and
    /// part of [`Draft::finish`]).
    pub fn options(&self, door: Door) -> Result<DetectOptions, ApiError> {
        Ok(DetectOptions::new(
            self.threshold.unwrap_or(door.default_threshold()),
            self.max_detections.unwrap_or(100),
        )?
        .with_tiling(self.tile.unwrap_or_default(), self.tile_overlap)?)
    }
}
