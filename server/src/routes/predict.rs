//! `PUT /predict`: the contract of the Python service Lookout replaces, kept exactly. A thin
//! adapter: the old request becomes a [`crate::front::DetectRequest`] (by the front's own
//! reader), and the answer is put back into the old shape.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::front::Door;
use crate::state::AppState;

/// The original response, plus `scores`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PredictResponse {
    /// `[[x1, y1], [x2, y2]]` per detection, in original image pixels, best first.
    pub boxes: Vec<[[f32; 2]; 2]>,
    /// Class name per detection.
    pub classes: Vec<String>,
    /// Score per detection (added; old clients ignore it).
    pub scores: Vec<f32>,
}

/// Detect objects (the original Python service's API).
#[utoipa::path(
    put,
    path = "/predict",
    tag = "compatibility",
    request_body = crate::front::encoding::PredictRequest,
    responses(
        (status = 200, description = "Detections above the threshold (empty lists when there are none)", body = PredictResponse),
        (status = 400, description = "Malformed JSON or base64, or a corrupt image", body = app::types::Problem, content_type = "application/problem+json"),
        (status = 401, description = "The server has an API key and the request lacks it", body = app::types::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body or image too large", body = app::types::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not an image, or an unsupported format", body = app::types::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing base64str, threshold outside 0..1, or an image shape the model cannot process", body = app::types::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Busy (see Retry-After) or still loading", body = app::types::Problem, content_type = "application/problem+json"),
        (status = 504, description = "Inference passed the request deadline", body = app::types::Problem, content_type = "application/problem+json"),
    ),
    security((), ("api_key" = []))
)]
pub async fn predict(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<PredictResponse>, ApiError> {
    let started = Instant::now();
    let request = state.front.extract(Door::Predict, request).await?;
    let detections = state
        .front
        .detect(request, started)
        .await?
        .response
        .detections;
    Ok(Json(PredictResponse {
        boxes: detections
            .iter()
            .map(|d| [[d.bbox.x1, d.bbox.y1], [d.bbox.x2, d.bbox.y2]])
            .collect(),
        classes: detections.iter().map(|d| d.label.clone()).collect(),
        scores: detections.iter().map(|d| d.score).collect(),
    }))
}
