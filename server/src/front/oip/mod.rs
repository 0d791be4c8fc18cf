//! The Open Inference Protocol ("KServe v2") as a door onto the front: what an inference
//! request is once its transport (REST JSON, the binary tensor data extension, gRPC) is
//! taken off, how it becomes a [`DetectRequest`](super::DetectRequest) run by
//! [`Front::detect`], and how the answer becomes the protocol's output tensors.
//!
//! Every model takes one input, `image`: BYTES, shape `[1]`, one encoded image file. It
//! answers `boxes` FP32 `[N,4]` (x1, y1, x2, y2 in the image's upright pixels), `scores`
//! FP32 `[N]`, `labels` BYTES `[N]` (class names) and `class_ids` INT64 `[N]`.

pub mod body;
pub mod metadata;
pub mod params;
pub mod tensor;

use std::time::Instant;

use bytes::Bytes;
use detector::Reservation;

use super::request::{Door, Draft, OutputFormat};
use super::Front;
use crate::error::ApiError;
use params::{ParamValue, Params};
use tensor::{OutputTensor, BYTES, INPUT, OUTPUTS};

/// The one version of each model Lookout serves (a reload replaces it).
pub const VERSION: &str = "1";

/// An inference request, whatever carried it.
#[derive(Debug, Default)]
pub struct InferCall {
    pub model: String,
    /// `None` or empty: the server's choice (the only version).
    pub version: Option<String>,
    pub id: Option<String>,
    pub parameters: Params,
    pub inputs: Vec<InputTensor>,
    /// `None`: every output.
    pub outputs: Option<Vec<RequestedOutput>>,
}

#[derive(Debug)]
pub struct InputTensor {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<i64>,
    pub parameters: Params,
    pub data: InputData,
}

/// An input's data as it arrived, decoded only once the input is known to be the image.
#[derive(Debug)]
pub enum InputData {
    /// JSON `data`: for BYTES, strings (here: base64 of the file), possibly nested.
    Json(serde_json::Value),
    /// Raw BYTES data (the binary extension's section, gRPC `raw_input_contents`).
    Raw(Bytes),
    /// Elements already apart (gRPC `contents.bytes_contents`).
    Elements(Vec<Bytes>),
    /// No data came with the input.
    Absent,
}

#[derive(Debug, Clone)]
pub struct RequestedOutput {
    pub name: String,
    pub parameters: Params,
}

/// What an inference answers: the tensors asked for, in order.
#[derive(Debug)]
pub struct InferAnswer {
    pub model_name: String,
    pub model_version: String,
    pub id: Option<String>,
    pub outputs: Vec<OutputTensor>,
    /// The image's size in upright pixels (the space of `boxes`).
    pub width: u32,
    pub height: u32,
}

impl Front {
    /// Runs an inference request through the front: the model, the parameters (by the
    /// contract's validator), the `image` input, then [`Front::detect`] (admission, limits,
    /// decoding, the engine) as for `POST /v1/detect`. `body`: the memory reserved for the
    /// request's body while its image is held.
    pub async fn infer(
        &self,
        call: InferCall,
        body: Option<Reservation>,
        started: Instant,
    ) -> Result<InferAnswer, ApiError> {
        let slot = self.models().slot(Some(&call.model))?;
        check_version(&call.model, call.version.as_deref())?;
        let mut draft = Draft::default();
        params::apply(&call.parameters, &mut draft.params, "the request")?;
        let input = image_input(call.inputs)?;
        params::apply(&input.parameters, &mut draft.params, "input `image`")?;
        let default_binary = params::flag(&call.parameters, "binary_data_output")?.unwrap_or(false);
        let wanted = wanted_outputs(call.outputs, default_binary)?;
        draft.image = Some(image_bytes(input)?);

        let mut request = draft.finish(Door::Api, OutputFormat::Json, body)?;
        request.model = Some(slot.name().to_owned());
        let detected = self.detect(request, started).await?;
        let answer = &detected.response;
        Ok(InferAnswer {
            model_name: slot.name().to_owned(),
            model_version: VERSION.to_owned(),
            id: call.id.filter(|id| !id.is_empty()),
            outputs: wanted
                .into_iter()
                .filter_map(|(name, binary)| OutputTensor::of(name, answer, binary))
                .collect(),
            width: answer.image.width,
            height: answer.image.height,
        })
    }
}

