//! `/v1`: the richer API. One detection endpoint that takes the image however the client
//! has it, and answers JSON or an annotated picture.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use detector::DetectOptions;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use app::types::{DetectResponse, Problem};

use crate::annotate;
use crate::error::ApiError;
use crate::routes::predict::{decode_base64, parse_json};
use crate::routes::validate_threshold;
use crate::state::AppState;

/// What to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Json,
    Png,
    Jpeg,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DetectQuery {
    /// Keep detections scoring at least this (0..1, default 0.5).
    pub threshold: Option<f32>,
    /// Keep at most this many, best first (default 100).
    pub max_detections: Option<usize>,
    /// `json` (default), or `png` / `jpeg` for the image with the boxes drawn on it.
    /// `Accept: image/png` or `image/jpeg` does the same.
    pub format: Option<OutputFormat>,
}

/// The image as base64, or a URL for the server to fetch (exactly one of the two).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectJson {
    /// The image, base64-encoded (data-URL prefix and whitespace accepted).
    pub image: Option<String>,
    /// An http(s) URL of the image; only public addresses are fetched.
    pub url: Option<String>,
    pub threshold: Option<f32>,
    pub max_detections: Option<usize>,
}

/// Multipart form fields (for documentation; parsed by hand to stream the file).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct DetectForm {
    /// The image file.
    #[schema(format = Binary, value_type = String)]
    image: Vec<u8>,
    threshold: Option<f32>,
    max_detections: Option<usize>,
}

/// Where the image comes from, once the request is understood.
enum Source {
    Bytes(Bytes),
    Url(String),
}

struct Parsed {
    source: Source,
    threshold: Option<f32>,
    max_detections: Option<usize>,
}

/// Detect objects in an image.
#[utoipa::path(
    post,
    path = "/v1/detect",
    tag = "detection",
    params(DetectQuery),
    request_body(
        description = "The image: a multipart form (file in `image`), a raw `image/*` body, or JSON with `image` (base64) or `url`.",
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
        (status = 400, description = "Malformed request, corrupt image, or URL refused", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body or image too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not an image, an unsupported format, or an unsupported Content-Type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid values or unknown fields", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The URL could not be fetched", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Busy (see Retry-After) or still loading", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The URL or the inference took too long", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("api_key" = []))
)]
pub async fn detect(
    State(state): State<AppState>,
    query: Result<Query<DetectQuery>, axum::extract::rejection::QueryRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let Query(query) =
        query.map_err(|e| ApiError::invalid(format!("bad query parameters: {}", e.body_text())))?;
    let format = query
        .format
        .unwrap_or_else(|| format_from_accept(request.headers()));
    let parsed = parse_body(&state, request).await?;

    let threshold = query
        .threshold
        .or(parsed.threshold)
        .unwrap_or(app::types::DEFAULT_THRESHOLD);
    validate_threshold(threshold)?;
    let max_detections = query
        .max_detections
        .or(parsed.max_detections)
        .unwrap_or(100);
    if max_detections < 1 {
        return Err(ApiError::invalid("max_detections must be at least 1"));
    }
    let options = DetectOptions {
        threshold,
        max_detections,
    };

    let detected = match parsed.source {
        Source::Bytes(bytes) => state.pipeline.detect(bytes, options, started).await?,
        Source::Url(url) => state.pipeline.detect_url(&url, options, started).await?,
    };
    match format {
        OutputFormat::Json => Ok(Json(detected.response).into_response()),
        OutputFormat::Png | OutputFormat::Jpeg => {
            let (image_format, mime) = if format == OutputFormat::Png {
                (image::ImageFormat::Png, "image/png")
            } else {
                (image::ImageFormat::Jpeg, "image/jpeg")
            };
            let image = detected.image;
            let detections = detected.response.detections;
            let encoded = tokio::task::spawn_blocking(move || {
                annotate::encode(&annotate::draw(&image, &detections), image_format)
            })
            .await
            .map_err(|e| ApiError::internal(format!("the drawing thread failed: {e}")))?
            .map_err(|e| {
                ApiError::internal(format!("could not encode the annotated image: {e}"))
            })?;
            Ok((
                [(header::CONTENT_TYPE, HeaderValue::from_static(mime))],
                encoded,
            )
                .into_response())
        }
    }
}

fn format_from_accept(headers: &HeaderMap) -> OutputFormat {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Only an explicit image type asks for a picture; `*/*` keeps JSON.
    for part in accept.split(',') {
        match part.split(';').next().unwrap_or("").trim() {
            "application/json" => return OutputFormat::Json,
            "image/png" => return OutputFormat::Png,
            "image/jpeg" => return OutputFormat::Jpeg,
            _ => {}
        }
    }
    OutputFormat::Json
}

