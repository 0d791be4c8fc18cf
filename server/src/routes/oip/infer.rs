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
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::OipError;
use crate::error::ApiError;
use crate::front::encoding::parse_json;
use crate::front::oip::params::{ParamValue, Params};
use crate::front::oip::{InferAnswer, InferCall, InputData, InputTensor, RequestedOutput};
use crate::guards::REQUEST_ID;
use crate::state::AppState;

/// The binary extension's header: how many bytes of the body (or answer) are JSON.
pub const HEADER_LENGTH: HeaderName = HeaderName::from_static("inference-header-content-length");

/// An inference request (the JSON of `POST /v2/models/{name}/infer`, or the JSON header
/// of a binary one).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct InferBody {
    /// Comes back in the answer (without one: the request id).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    id: Option<Value>,
    /// `threshold`, `max_detections`, `tile`, `tile_overlap`, and the protocol's own
    /// (`binary_data_output`, `priority`, `timeout`, `sequence_*`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    parameters: Option<Map<String, Value>>,
    /// One input, `image`.
    #[serde(default)]
    inputs: Vec<InputJson>,
    /// The outputs to answer, in this order (default: all of them).
    #[serde(default)]
    outputs: Option<Vec<OutputJson>>,
}

/// An input tensor: `image`, BYTES, shape `[1]`; `data` holds the base64 of the image file
/// (or `parameters.binary_data_size` says how many bytes of the binary body it has).
#[derive(Debug, Deserialize, ToSchema)]
pub struct InputJson {
    #[schema(example = "image")]
    name: String,
    #[schema(example = "BYTES")]
    datatype: String,
    #[schema(example = json!([1]))]
    shape: Vec<i64>,
    /// The request's options, for this input; `binary_data_size`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    parameters: Option<Map<String, Value>>,
    /// `["<base64 of the image file>"]`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    data: Option<Value>,
}

/// An output asked for: `boxes`, `scores`, `labels` or `class_ids`; `parameters.binary_data:
/// true` answers it in binary.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OutputJson {
    #[schema(example = "boxes")]
    name: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    parameters: Option<Map<String, Value>>,
}

/// The answer of an inference (in the binary extension: its JSON header).
#[derive(Debug, Serialize, ToSchema)]
pub struct InferResponse {
    model_name: String,
    #[schema(example = "1")]
    model_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    parameters: AnswerParameters,
    outputs: Vec<OutputTensorJson>,
}

/// The size of the image in upright pixels, the space of `boxes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerParameters {
    image_width: u32,
    image_height: u32,
}

/// An output tensor: `boxes` FP32 `[N,4]` (x1, y1, x2, y2), `scores` FP32 `[N]`, `labels`
/// BYTES `[N]` (class names), `class_ids` INT64 `[N]`, best first; row-major `data`, or
/// `parameters.binary_data_size` bytes after the JSON header.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutputTensorJson {
    name: &'static str,
    datatype: &'static str,
    shape: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<BinarySize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Value>>)]
    data: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BinarySize {
    binary_data_size: usize,
}

/// Runs the model on one image (the same front as `POST /v1/detect`).
///
/// JSON: the `image` input's `data` is `["<base64 of the image file>"]`.
///
/// **Binary tensor data** (what `tritonclient` sends by default): the body is a JSON header
/// of `Inference-Header-Content-Length` bytes, then each input's data in order,
/// `parameters.binary_data_size` bytes each (a BYTES element is a 4-byte little-endian
/// length, then its bytes). Outputs with `parameters.binary_data: true` (or all of them,
/// with the request's `binary_data_output: true`) come back the same way: the answer is
/// `application/octet-stream` with `Inference-Header-Content-Length`, its JSON header has
/// `binary_data_size` on each binary output, and their raw data follows (little-endian,
/// row-major). `/v2/models/{name}/versions/1/infer` is the same.
#[utoipa::path(
    post,
    path = "/v2/models/{name}/infer",
    tag = "open inference protocol",
    params(("name" = String, Path, description = "The model")),
    request_body(
        description = "The inference request in JSON, or a JSON header and binary data (binary tensor data extension)",
        content(
            (InferBody = "application/json"),
            (Vec<u8> = "application/octet-stream"),
        )
    ),
    responses(
        (status = 200, description = "The detections as four tensors; with binary outputs a JSON header then their data", content(
            (InferResponse = "application/json"),
            (Vec<u8> = "application/octet-stream"),
        ), headers(
            ("Inference-Header-Content-Length" = usize, description = "Binary answers only: the length of the JSON header"),
        )),
        (status = 400, description = "No `image` input, another input, a datatype other than BYTES, a shape other than [1], bad base64 or binary lengths, malformed JSON, a corrupt image", body = super::ErrorBody),
        (status = 401, description = "The server has an API key and the request lacks it", body = super::ErrorBody),
        (status = 404, description = "Unknown model or version", body = super::ErrorBody),
        (status = 408, description = "The body arrived too slowly", body = super::ErrorBody),
        (status = 413, description = "Body or image too large", body = super::ErrorBody),
        (status = 415, description = "Not an image, or an unsupported format", body = super::ErrorBody),
        (status = 422, description = "An option out of range, an unknown parameter, or an image the model cannot process", body = super::ErrorBody),
        (status = 503, description = "Busy (with Retry-After) or the model is loading", body = super::ErrorBody),
        (status = 504, description = "Past the request deadline", body = super::ErrorBody),
    ),
    security((), ("api_key" = []))
)]
pub async fn infer(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Result<Response, OipError> {
    run(state, name, None, request).await
}

/// `POST /v2/models/{name}/infer`, for the model's one version, `1`.
#[utoipa::path(
    post,
    path = "/v2/models/{name}/versions/{version}/infer",
    tag = "open inference protocol",
    params(
        ("name" = String, Path, description = "The model"),
        ("version" = String, Path, description = "`1`, the one version of each model"),
    ),
    request_body(
        description = "As for /v2/models/{name}/infer",
        content(
            (InferBody = "application/json"),
            (Vec<u8> = "application/octet-stream"),
        )
    ),
    responses(
        (status = 200, description = "As for /v2/models/{name}/infer", content(
            (InferResponse = "application/json"),
            (Vec<u8> = "application/octet-stream"),
        )),
        (status = 404, description = "Unknown model or version", body = super::ErrorBody),
        (status = "4XX", description = "As for /v2/models/{name}/infer", body = super::ErrorBody),
        (status = "5XX", description = "As for /v2/models/{name}/infer", body = super::ErrorBody),
    ),
    security((), ("api_key" = []))
)]
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
    let outputs: Vec<OutputTensorJson> = answer
        .outputs
        .iter()
        .map(|o| {
            let (mut parameters, mut data) = (None, None);
            if o.binary {
                let raw = o.raw();
                parameters = Some(BinarySize {
                    binary_data_size: raw.len(),
                });
                tail.extend_from_slice(&raw);
            } else {
                data = Some(o.json_data());
            }
            OutputTensorJson {
                name: o.name,
                datatype: o.datatype,
                shape: o.shape.clone(),
                parameters,
                data,
            }
        })
        .collect();
    let head = InferResponse {
        model_name: answer.model_name,
        model_version: answer.model_version,
        id: answer.id,
        parameters: AnswerParameters {
            image_width: answer.width,
            image_height: answer.height,
        },
        outputs,
    };
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
