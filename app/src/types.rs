//! Wire types shared by the REST API, the server functions and the browser.

use serde::{Deserialize, Serialize};

/// Where the web UI asks the server to stop: everything above this score comes back once,
/// and the threshold slider filters on the client.
pub const UI_SCORE_FLOOR: f32 = 0.05;
/// The threshold the slider starts at (and the API's default).
pub const DEFAULT_THRESHOLD: f32 = 0.5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImageSize {
    pub width: u32,
    pub height: u32,
}

/// A box in original-image pixels, EXIF orientation applied: the engine's own type.
pub use wire::BoundingBox as BoxPx;
/// One detected object: the engine's own type.
pub use wire::Detection as DetectionOut;

/// Milliseconds spent on this request.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DetectResponse {
    pub model: ModelSummary,
    pub image: ImageSize,
    /// Best first.
    pub detections: Vec<DetectionOut>,
    pub timing_ms: TimingMs,
    /// What `tile=auto` looked at besides the whole image; absent when tiling was not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiles: Option<wire::Tiles>,
}

/// An RFC 9457 problem: what went wrong, worded for the person who can fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[error("{title}: {detail}")]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` when the status says it all).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

impl Problem {
    pub fn new(status: u16, title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank".to_owned(),
            title: title.into(),
            status,
            detail: detail.into(),
        }
    }

    pub fn with_kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = kind.into();
        self
    }
}

/// Server functions report failures as a [`Problem`], so the page shows the same words the
/// REST API would.
impl leptos::server_fn::error::FromServerFnError for Problem {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Request(e) | E::Response(e) => Problem::new(
                0,
                "Could not reach Lookout",
                format!(
                    "the request did not get through ({e}); check your connection and try again"
                ),
            ),
            E::Args(e) | E::MissingArg(e) => Problem::new(
                400,
                "Bad request",
                format!("the request's arguments could not be read: {e}"),
            ),
            other => Problem::new(500, "Unexpected error", other.to_string()),
        }
    }
}
