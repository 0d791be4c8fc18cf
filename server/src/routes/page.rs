//! The page's detection server functions, served by the front door at the paths their
//! declarations fix (`<Fn as ServerFn>::PATH`): the same reader, limits, key, admission and
//! errors as `POST /v1/detect`, answering what the server-function client expects (JSON, or
//! the problem as JSON with its status). Plus the one-time path where the page gets the
//! bytes the front fetched for a URL.

use std::time::Instant;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use app::server_fns::UrlDetection;
use app::types::DetectResponse;

use crate::error::{ApiError, Kind};
use crate::front::{kept, DetectRequest, Door, OutputFormat};
use crate::state::AppState;

/// `detect_upload`: an uploaded file.
pub async fn detect(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<DetectResponse>, ApiError> {
    let started = Instant::now();
    let request = json_only(state.front.extract(Door::Page, request).await?);
    Ok(Json(state.front.detect(request, started).await?.response))
}

/// `detect_url`: an address the front fetches. The fetched bytes are kept for the page to
/// paint (served once, for a short while).
pub async fn detect_url(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<UrlDetection>, ApiError> {
    let started = Instant::now();
    let request = json_only(state.front.extract(Door::Page, request).await?);
    let detected = state.front.detect(request, started).await?;
    let picture = detected
        .fetched
        .clone()
        .and_then(|bytes| state.front.kept().put(bytes))
        .map(|id| kept::path(&id));
    Ok(Json(UrlDetection {
        result: detected.response,
        picture,
    }))
}

/// The page's calls answer JSON whatever `format` asked (it is validated, not used): the
/// front then decodes a large photo only at the scale the model needs.
fn json_only(mut request: DetectRequest) -> DetectRequest {
    request.format = OutputFormat::Json;
    request
}

/// `GET /api/fetched/{id}`: the image the front fetched for the page, once. Needs the key
/// like the detection that fetched it.
pub async fn fetched(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.front.authorize(&headers)?;
    let bytes = state.front.kept().take(&id).ok_or_else(|| {
        ApiError::new(
            Kind::NotFound,
            "that image is no longer kept here (each is served once, for two minutes); detect the address again",
        )
    })?;
    let mime = image::guess_format(&bytes)
        .map(|f| f.to_mime_type())
        .unwrap_or("application/octet-stream");
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        bytes,
    )
        .into_response())
}
