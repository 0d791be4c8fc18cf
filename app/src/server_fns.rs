//! The page's calls to the server, at stable URLs under `/api`.

use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};
use serde::{Deserialize, Serialize};

use crate::types::{DetectResponse, Problem};

/// The answer to [`detect_url`]: the fields of a [`DetectResponse`], and where the page
/// gets the very bytes the server fetched and detected on, so the browser never contacts the
/// image's own host. (Spelled out rather than `#[serde(flatten)]`: flattening costs the
/// browser's bundle a generic deserializer.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UrlDetection {
    pub model: crate::types::ModelSummary,
    pub image: crate::types::ImageSize,
    pub detections: Vec<crate::types::DetectionOut>,
    pub timing_ms: crate::types::TimingMs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiles: Option<wire::Tiles>,
    /// A same-origin path that serves the fetched image once, for a short while; `None` when
    /// the server could not keep it (the page then lists the detections without a picture).
    pub picture: Option<String>,
}

impl UrlDetection {
    pub fn new(response: DetectResponse, picture: Option<String>) -> Self {
        Self {
            model: response.model,
            image: response.image,
            detections: response.detections,
            timing_ms: response.timing_ms,
            tiles: response.tiles,
            picture,
        }
    }

    /// The detections, and the picture's path.
    pub fn into_parts(self) -> (DetectResponse, Option<String>) {
        let response = DetectResponse {
            model: self.model,
            image: self.image,
            detections: self.detections,
            timing_ms: self.timing_ms,
            tiles: self.tiles,
        };
        (response, self.picture)
    }
}

/// Detects objects in an uploaded image: multipart form data with the file in field `image`.
/// Returns every detection above [`crate::types::UI_SCORE_FLOOR`]; the page filters further.
///
/// On the server this endpoint is not run by Leptos: the host mounts its front door (the
/// same reader, limits, key check, admission and errors as `POST /v1/detect`) at
/// `<DetectUpload as ServerFn>::PATH`. The declaration fixes the URL and the wire types.
#[server(prefix = "/api", endpoint = "detect_upload", input = MultipartFormData)]
pub async fn detect_upload(data: MultipartData) -> Result<DetectResponse, Problem> {
    let _ = data;
    Err(with_status(not_mounted()))
}

/// Fetches an image URL on the server (with its SSRF rules) and detects objects in it with
/// `model` (the default when `None`), tile by tile as well when `tile` is `auto`. Served by the host's front door like
/// [`detect_upload`]; the browser sends the page's API key with it.
#[server(prefix = "/api", endpoint = "detect_url", client = crate::client::keyed::KeyedClient)]
pub async fn detect_url(
    url: String,
    model: Option<String>,
    tile: Option<String>,
) -> Result<UrlDetection, Problem> {
    let _ = (url, model, tile);
    Err(with_status(not_mounted()))
}

/// Only reached if a host forgot to mount its front door at the detection endpoints.
#[cfg(feature = "ssr")]
fn not_mounted() -> Problem {
    Problem::new(
        500,
        "Server misconfigured",
        "this endpoint is served by the host's front door, which is not mounted here",
    )
}

/// Answers with the problem's own HTTP status rather than a blanket 500, so the page, the
/// logs and the metrics all see a 415 as a 415.
#[cfg(feature = "ssr")]
fn with_status(problem: Problem) -> Problem {
    if let (Some(options), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::StatusCode::from_u16(problem.status),
    ) {
        options.set_status(status);
    }
    problem
}
