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

/// One answer on the stream (`GET /v1/detect/stream`), a text message: to frame `frame`, the
/// same result `POST /v1/detect` answers (its fields beside `frame` and `dropped`) or the
/// problem it would have answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "FlatStreamAnswer")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct StreamAnswer {
    /// The frame answered: the 1-based count of binary messages received on this stream.
    /// Absent in the answer to a text message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    /// Frames replaced by newer ones (never answered) since the previous answer.
    pub dropped: u64,
    /// The frame's result: the same fields as `POST /v1/detect`'s answer (`model`, `image`,
    /// `detections`, `timing_ms`, `tiles`), at the top level.
    #[serde(flatten)]
    #[cfg_attr(feature = "schema", schema(inline))]
    pub result: Option<DetectResponse>,
    /// Why this frame (or text message) has no result: the problem `POST /v1/detect` would
    /// have answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<crate::problem::Problem>,
}

impl StreamAnswer {
    /// The result, or why there is none.
    pub fn outcome(self) -> Result<DetectResponse, crate::problem::Problem> {
        match (self.result, self.problem) {
            (_, Some(problem)) => Err(problem),
            (Some(result), None) => Ok(result),
            (None, None) => Err(crate::problem::Problem::new(
                502,
                "Unexpected answer",
                "the server's answer has neither a result nor a problem",
            )),
        }
    }
}

/// A stream answer as written, its result's fields beside `frame` and `dropped`. Read into
/// plain fields rather than through `flatten`, whose generic buffering would cost the page's
/// WebAssembly more than these readers, which it has already.
#[derive(Deserialize)]
struct FlatStreamAnswer {
    frame: Option<u64>,
    #[serde(default)]
    dropped: u64,
    problem: Option<crate::problem::Problem>,
    model: Option<ModelSummary>,
    image: Option<ImageSize>,
    #[serde(default)]
    detections: Vec<Detection>,
    #[serde(default)]
    timing_ms: TimingMs,
    tiles: Option<Tiles>,
}

impl From<FlatStreamAnswer> for StreamAnswer {
    fn from(flat: FlatStreamAnswer) -> Self {
        let result = match (flat.model, flat.image) {
            (Some(model), Some(image)) => Some(DetectResponse {
                model,
                image,
                detections: flat.detections,
                timing_ms: flat.timing_ms,
                tiles: flat.tiles,
            }),
            _ => None,
        };
        Self {
            frame: flat.frame,
            dropped: flat.dropped,
            result,
            problem: flat.problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_answer_reads_back_what_the_server_writes() {
        let result = DetectResponse {
            model: ModelSummary {
                name: "shapes".into(),
                layout: "torchvision".into(),
                sha256: "ab".into(),
                labels: vec!["__background__".into(), "red".into()],
            },
            image: ImageSize {
                width: 640,
                height: 480,
            },
            detections: Vec::new(),
            timing_ms: TimingMs::default(),
            tiles: Some(Tiles::default()),
        };
        for answer in [
            StreamAnswer {
                frame: Some(7),
                dropped: 2,
                result: Some(result),
                problem: None,
            },
            StreamAnswer {
                frame: None,
                dropped: 0,
                result: None,
                problem: Some(crate::problem::Problem::new(415, "Not an image", "text")),
            },
        ] {
            let text = serde_json::to_string(&answer).unwrap();
            let back: StreamAnswer = serde_json::from_str(&text).unwrap();
            assert_eq!(back, answer, "{text}");
        }
    }
}
