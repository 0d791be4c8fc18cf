//! The Open Inference Protocol ("KServe v2") doors: REST under `/v2` (this module and
//! [`infer`], [`repository`]) and gRPC on `--grpc-addr` ([`grpc`]). They are thin: the
//! inference itself is [`Front::infer`](crate::front::Front::infer), the same path as
//! `POST /v1/detect`; only the encoding differs.
//!
//! Errors are the protocol's `{"error": "..."}` with the detail words and the HTTP status
//! Lookout's problem would have ([`OipError`]).

pub mod grpc;
mod grpc_convert;
pub mod infer;
pub mod proto;
pub mod repository;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Kind};
use crate::front::oip::metadata;
use crate::state::AppState;

/// The OIP routes, merged into the one route table.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{name}", get(model_metadata))
        .route(
            "/v2/models/{name}/versions/{version}",
            get(model_metadata_of),
        )
        .route("/v2/models/{name}/ready", get(model_ready))
        .route(
            "/v2/models/{name}/versions/{version}/ready",
            get(model_ready_of),
        )
        .route("/v2/models/{name}/infer", post(infer::infer))
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(infer::infer_version),
        )
        .route("/v2/repository/index", post(repository::index))
        .route("/v2/repository/models/{name}/load", post(repository::load))
        .route(
            "/v2/repository/models/{name}/unload",
            post(repository::unload),
        )
        .route("/v2/{*rest}", any(not_found))
}

/// Whether `path` is one of the protocol's (its refusals are worded as it says).
pub fn is_oip_path(path: &str) -> bool {
    path == "/v2" || path.starts_with("/v2/")
}

/// The protocol's error: the words of Lookout's problem (its status is the HTTP status).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    #[schema(example = "there is no model called `cars` on this server; available: `shapes`")]
    pub error: String,
}

/// `GET /v2/health/live`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Live {
    pub live: bool,
}

/// `GET /v2/health/ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    pub ready: bool,
}

/// `GET /v2/models/{name}/ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelReady {
    pub name: String,
    pub ready: bool,
}

/// A failure as the protocol answers it: `{"error": "<detail>"}`, with Lookout's status.
#[derive(Debug)]
pub struct OipError(pub ApiError);

impl From<ApiError> for OipError {
    fn from(err: ApiError) -> Self {
        Self(err)
    }
}

impl IntoResponse for OipError {
    fn into_response(self) -> Response {
        let err = self.0;
        let status = err.status();
        let body = ErrorBody {
            error: err.problem.detail,
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = err.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if err.kind == Kind::Unauthorized {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // Where the access log and the metrics look for the kind.
        response.extensions_mut().insert(err.kind);
        response
    }
}

/// The server's metadata.
#[utoipa::path(
    get,
    path = "/v2",
    tag = "open inference protocol",
    responses(
        (status = 200, description = "The server, its version and extensions (`binary_tensor_data`, `model_repository`)", body = metadata::ServerMetadata),
    )
)]
pub async fn server_metadata() -> Json<metadata::ServerMetadata> {
    Json(metadata::server())
}

/// Live: the process answers.
#[utoipa::path(
    get,
    path = "/v2/health/live",
    tag = "open inference protocol",
    responses(
        (status = 200, description = "The process answers", body = Live),
    )
)]
pub async fn live() -> Json<Live> {
    Json(Live { live: true })
}

/// Ready as `/readyz` is (the default model serves, not shutting down): 200 `{"ready":
/// true}`, else 503 `{"ready": false}`, so probes and clients read the status or the body.
#[utoipa::path(
    get,
    path = "/v2/health/ready",
    tag = "open inference protocol",
    responses(
        (status = 200, description = "The default model serves", body = Ready),
        (status = 503, description = "The default model is loading, or the server stops", body = Ready),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Response {
    let ready = state.front.is_ready();
    readiness(ready, Ready { ready })
}

fn readiness(ready: bool, body: impl Serialize) -> Response {
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// A model's metadata (the same signature for every model).
#[utoipa::path(
    get,
    path = "/v2/models/{name}",
    tag = "open inference protocol",
    params(("name" = String, Path, description = "The model")),
    responses(
        (status = 200, description = "The model's signature: one input `image` (BYTES [1]); `boxes`, `scores`, `labels`, `class_ids`", body = metadata::ModelMetadata),
        (status = 401, description = "The server has an API key and the request lacks it", body = ErrorBody),
        (status = 404, description = "Unknown model or version", body = ErrorBody),
    ),
    security((), ("api_key" = []))
)]
pub async fn model_metadata(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Json<metadata::ModelMetadata>, OipError> {
    state.front.authorize(&headers)?;
    Ok(Json(state.front.model_metadata(&name, None)?))
}

/// A model's metadata, for its one version.
#[utoipa::path(
    get,
    path = "/v2/models/{name}/versions/{version}",
    tag = "open inference protocol",
    params(
        ("name" = String, Path, description = "The model"),
        ("version" = String, Path, description = "`1`, the one version of each model"),
    ),
    responses(
        (status = 200, description = "As /v2/models/{name}", body = metadata::ModelMetadata),
        (status = 401, description = "The server has an API key and the request lacks it", body = ErrorBody),
        (status = 404, description = "Unknown model or version", body = ErrorBody),
    ),
    security((), ("api_key" = []))
)]
pub async fn model_metadata_of(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Json<metadata::ModelMetadata>, OipError> {
    state.front.authorize(&headers)?;
    Ok(Json(state.front.model_metadata(&name, Some(&version))?))
}

/// A model's readiness, open like `/readyz`: 200 or 503 with `{"name", "ready"}`; 404 for a
/// model the server does not serve.
#[utoipa::path(
    get,
    path = "/v2/models/{name}/ready",
    tag = "open inference protocol",
    params(("name" = String, Path, description = "The model")),
    responses(
        (status = 200, description = "The model serves", body = ModelReady),
        (status = 503, description = "The model is loading or failed, or the server stops", body = ModelReady),
        (status = 404, description = "Unknown model or version", body = ErrorBody),
    )
)]
pub async fn model_ready(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, OipError> {
    let ready = state.front.model_ready(&name, None)?;
    Ok(readiness(ready, ModelReady { name, ready }))
}

/// A model's readiness, for its one version.
#[utoipa::path(
    get,
    path = "/v2/models/{name}/versions/{version}/ready",
    tag = "open inference protocol",
    params(
        ("name" = String, Path, description = "The model"),
        ("version" = String, Path, description = "`1`, the one version of each model"),
    ),
    responses(
        (status = 200, description = "The model serves", body = ModelReady),
        (status = 503, description = "The model is loading or failed, or the server stops", body = ModelReady),
        (status = 404, description = "Unknown model or version", body = ErrorBody),
    )
)]
pub async fn model_ready_of(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, OipError> {
    let ready = state.front.model_ready(&name, Some(&version))?;
    Ok(readiness(ready, ModelReady { name, ready }))
}

async fn not_found(uri: axum::http::Uri) -> OipError {
    OipError(ApiError::new(
        Kind::NotFound,
        format!(
            "{} is not part of the Open Inference Protocol as Lookout serves it (see GET /v2 and /v2/models/<name>)",
            uri.path()
        ),
    ))
}
