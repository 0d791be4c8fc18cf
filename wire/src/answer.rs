//! What a detection answers: the result of one image, and the model that produced it.

use serde::{Deserialize, Serialize};

use crate::geometry::{Detection, Tiles};

/// The model that answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ModelSummary {
    /// The model's name (ONNX metadata `name`, else the file name).
    pub name: String,
    /// `torchvision` or `zoo`.
    pub layout: String,
    /// sha256 of the model file.
    pub sha256: String,
    /// Class names indexed by class id.
    pub labels: Vec<String>,
}

/// An image's size in upright (EXIF-applied) pixels: the space the boxes are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ImageSize {
    pub width: u32,
    pub height: u32,
}

/// Milliseconds spent on this request.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct TimingMs {
    /// Turning the bytes into pixels (fetching a URL not included).
    pub decode: f64,
    /// Waiting for a free model session.
    pub queue: f64,
    /// The model run, with tensor building and post-processing.
    pub inference: f64,
    /// Everything, from the request's arrival.
    pub total: f64,
}

/// The result of one image: every door's JSON answer is this (the batch's items, the
/// stream's answers and the command line's records carry it too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct DetectResponse {
    pub model: ModelSummary,
    pub image: ImageSize,
    /// Best first.
    pub detections: Vec<Detection>,
    pub timing_ms: TimingMs,
    /// What `tile=auto` looked at besides the whole image; absent when tiling was not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiles: Option<Tiles>,
}

/// One image's result in a batch answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct BatchItemResult {
    /// The image's name: the one the client gave (multipart file name, `name`, or a URL's
    /// last path segment), else `image.<ext>` after its format; absent when the item failed
    /// before its format was known and it had no name.
    pub name: Option<String>,
    /// The status a single request for this image would have been answered with.
    pub status: u16,
    /// The detections, exactly as `POST /v1/detect` answers them (when `status` is 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<DetectResponse>,
    /// What went wrong with this image (when `status` is not 200), exactly the problem a
    /// single request would have been answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<crate::problem::Problem>,
}

/// The JSON answer to a batch: one result per image, in the order they were sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct BatchResponse {
    pub results: Vec<BatchItemResult>,
    /// Images detected.
    pub succeeded: usize,
    /// Images that got a problem instead.
    pub failed: usize,
}
