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
use serde_json::json;

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
        let mut response =
            (err.status(), Json(json!({ "error": err.problem.detail }))).into_response();
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

async fn server_metadata() -> Json<metadata::ServerMetadata> {
    Json(metadata::server())
}

async fn live() -> Json<serde_json::Value> {
    Json(json!({ "live": true }))
}

/// Ready as `/readyz` is (the default model serves, not shutting down): 200 `{"ready":
/// true}`, else 503 `{"ready": false}`, so probes and clients read the status or the body.
async fn ready(State(state): State<AppState>) -> Response {
    readiness(
        state.front.is_ready(),
        json!({ "ready": state.front.is_ready() }),
    )
}

fn readiness(ready: bool, body: serde_json::Value) -> Response {
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn model_metadata(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Json<metadata::ModelMetadata>, OipError> {
    state.front.authorize(&headers)?;
    Ok(Json(state.front.model_metadata(&name, None)?))
}

async fn model_metadata_of(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Json<metadata::ModelMetadata>, OipError> {
    state.front.authorize(&headers)?;
    Ok(Json(state.front.model_metadata(&name, Some(&version))?))
}

/// A model's readiness, open like `/readyz`: 200 or 503 with `{"name", "ready"}`; 404 for a
/// model the server does not serve.
async fn model_ready(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, OipError> {
    let ready = state.front.model_ready(&name, None)?;
    Ok(readiness(ready, json!({ "name": name, "ready": ready })))
}

async fn model_ready_of(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, OipError> {
    let ready = state.front.model_ready(&name, Some(&version))?;
    Ok(readiness(ready, json!({ "name": name, "ready": ready })))
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
