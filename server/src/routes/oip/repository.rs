//! The repository extension over REST: `POST /v2/repository/index`,
//! `/v2/repository/models/{name}/load` and `/unload`, behind `--admin-key`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::OipError;
use crate::error::ApiError;
use crate::front::encoding::parse_json;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
struct IndexBody {
    #[serde(default)]
    #[allow(dead_code)]
    repository_name: Option<String>,
    #[serde(default)]
    ready: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct LoadBody {
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
}

/// An empty body is `{}`.
fn body<T: serde::de::DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_json(bytes)
}

pub async fn index(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, OipError> {
    state.repository.authorize(&headers)?;
    let request: IndexBody = body(&bytes)?;
    let entries = state
        .repository
        .index(state.front.models(), request.ready.unwrap_or(false));
    Ok(Json(Value::Array(
        entries
            .into_iter()
            .map(|e| {
                let mut entry = json!({"name": e.name, "version": e.version, "state": e.state});
                if !e.reason.is_empty() {
                    entry["reason"] = json!(e.reason);
                }
                entry
            })
            .collect(),
    )))
}

pub async fn load(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, OipError> {
    state.repository.authorize(&headers)?;
    let request: LoadBody = body(&bytes)?;
    if let Some(first) = request.parameters.unwrap_or_default().keys().next() {
        return Err(ApiError::bad_request(format!(
            "load parameter `{first}` is not supported: Lookout loads the model's file from --models-dir (or its --model path) as it is"
        ))
        .into());
    }
    state.repository.load(state.front.models(), &name).await?;
    Ok(Json(json!({"name": name, "load": true})))
}

pub async fn unload(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, OipError> {
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
    Ok(Json(json!({"name": name, "unload": true})))
}
