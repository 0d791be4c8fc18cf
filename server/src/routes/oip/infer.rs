//! `POST /v2/models/{name}[/versions/{v}]/infer`: an inference request in JSON, or in the
//! binary tensor data extension (a JSON header of `Inference-Header-Content-Length` bytes,
//! then the inputs' raw data in order, each `binary_data_size` long), answered in JSON, or
//! as a JSON header followed by the outputs asked for in binary (`binary_data: true` on an
//! output, or `binary_data_output: true` on the request), as Triton does.

use std::time::Instant;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::OipError;
use crate::error::ApiError;
use crate::front::encoding::parse_json;
use crate::front::oip::params::{ParamValue, Params};
use crate::front::oip::{InferAnswer, InferCall, InputData, InputTensor, RequestedOutput};
use crate::guards::REQUEST_ID;
use crate::state::AppState;

/// The binary extension's header: how many bytes of the body (or answer) are JSON.
pub const HEADER_LENGTH: HeaderName = HeaderName::from_static("inference-header-content-length");

#[derive(Debug, Default, Deserialize)]
struct InferBody {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    #[serde(default)]
    inputs: Vec<InputJson>,
    #[serde(default)]
    outputs: Option<Vec<OutputJson>>,
}

#[derive(Debug, Deserialize)]
struct InputJson {
    name: String,
    datatype: String,
    shape: Vec<i64>,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct OutputJson {
    name: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
}

pub async fn infer(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Result<Response, OipError> {
    run(state, name, None, request).await
}

pub async fn infer_version(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    request: Request,
) -> Result<Response, OipError> {
    run(state, name, Some(version), request).await
}

async fn run(
    state: AppState,
    model: String,
    version: Option<String>,
    request: Request,
) -> Result<Response, OipError> {
    let started = Instant::now();
    let json_length = header_length(request.headers())?;
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (body, reservation) = state.front.read_infer_body(request).await?;
    let mut call = parse(body, json_length)?;
    call.model = model;
    call.version = version;
    // Every answer has an id: the client's, else this request's id (as in the log).
    if call.id.as_deref().is_none_or(str::is_empty) {
        call.id = request_id;
    }
    let answer = state.front.infer(call, Some(reservation), started).await?;
    Ok(write(answer))
}

fn header_length(headers: &HeaderMap) -> Result<Option<usize>, ApiError> {
    let Some(value) = headers.get(&HEADER_LENGTH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "Inference-Header-Content-Length must be the length in bytes of the JSON header",
            )
        })
}

/// The request, with each input's binary data taken from after the JSON header.
fn parse(body: Bytes, json_length: Option<usize>) -> Result<InferCall, ApiError> {
    let (header, mut binary) = match json_length {
        None => (body, Bytes::new()),
        Some(n) if n <= body.len() => (body.slice(..n), body.slice(n..)),
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "Inference-Header-Content-Length says the JSON header has {n} bytes, but the body has only {}",
                body.len()
            )))
        }
    };
    let parsed: InferBody = parse_json(&header)?;
    let mut inputs = Vec::with_capacity(parsed.inputs.len());
    for input in parsed.inputs {
        let parameters = params(input.parameters, &format!("input `{}`", input.name))?;
        let size = parameters
            .iter()
            .find(|(n, _)| n == "binary_data_size")
            .map(|(_, v)| {
                v.as_u64().ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "binary_data_size of input `{}` must be a whole number of bytes",
                        input.name
                    ))
                })
            })
            .transpose()?;
        let data = match (size, input.data) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(format!(
                    "input `{}` has both `data` and binary_data_size: send one",
                    input.name
                )))
            }
            (Some(size), None) => {
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                if json_length.is_none() {
                    return Err(ApiError::bad_request(format!(
                        "input `{}` has binary_data_size but the request has no Inference-Header-Content-Length header",
                        input.name
                    )));
                }
                if size > binary.len() {
                    return Err(ApiError::bad_request(format!(
                        "input `{}` says binary_data_size {size}, but only {} bytes of binary data are left",
                        input.name,
                        binary.len()
                    )));
                }
                InputData::Raw(binary.split_to(size))
            }
            (None, Some(data)) => InputData::Json(data),
            (None, None) => InputData::Absent,
        };
        inputs.push(InputTensor {
            name: input.name,
            datatype: input.datatype,
            shape: input.shape,
            parameters,
            data,
        });
    }
    if !binary.is_empty() {
        return Err(ApiError::bad_request(format!(
            "the body has {} bytes of binary data that no input's binary_data_size accounts for",
            binary.len()
        )));
    }
    let outputs = parsed
        .outputs
        .map(|outputs| {
            outputs
                .into_iter()
                .map(|o| {
                    Ok(RequestedOutput {
                        parameters: params(o.parameters, &format!("output `{}`", o.name))?,
                        name: o.name,
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()
        })
        .transpose()?;
    Ok(InferCall {
        id: parsed.id.map(|id| match id {
            Value::String(s) => s,
            other => other.to_string(),
        }),
        parameters: params(parsed.parameters, "the request")?,
        inputs,
        outputs,
        ..InferCall::default()
    })
}

fn params(map: Option<Map<String, Value>>, whose: &str) -> Result<Params, ApiError> {
    map.unwrap_or_default()
        .into_iter()
        .map(|(name, value)| match ParamValue::from_json(&value) {
            Some(v) => Ok((name, v)),
            None => Err(ApiError::bad_request(format!(
                "parameter `{name}` of {whose} must be a boolean, a number or a string"
            ))),
        })
        .collect()
}

/// The answer: JSON, or a JSON header and the binary outputs after it.
fn write(answer: InferAnswer) -> Response {
    let mut tail: Vec<u8> = Vec::new();
    let outputs: Vec<Value> = answer
        .outputs
        .iter()
        .map(|o| {
            let mut tensor = json!({"name": o.name, "datatype": o.datatype, "shape": o.shape});
            if o.binary {
                let raw = o.raw();
                tensor["parameters"] = json!({ "binary_data_size": raw.len() });
                tail.extend_from_slice(&raw);
            } else {
                tensor["data"] = o.json_data();
            }
            tensor
        })
        .collect();
    let mut head = json!({
        "model_name": answer.model_name,
        "model_version": answer.model_version,
        "parameters": {"image_width": answer.width, "image_height": answer.height},
        "outputs": outputs,
    });
    if let Some(id) = answer.id {
        head["id"] = json!(id);
    }
    let head = serde_json::to_vec(&head).unwrap_or_default();
    if !answer.outputs.iter().any(|o| o.binary) {
        return ([(header::CONTENT_TYPE, "application/json")], head).into_response();
    }
    let length = head.len();
    let mut body = head;
    body.extend_from_slice(&tail);
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(HEADER_LENGTH, HeaderValue::from(length));
    response
}
