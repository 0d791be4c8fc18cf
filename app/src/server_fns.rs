//! The page's calls to the server, at stable URLs under `/api`.

use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};
use serde::{Deserialize, Serialize};

use crate::types::{DetectResponse, Problem};

/// The answer to [`detect_url`]: the detection (the same result as every door's), and where
/// the page gets the very bytes the server fetched and detected on, so the browser never
/// contacts the image's own host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UrlDetection {
    pub result: DetectResponse,
    /// A same-origin path that serves the fetched image once, for a short while; `None` when
    /// the server could not keep it (the page then lists the detections without a picture).
    pub picture: Option<String>,
}

impl UrlDetection {
    /// The detections, and the picture's path.
    pub fn into_parts(self) -> (DetectResponse, Option<String>) {
        (self.result, self.picture)
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
