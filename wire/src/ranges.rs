//! The ranges and defaults of a request's options, and the words for a value outside them.

/// The threshold when a request gives none.
pub const DEFAULT_THRESHOLD: f32 = 0.5;
/// Where the page asks the server to stop: everything above this score comes back once, and
/// the threshold slider filters in the browser.
pub const UI_SCORE_FLOOR: f32 = 0.05;
/// Detections kept when a request gives no `max_detections`.
pub const DEFAULT_MAX_DETECTIONS: usize = 100;
/// The most detections a caller may ask for (torchvision's models return at most 100; the
/// cap only guards against absurd values).
pub const MAX_DETECTIONS: usize = 1000;
/// The tile overlap when the caller gives none (SAHI's default).
pub const DEFAULT_TILE_OVERLAP: f32 = 0.2;
/// The largest tile overlap a caller may ask for.
pub const MAX_TILE_OVERLAP: f32 = 0.5;

/// Why a request's options were refused, worded for the caller. Every door answers these
/// as an `invalid-value` problem (422).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("threshold must be between 0 and 1, got {0}")]
    Threshold(f32),
    #[error("max_detections must be between 1 and {MAX_DETECTIONS}, got {0}")]
    MaxDetections(usize),
    #[error("tile must be `auto` or `off`, got `{0}`")]
    Tile(String),
    #[error("tile_overlap must be between 0 and {MAX_TILE_OVERLAP}, got {0}")]
    TileOverlap(f32),
    #[error("format `{0}` is not one of json, png, jpeg, coco, yolo, voc, csv, zip")]
    Format(String),
    #[error("{name} `{value}` is not a number")]
    NotANumber { name: &'static str, value: String },
    #[error("{name} `{value}` is not a whole number")]
    NotAWholeNumber { name: &'static str, value: String },
}
