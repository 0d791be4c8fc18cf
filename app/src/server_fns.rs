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
#[server(prefix = "/api", endpoint = "detect_upload", input = MultipartFormData)]
pub async fn detect_upload(data: MultipartData) -> Result<DetectResponse, Problem> {
    upload(data).await.map_err(with_status)
}

#[cfg(feature = "ssr")]
async fn upload(data: MultipartData) -> Result<DetectResponse, Problem> {
    use crate::backend::{backend, DetectParams};
    let backend = backend()?;
    let limit = backend.max_upload_bytes();
    let mut multipart = data
        .into_inner()
        .ok_or_else(|| Problem::new(400, "Bad upload", "the form data could not be read"))?;
    let bad_form = |e: String| {
        Problem::new(
            400,
            "Bad upload",
            format!("the form data is malformed: {e}"),
        )
    };
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| bad_form(e.to_string()))?
    {
        if field.name() != Some("image") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| bad_form(e.to_string()))? {
            if bytes.len() + chunk.len() > limit {
                return Err(too_large(limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        let params = DetectParams {
            threshold: crate::types::UI_SCORE_FLOOR,
            max_detections: 100,
        };
        return backend.detect_bytes(bytes.into(), params).await;
    }
    Err(Problem::new(
        400,
        "No image",
        "the form has no file in its `image` field; choose an image and try again",
    ))
}

/// Fetches an image URL on the server (with its SSRF rules) and detects objects in it.
#[server(prefix = "/api", endpoint = "detect_url")]
pub async fn detect_url(url: String) -> Result<DetectResponse, Problem> {
    use crate::backend::{backend, DetectParams};
    let params = DetectParams {
        threshold: crate::types::UI_SCORE_FLOOR,
        max_detections: 100,
    };
    let backend = backend().map_err(with_status)?;
    backend
        .detect_url(url.trim(), params)
        .await
        .map_err(with_status)
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

#[cfg(feature = "ssr")]
fn too_large(limit: usize) -> Problem {
    Problem::new(
        413,
        "Image too large",
        format!(
            "the upload is larger than the {} MiB limit",
            limit / (1024 * 1024)
        ),
    )
}