async fn parse_body(state: &AppState, request: Request) -> Result<Parsed, ApiError> {
    let limit = state.pipeline.max_body_bytes();
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mime: Option<mime::Mime> = content_type.parse().ok();
    let essence = mime
        .as_ref()
        .map(|m| m.essence_str().to_owned())
        .unwrap_or_default();
    match essence.as_str() {
        "multipart/form-data" => parse_multipart(request, limit).await,
        "application/json" => {
            let body = read_body(request.into_body(), limit).await?;
            let json: DetectJson = parse_json(&body)?;
            let source = match (json.image, json.url) {
                (Some(image), None) => Source::Bytes(decode_base64(&image)?),
                (None, Some(url)) => Source::Url(url),
                (Some(_), Some(_)) => return Err(ApiError::invalid("send either `image` or `url`, not both")),
                (None, None) => return Err(ApiError::invalid("the JSON body needs `image` (base64) or `url`")),
            };
            Ok(Parsed {
                source,
                threshold: json.threshold,
                max_detections: json.max_detections,
            })
        }
        e if e.starts_with("image/") || e == "application/octet-stream" => Ok(Parsed {
            source: Source::Bytes(read_body(request.into_body(), limit).await?),
            threshold: None,
            max_detections: None,
        }),
        "" => Err(ApiError::unsupported_media(
            "the request has no Content-Type: send multipart/form-data, application/json, or an image/* body",
        )),
        other => Err(ApiError::unsupported_media(format!(
            "{other} is not accepted here: send multipart/form-data, application/json, or an image/* body"
        ))),
    }
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if is_length_limit(&e) {
            ApiError::body_too_large(limit)
        } else {
            ApiError::bad_request(format!("the request body could not be read: {e}"))
        }
    })
}

fn is_length_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
            || e.to_string().contains("length limit")
        {
            return true;
        }
        source = e.source();
    }
    false
}

async fn parse_multipart(request: Request, limit: usize) -> Result<Parsed, ApiError> {
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|e| {
        ApiError::bad_request(format!("the form data is malformed: {}", e.body_text()))
    })?;
    let mut image = None;
    let mut threshold = None;
    let mut max_detections = None;
    let bad = |e: axum::extract::multipart::MultipartError| {
        if is_length_limit(&e) {
            ApiError::body_too_large(limit)
        } else {
            ApiError::bad_request(format!("the form data is malformed: {}", e.body_text()))
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "image" => image = Some(field.bytes().await.map_err(bad)?),
            "threshold" => {
                let text = field.text().await.map_err(bad)?;
                threshold = Some(text.trim().parse::<f32>().map_err(|_| {
                    ApiError::invalid(format!("threshold `{text}` is not a number"))
                })?);
            }
            "max_detections" => {
                let text = field.text().await.map_err(bad)?;
                max_detections = Some(text.trim().parse::<usize>().map_err(|_| {
                    ApiError::invalid(format!("max_detections `{text}` is not a whole number"))
                })?);
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown form field `{other}` (expected image, threshold, max_detections)"
                )))
            }
        }
    }
    let image = image.ok_or_else(|| ApiError::invalid("the form has no `image` file field"))?;
    Ok(Parsed {
        source: Source::Bytes(image),
        threshold,
        max_detections,
    })
}

/// The loaded model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelsResponse {
    pub models: Vec<ModelDescription>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelDescription {
    pub name: String,
    pub path: String,
    pub sha256: String,
    pub size_bytes: u64,
    /// `torchvision` or `zoo`.
    pub layout: String,
    /// Where the label names came from: metadata, sidecar, coco80 or generic.
    pub label_source: String,
    pub labels: Vec<String>,
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

/// The loaded model: name, file hash, layout, labels, signature, sessions and threads.
#[utoipa::path(
    get,
    path = "/v1/models",
    tag = "detection",
    responses(
        (status = 200, body = ModelsResponse),
        (status = 503, description = "Still loading", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("api_key" = []))
)]
pub async fn models(State(state): State<AppState>) -> Result<Json<ModelsResponse>, ApiError> {
    let engine = state.pipeline.engine().ok_or_else(ApiError::not_ready)?;
    let info = engine.info();
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
    Ok(Json(ModelsResponse {
        models: vec![ModelDescription {
            name: info.name.clone(),
            path: info.path.clone(),
            sha256: info.sha256.clone(),
            size_bytes: info.size_bytes,
            layout: info.layout.as_str().to_owned(),
            label_source: serde_json::to_value(info.label_source)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            labels: info.labels.clone(),
            inputs: tensors(&info.inputs),
            outputs: tensors(&info.outputs),
            sessions: info.sessions,
            intra_threads: info.intra_threads,
            queue_capacity: engine.capacity(),
            deadline_ms: engine.deadline().as_millis(),
        }],
    }))
}
