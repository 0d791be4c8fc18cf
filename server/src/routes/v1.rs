//! `/v1`: the richer API. One detection endpoint that takes the image however the client
//! has it, and answers JSON or an annotated picture.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use app::types::{DetectResponse, Problem};

use crate::error::ApiError;
use crate::front::extract::DetectJson;
use crate::front::{Door, OutputFormat};
use crate::models::ModelState;
use crate::state::AppState;

#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DetectQuery {
    /// Keep detections scoring at least this (0..1, default 0.5).
    threshold: Option<f32>,
    /// Keep at most this many, best first (1..1000, default 100).
    max_detections: Option<usize>,
    /// `json` (default), or `png` / `jpeg` for the image with the boxes drawn on it.
    /// `Accept: image/png` or `image/jpeg` does the same.
    format: Option<OutputFormat>,
    /// The model to run (see `GET /v1/models`); default: the server's default model.
    model: Option<String>,
}

/// Multipart form fields (for documentation; parsed by the front door to stream the file).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct DetectForm {
    /// The image file.
    #[schema(format = Binary, value_type = String)]
    image: Vec<u8>,
    threshold: Option<f32>,
    max_detections: Option<usize>,
    format: Option<OutputFormat>,
    model: Option<String>,
    /// The API key, for HTML forms that cannot send headers.
    api_key: Option<String>,
}

/// Detect objects in an image.
#[utoipa::path(
    post,
    path = "/v1/detect",
    tag = "detection",
    params(DetectQuery),
    request_body(
        description = "The image: a multipart form (file in `image`), a raw `image/*` body, JSON with `image` (base64) or `url`, or a url-encoded form with `url`.",
        content(
            (DetectForm = "multipart/form-data"),
            (DetectJson = "application/json"),
            (Vec<u8> = "image/*"),
        )
    ),
    responses(
        (status = 200, description = "The detections (or, with format=png|jpeg, the annotated image)", content(
            (DetectResponse = "application/json"),
            (Vec<u8> = "image/png"),
            (Vec<u8> = "image/jpeg"),
        )),
        (status = 400, description = "Malformed request, corrupt or truncated image, or URL refused", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The server has an API key and the request lacks it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown model", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "The body arrived too slowly", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body or image too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not an image, an unsupported format, or an unsupported Content-Type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid values, unknown fields, or an image shape the model cannot process", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The URL could not be fetched", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Busy (see Retry-After) or still loading", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The URL or the inference took too long", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("api_key" = []))
)]
pub async fn detect(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let started = Instant::now();
    let request = state.front.extract(Door::Api, request).await?;
    let format = request.format;
    let detected = state.front.detect(request, started).await?;
    crate::annotate::respond(detected, format).await
}

/// The models this server serves.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelsResponse {
    /// The model used when a request names none.
    pub default: String,
    pub models: Vec<ModelDescription>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelDescription {
    /// The name requests use (`?model=`).
    pub name: String,
    /// `ready`, `loading` or `failed`.
    pub state: String,
    /// sha256 of the model file: which weights are serving, without saying where they live.
    pub sha256: Option<String>,
    pub size_bytes: Option<u64>,
    /// `torchvision` or `zoo`.
    pub layout: Option<String>,
    /// Where the label names came from: metadata, sidecar, coco80 or generic.
    pub label_source: Option<String>,
    pub labels: Vec<String>,
    /// How the model scales images, e.g. "short side to 800, long side at most 1333".
    pub resize: Option<String>,
    pub inputs: Vec<TensorDescription>,
    pub outputs: Vec<TensorDescription>,
    pub sessions: usize,
    pub intra_threads: usize,
    pub queue_capacity: usize,
    pub deadline_ms: u128,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TensorDescription {
    pub name: String,
    pub dtype: String,
    /// Dimensions; dynamic ones by their symbolic name.
    pub shape: Vec<String>,
}

/// The models: name, state, file hash, layout, labels, signature, sessions and threads.
#[utoipa::path(
    get,
    path = "/v1/models",
    tag = "detection",
    responses(
        (status = 200, body = ModelsResponse),
        (status = 401, description = "The server has an API key and the request lacks it", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("api_key" = []))
)]
pub async fn models(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ModelsResponse>, ApiError> {
    state.front.authorize(&headers)?;
    let tensors = |specs: &[detector::TensorSpec]| {
        specs
            .iter()
            .map(|s| TensorDescription {
                name: s.name.clone(),
                dtype: s.dtype.clone(),
                shape: s.shape.clone(),
            })
            .collect()
    };
    let registry = state.front.models();
    let models = registry
        .slots()
        .iter()
        .map(|slot| {
            let config = slot.config();
            let state_name = match slot.state() {
                ModelState::Ready => "ready",
                ModelState::Loading => "loading",
                ModelState::Failed { .. } => "failed",
            };
            let mut d = ModelDescription {
                name: slot.name().to_owned(),
                state: state_name.to_owned(),
                sha256: None,
                size_bytes: None,
                layout: None,
                label_source: None,
                labels: Vec::new(),
                resize: None,
                inputs: Vec::new(),
                outputs: Vec::new(),
                sessions: config.sessions,
                intra_threads: config.intra_threads,
                queue_capacity: config.sessions + config.queue_depth,
                deadline_ms: config.deadline.as_millis(),
            };
            if let Some(engine) = slot.engine() {
                let info = engine.info();
                d.sha256 = Some(info.sha256.clone());
                d.size_bytes = Some(info.size_bytes);
                d.layout = Some(info.layout.as_str().to_owned());
                d.label_source = serde_json::to_value(info.label_source)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned));
                d.labels = info.labels.clone();
                d.resize = Some(info.resize.describe());
                d.inputs = tensors(&info.inputs);
                d.outputs = tensors(&info.outputs);
                d.intra_threads = info.intra_threads;
                d.queue_capacity = engine.capacity();
            }
            d
        })
        .collect();
    Ok(Json(ModelsResponse {
        default: registry
            .default_slot()
            .map(|s| s.name().to_owned())
            .unwrap_or_default(),
        models,
    }))
}