/// Lookout serves one version of each model: empty or [`VERSION`].
pub fn check_version(model: &str, version: Option<&str>) -> Result<(), ApiError> {
    match version.map(str::trim) {
        None | Some("") | Some(VERSION) => Ok(()),
        Some(other) => Err(ApiError::new(
            crate::error::Kind::UnknownModel,
            format!(
                "the model `{model}` has no version `{other}`: Lookout serves one version of each model, `{VERSION}` (a load replaces it)"
            ),
        )),
    }
}

/// The `image` input: exactly one, BYTES, one element.
fn image_input(inputs: Vec<InputTensor>) -> Result<InputTensor, ApiError> {
    let mut image = None;
    for input in inputs {
        if input.name != INPUT {
            return Err(ApiError::bad_request(format!(
                "unexpected input `{}`: the model takes one input, `image` (BYTES, shape [1], the encoded image file)",
                input.name
            )));
        }
        if image.replace(input).is_some() {
            return Err(ApiError::bad_request(
                "the input `image` is given twice: send it once",
            ));
        }
    }
    let image = image.ok_or_else(|| {
        ApiError::bad_request(
            "the request has no input `image`: send one BYTES tensor of shape [1] holding the encoded image file (base64 in JSON)",
        )
    })?;
    if image.datatype != BYTES {
        return Err(ApiError::bad_request(format!(
            "the input `image` must have datatype BYTES (the encoded image file), not {}",
            image.datatype
        )));
    }
    if image.shape.iter().product::<i64>() != 1 || image.shape.iter().any(|&d| d < 0) {
        return Err(ApiError::bad_request(format!(
            "the input `image` takes one image per request: shape [1], not {:?}",
            image.shape
        )));
    }
    Ok(image)
}

/// The image file in the `image` input.
fn image_bytes(input: InputTensor) -> Result<Bytes, ApiError> {
    let mut elements = match input.data {
        InputData::Json(value) => json_elements(value)?,
        InputData::Raw(raw) => tensor::split_bytes(&raw, "input `image`")?,
        InputData::Elements(elements) => elements,
        InputData::Absent => {
            return Err(ApiError::bad_request(
                "the input `image` has no data: give its element (base64 of the image file in JSON `data`, or binary data)",
            ))
        }
    };
    if elements.len() != 1 {
        return Err(ApiError::bad_request(format!(
            "the input `image` has shape [1] but {} elements: send exactly one image file",
            elements.len()
        )));
    }
    let image = elements.remove(0);
    if image.is_empty() {
        return Err(ApiError::bad_request(
            "the input `image` is empty: its element must be the encoded image file",
        ));
    }
    Ok(image)
}

/// JSON `data` of a BYTES input: strings, each the base64 of a file (nested lists allowed).
fn json_elements(value: serde_json::Value) -> Result<Vec<Bytes>, ApiError> {
    let mut out = Vec::new();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            serde_json::Value::Array(items) => stack.extend(items.into_iter().rev()),
            serde_json::Value::String(text) => out.push(crate::front::encoding::decode_base64(&text)?),
            other => {
                return Err(ApiError::bad_request(format!(
                    "the input `image` is BYTES: its JSON data must be a string (the base64 of the image file), not {}",
                    json_kind(&other)
                )))
            }
        }
    }
    Ok(out)
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The outputs to answer, in order, each with whether it goes binary.
fn wanted_outputs(
    requested: Option<Vec<RequestedOutput>>,
    default_binary: bool,
) -> Result<Vec<(&'static str, bool)>, ApiError> {
    let Some(requested) = requested.filter(|r| !r.is_empty()) else {
        return Ok(OUTPUTS.iter().map(|&name| (name, default_binary)).collect());
    };
    let mut wanted: Vec<(&'static str, bool)> = Vec::new();
    for output in requested {
        let name = OUTPUTS
            .iter()
            .copied()
            .find(|&n| n == output.name)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unknown output `{}`: the outputs are {}",
                    output.name,
                    OUTPUTS.join(", ")
                ))
            })?;
        for (param, value) in &output.parameters {
            if !matches!(param.as_str(), "binary_data" | "classification") {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter `{param}` on output `{name}` (expected binary_data)"
                )));
            }
            if param == "classification" && value != &ParamValue::Int(0) {
                return Err(ApiError::bad_request(
                    "the classification extension is not served: ask for the outputs themselves",
                ));
            }
        }
        let binary = params::flag(&output.parameters, "binary_data")?.unwrap_or(default_binary);
        if !wanted.iter().any(|(n, _)| *n == name) {
            wanted.push((name, binary));
        }
    }
    Ok(wanted)
}
