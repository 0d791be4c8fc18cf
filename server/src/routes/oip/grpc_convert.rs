//! Between the protocol's gRPC messages and the front's protocol-neutral types, and from
//! Lookout's problems to gRPC status codes.

use bytes::Bytes;
use tonic::{Code, Status};

use super::proto::inference::{
    infer_parameter::ParameterChoice, model_infer_request, model_infer_response,
    model_metadata_response, InferParameter, ModelInferRequest, ModelInferResponse,
    ModelMetadataResponse,
};
use crate::error::ApiError;
use crate::front::oip::metadata::ModelMetadata;
use crate::front::oip::params::{ParamValue, Params};
use crate::front::oip::tensor::OutputTensor;
use crate::front::oip::{InferAnswer, InferCall, InputData, InputTensor, RequestedOutput};

/// The gRPC status of a problem: its detail words, with the code closest to its HTTP status.
pub fn status(err: ApiError) -> Status {
    let code = match err.status().as_u16() {
        400 | 415 | 422 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        408 | 504 => Code::DeadlineExceeded,
        413 => Code::ResourceExhausted,
        502 | 503 => Code::Unavailable,
        _ => Code::Internal,
    };
    Status::new(code, err.problem.detail)
}

fn params(map: std::collections::HashMap<String, InferParameter>) -> Params {
    let mut params: Params = map
        .into_iter()
        .filter_map(|(name, p)| {
            let value = match p.parameter_choice? {
                ParameterChoice::BoolParam(b) => ParamValue::Bool(b),
                ParameterChoice::Int64Param(i) => ParamValue::Int(i),
                ParameterChoice::StringParam(s) => ParamValue::Text(s),
                ParameterChoice::DoubleParam(d) => ParamValue::Double(d),
                ParameterChoice::Uint64Param(u) => {
                    ParamValue::Int(i64::try_from(u).unwrap_or(i64::MAX))
                }
            };
            Some((name, value))
        })
        .collect();
    // A map has no order: name order, so errors name the same parameter every time.
    params.sort_by(|a, b| a.0.cmp(&b.0));
    params
}

/// A `ModelInferRequest` as the front's [`InferCall`]: BYTES data from
/// `raw_input_contents` (one entry per input, in order) or `contents.bytes_contents`.
pub fn infer_call(request: ModelInferRequest) -> Result<InferCall, ApiError> {
    let mut raw = request.raw_input_contents.into_iter();
    let raw_given = raw.len() > 0;
    if raw_given && raw.len() != request.inputs.len() {
        return Err(ApiError::bad_request(format!(
            "raw_input_contents has {} entries for {} inputs: give one per input, in order",
            raw.len(),
            request.inputs.len()
        )));
    }
    let mut inputs = Vec::with_capacity(request.inputs.len());
    for input in request.inputs {
        let contents = input.contents.map(|c| c.bytes_contents).unwrap_or_default();
        let data = match (raw.next(), contents.is_empty()) {
            (Some(_), false) => {
                return Err(ApiError::bad_request(format!(
                    "input `{}` has both contents and raw_input_contents: send one",
                    input.name
                )))
            }
            (Some(raw), true) => InputData::Raw(Bytes::from(raw)),
            (None, false) => InputData::Elements(contents.into_iter().map(Bytes::from).collect()),
            (None, true) => InputData::Absent,
        };
        inputs.push(InputTensor {
            name: input.name,
            datatype: input.datatype,
            shape: input.shape,
            parameters: params(input.parameters),
            data,
        });
    }
    let outputs: Vec<RequestedOutput> = request
        .outputs
        .into_iter()
        .map(
            |o: model_infer_request::InferRequestedOutputTensor| RequestedOutput {
                name: o.name,
                parameters: params(o.parameters),
            },
        )
        .collect();
    Ok(InferCall {
        model: request.model_name,
        version: Some(request.model_version),
        id: Some(request.id),
        parameters: params(request.parameters),
        inputs,
        outputs: (!outputs.is_empty()).then_some(outputs),
    })
}

/// The answer with every output's data in `raw_output_contents`, as Triton answers.
pub fn infer_response(answer: InferAnswer) -> ModelInferResponse {
    let raw: Vec<Vec<u8>> = answer.outputs.iter().map(OutputTensor::raw).collect();
    let mut parameters = std::collections::HashMap::new();
    for (name, value) in [
        ("image_width", answer.width),
        ("image_height", answer.height),
    ] {
        parameters.insert(
            name.to_owned(),
            InferParameter {
                parameter_choice: Some(ParameterChoice::Int64Param(i64::from(value))),
            },
        );
    }
    ModelInferResponse {
        model_name: answer.model_name,
        model_version: answer.model_version,
        id: answer.id.unwrap_or_default(),
        parameters,
        outputs: answer
            .outputs
            .into_iter()
            .map(|o| model_infer_response::InferOutputTensor {
                name: o.name.to_owned(),
                datatype: o.datatype.to_owned(),
                shape: o.shape,
                parameters: Default::default(),
                contents: None,
            })
            .collect(),
        raw_output_contents: raw,
    }
}

pub fn model_metadata(m: ModelMetadata) -> ModelMetadataResponse {
    let tensor =
        |t: crate::front::oip::metadata::TensorMetadata| model_metadata_response::TensorMetadata {
            name: t.name.to_owned(),
            datatype: t.datatype.to_owned(),
            shape: t.shape,
        };
    ModelMetadataResponse {
        name: m.name,
        versions: m.versions.into_iter().map(str::to_owned).collect(),
        platform: m.platform.to_owned(),
        inputs: m.inputs.into_iter().map(tensor).collect(),
        outputs: m.outputs.into_iter().map(tensor).collect(),
    }
}

/// `grpc-timeout` (the client's deadline): digits and a unit (H, M, S, m, u, n).
pub fn grpc_timeout(metadata: &tonic::metadata::MetadataMap) -> Option<std::time::Duration> {
    let text = metadata.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    use std::time::Duration;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}
