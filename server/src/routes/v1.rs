//! `/v1`: the richer API. One detection endpoint that takes the image however the client
//! has it, and answers JSON or an annotated picture.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use app::types::{DetectResponse, Problem};

use crate::error::ApiError;
use crate::front::encoding::{BatchJson, DetectJson};
use crate::front::multipart::{BatchForm, DetectForm};
use crate::front::respond::BatchResponse;
use crate::front::Door;
use crate::models::ModelState;
use crate::state::AppState;

/// Detect objects in an image.
#[utoipa::path(
    post,
    path = "/v1/detect",
    tag = "detection",
    params(wire::DetectParams),
    request_body(
        description = "The image: a multipart form (file in `image`), a raw `image/*` body, JSON with `image` (base64) or `url`, or a url-encoded form with `url`.",
        content(
            (DetectForm = "multipart/form-data"),
            (DetectJson = "application/json"),
            (Vec<u8> = "image/*"),
        )
    ),
    responses(
        (status = 200, description = "The detections; with format=png|jpeg the annotated image; with format=coco|yolo|voc|csv a dataset export and with format=zip the annotated image (PNG) in a ZIP, as attachments", content(
            (DetectResponse = "application/json"),
            (Vec<u8> = "image/png"),
            (Vec<u8> = "image/jpeg"),
            (Vec<u8> = "application/zip"),
            (String = "text/csv"),
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
    let (format, threshold) = (request.format, request.options.threshold);
    let detected = state.front.detect(request, started).await?;
    crate::front::respond::single(detected, format, threshold).await
}

/// Detect objects in several images: one result per image, in order.
///
/// Each image is detected exactly as `POST /v1/detect` would detect it (same options, limits,
/// admission, image memory budget and deadline), one after another. An image that fails gets,
/// in its place in `results`, the problem (`type`, `status`) a single request would have got,
/// and the others go on: the answer is 200 unless the request as a whole is refused (key,
/// body size or encoding, more than `--max-batch-images` images, options, unknown model).
///
/// **Fairness**: a batch holds at most one place in the model's queue at a time, and an item
/// that finds the queue full waits for a place (up to the request deadline) instead of failing.
/// A single request sent while a batch runs is therefore answered after at most the batch item
/// being run, not after the whole batch.
///
/// **Exports**: with `format=coco|yolo|voc|csv|zip` the answer is one file over the images
/// that succeeded, in order; failed images are left out of it, and the
/// `Lookout-Failed-Items` header lists their zero-based positions in the request
/// (comma-separated; absent when every image succeeded). Use `format=json` to see why they
/// failed.
#[utoipa::path(
    post,
    path = "/v1/detect/batch",
    tag = "detection",
    params(wire::DetectParams),
    request_body(
        description = "The images: a multipart form with one `image` part per file (and/or `url` fields), or JSON with an `images` list of `{image: base64, name}` or `{url, name}`.",
        content(
            (BatchForm = "multipart/form-data"),
            (BatchJson = "application/json"),
        )
    ),
    responses(
        (status = 200, description = "One result per image (JSON), or the export over the images that succeeded (format=coco|yolo|voc|csv|zip, as an attachment; see `Lookout-Failed-Items`)", content(
            (BatchResponse = "application/json"),
            (Vec<u8> = "application/zip"),
            (String = "text/csv"),
        ), headers(
            ("Lookout-Failed-Items" = String, description = "Exports only: zero-based positions of the images that failed and are not in the file"),
        )),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The server has an API key and the request lacks it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown model", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "The body arrived too slowly", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large, or more images than --max-batch-images", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither multipart/form-data nor application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid options or fields, no images, or format=png|jpeg", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many uploads at once, or the model is still loading", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("api_key" = []))
)]
pub async fn detect_batch(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let batch = state.front.extract_batch(Door::Api, request).await?;
    let (format, threshold) = (batch.format, batch.options.threshold);
    let (items, labels) = state.front.detect_batch(batch).await?;
    crate::front::respond::batch(items, format, &labels, threshold)
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
