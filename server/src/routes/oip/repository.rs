//! The repository extension over REST: `POST /v2/repository/index`,
//! `/v2/repository/models/{name}/load` and `/unload`, behind `--admin-key`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::OipError;
use crate::error::ApiError;
use crate::front::encoding::parse_json;
use crate::state::AppState;

/// `POST /v2/repository/index` (an empty body is `{}`).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct IndexBody {
    /// Accepted and ignored: the server has one repository.
    #[serde(default)]
    #[allow(dead_code)]
    repository_name: Option<String>,
    /// Only the models that are ready.
    #[serde(default)]
    ready: Option<bool>,
}

/// `POST .../load` and `.../unload` (an empty body is `{}`): no load parameter is taken;
/// unload takes `unload_dependents` (there are none).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LoadBody {
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    parameters: Option<Map<String, Value>>,
}

/// A model in the index: the served ones and the `.onnx` files of `--models-dir`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexEntry {
    name: String,
    #[schema(example = "1")]
    version: String,
    /// `READY`, `LOADING` or `UNAVAILABLE`.
    #[schema(example = "READY")]
    state: &'static str,
    /// Why it is unavailable (`unloaded`, or the load's failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// A load that succeeded: the model serves.
#[derive(Debug, Serialize, ToSchema)]
pub struct Loaded {
    name: String,
    load: bool,
}

/// An unload that succeeded: the model no longer serves.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unloaded {
    name: String,
    unload: bool,
}

/// An empty body is `{}`.
fn body<T: serde::de::DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_json(bytes)
}

/// The models served and the `.onnx` files of `--models-dir`, with their state.
#[utoipa::path(
    post,
    path = "/v2/repository/index",
    tag = "open inference protocol",
    request_body(content = Option<IndexBody>, content_type = "application/json"),
    responses(
        (status = 200, body = Vec<IndexEntry>),
        (status = 400, description = "Malformed JSON", body = super::ErrorBody),
        (status = 401, description = "Without the admin key, or with a wrong one", body = super::ErrorBody),
        (status = 403, description = "The server has no --admin-key: the repository is closed", body = super::ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn index(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Vec<IndexEntry>>, OipError> {
    state.repository.authorize(&headers)?;
    let request: IndexBody = body(&bytes)?;
    let entries = state
        .repository
        .index(state.front.models(), request.ready.unwrap_or(false));
    Ok(Json(
        entries
            .into_iter()
            .map(|e| IndexEntry {
                name: e.name,
                version: e.version,
                state: e.state,
                reason: Some(e.reason).filter(|r| !r.is_empty()),
            })
            .collect(),
    ))
}

/// Loads `NAME.onnx` of `--models-dir`, or reloads a model that serves from its file: the new
/// engine is built first, then swapped in at once (requests already running finish on the
/// old one); a file that does not load leaves the old model serving.
#[utoipa::path(
    post,
    path = "/v2/repository/models/{name}/load",
    tag = "open inference protocol",
    params(("name" = String, Path, description = "The model (`NAME.onnx` in --models-dir)")),
    request_body(content = Option<LoadBody>, content_type = "application/json"),
    responses(
        (status = 200, description = "The model serves", body = Loaded),
        (status = 400, description = "The file did not load (the reason; a model already loaded keeps serving), a load parameter, malformed JSON", body = super::ErrorBody),
        (status = 401, description = "Without the admin key, or with a wrong one", body = super::ErrorBody),
        (status = 403, description = "The server has no --admin-key: the repository is closed", body = super::ErrorBody),
        (status = 404, description = "No such model, and no such file in --models-dir", body = super::ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn load(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Loaded>, OipError> {
    state.repository.authorize(&headers)?;
    let request: LoadBody = body(&bytes)?;
    if let Some(first) = request.parameters.unwrap_or_default().keys().next() {
        return Err(ApiError::bad_request(format!(
            "load parameter `{first}` is not supported: Lookout loads the model's file from --models-dir (or its --model path) as it is"
        ))
        .into());
    }
    state.repository.load(state.front.models(), &name).await?;
    Ok(Json(Loaded { name, load: true }))
}

/// Stops serving a model (never the default one); requests running on it finish first.
#[utoipa::path(
    post,
    path = "/v2/repository/models/{name}/unload",
    tag = "open inference protocol",
    params(("name" = String, Path, description = "The model")),
    request_body(content = Option<LoadBody>, content_type = "application/json"),
    responses(
        (status = 200, description = "The model no longer serves", body = Unloaded),
        (status = 400, description = "The default model, an unknown parameter, malformed JSON", body = super::ErrorBody),
        (status = 401, description = "Without the admin key, or with a wrong one", body = super::ErrorBody),
        (status = 403, description = "The server has no --admin-key: the repository is closed", body = super::ErrorBody),
        (status = 404, description = "No such model served", body = super::ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn unload(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Unloaded>, OipError> {
    state.repository.authorize(&headers)?;
    let request: LoadBody = body(&bytes)?;
    if let Some(first) = request
        .parameters
        .unwrap_or_default()
        .keys()
        .find(|k| k.as_str() != "unload_dependents")
    {
        return Err(
            ApiError::bad_request(format!("unload parameter `{first}` is not supported")).into(),
        );
    }
    state.repository.unload(state.front.models(), &name).await?;
    Ok(Json(Unloaded { name, unload: true }))
}
