//! The page's calls to the server, at stable URLs under `/api`.

use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};

use crate::types::{DetectResponse, ModelSummary, Problem};

/// The loaded model (name, labels), or a 503 problem while it is loading.
#[server(prefix = "/api", endpoint = "model")]
pub async fn model_info() -> Result<ModelSummary, Problem> {
    crate::backend::backend()
        .and_then(|b| {
            b.model().ok_or_else(|| {
                Problem::new(
                    503,
                    "Model loading",
                    "the model is still loading; try again in a moment",
                )
            })
        })
        .map_err(with_status)
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

/// Fetches an image URL on the server (with its SSRF rules) and detects objects in it.
/// Served by the host's front door like [`detect_upload`].
#[server(prefix = "/api", endpoint = "detect_url")]
pub async fn detect_url(url: String) -> Result<DetectResponse, Problem> {
    let _ = url;
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
