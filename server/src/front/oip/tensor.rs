//! Tensors as the Open Inference Protocol carries them: the BYTES encoding (each element a
//! 4-byte little-endian length followed by its bytes) and the four output tensors of a
//! detection, in JSON or raw (little-endian, row-major) form.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::error::ApiError;
use app::types::DetectResponse;

/// The input every model takes: one encoded image file (JPEG, PNG, ...).
pub const INPUT: &str = "image";
pub const BYTES: &str = "BYTES";
pub const FP32: &str = "FP32";
pub const INT64: &str = "INT64";

/// The outputs, in the order they are answered when the request names none.
pub const OUTPUTS: [&str; 4] = ["boxes", "scores", "labels", "class_ids"];

/// An output's datatype and shape in the model's metadata (-1: one row per detection).
pub fn output_spec(name: &str) -> Option<(&'static str, Vec<i64>)> {
    match name {
        "boxes" => Some((FP32, vec![-1, 4])),
        "scores" => Some((FP32, vec![-1])),
        "labels" => Some((BYTES, vec![-1])),
        "class_ids" => Some((INT64, vec![-1])),
        _ => None,
    }
}

/// Splits raw BYTES data into its elements; `what` names the tensor in errors.
pub fn split_bytes(raw: &Bytes, what: &str) -> Result<Vec<Bytes>, ApiError> {
    let mut elements = Vec::new();
    let mut at = 0usize;
    while at < raw.len() {
        let Some(prefix) = raw.get(at..at + 4) else {
            return Err(ApiError::bad_request(format!(
                "the raw data of {what} ends inside an element's 4-byte length: each BYTES element is its length (4 bytes, little-endian) then its bytes"
            )));
        };
        let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        let start = at + 4;
        let end = start.checked_add(len).filter(|&end| end <= raw.len()).ok_or_else(|| {
            ApiError::bad_request(format!(
                "an element of {what} says it has {len} bytes, but only {} follow: each BYTES element is its length (4 bytes, little-endian) then its bytes",
                raw.len() - start
            ))
        })?;
        elements.push(raw.slice(start..end));
        at = end;
    }
    Ok(elements)
}

/// The BYTES encoding of `elements`.
pub fn join_bytes<'a>(elements: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for element in elements {
        out.extend_from_slice(&(element.len() as u32).to_le_bytes());
        out.extend_from_slice(element);
    }
    out
}

/// One output tensor of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputTensor {
    pub name: &'static str,
    pub datatype: &'static str,
    pub shape: Vec<i64>,
    pub data: OutputData,
    /// Asked for in binary form (the HTTP binary tensor data extension).
    pub binary: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OutputData {
    Fp32(Vec<f32>),
    Int64(Vec<i64>),
    Bytes(Vec<String>),
}

impl OutputTensor {
    /// The output `name` of a detection: boxes in the image's upright pixels (x1, y1, x2, y2,
    /// row-major), scores, class names, class ids; one row per detection, best first.
    pub fn of(name: &'static str, answer: &DetectResponse, binary: bool) -> Option<Self> {
        let detections = &answer.detections;
        let n = detections.len() as i64;
        let (datatype, shape, data) = match name {
            "boxes" => (
                FP32,
                vec![n, 4],
                OutputData::Fp32(
                    detections
                        .iter()
                        .flat_map(|d| [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2])
                        .collect(),
                ),
            ),
            "scores" => (
                FP32,
                vec![n],
                OutputData::Fp32(detections.iter().map(|d| d.score).collect()),
            ),
            "labels" => (
                BYTES,
                vec![n],
                OutputData::Bytes(detections.iter().map(|d| d.label.clone()).collect()),
            ),
            "class_ids" => (
                INT64,
                vec![n],
                OutputData::Int64(detections.iter().map(|d| d.class_id).collect()),
            ),
            _ => return None,
        };
        Some(Self {
            name,
            datatype,
            shape,
            data,
            binary,
        })
    }

    /// The raw form: little-endian numbers, or BYTES elements, row-major.
    pub fn raw(&self) -> Vec<u8> {
        match &self.data {
            OutputData::Fp32(values) => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            OutputData::Int64(values) => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            OutputData::Bytes(values) => join_bytes(values.iter().map(|s| s.as_bytes())),
        }
    }

    /// The JSON `data`: the elements, flattened row-major.
    pub fn json_data(&self) -> Value {
        match &self.data {
            OutputData::Fp32(values) => json!(values),
            OutputData::Int64(values) => json!(values),
            OutputData::Bytes(values) => json!(values),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_elements_round_trip() {
        let raw = Bytes::from(join_bytes([b"ab".as_slice(), b"", b"xyz"]));
        assert_eq!(raw.len(), 4 + 2 + 4 + 4 + 3);
        let parts = split_bytes(&raw, "input `image`").unwrap();
        assert_eq!(parts, vec![&b"ab"[..], &b""[..], &b"xyz"[..]]);
    }

    #[test]
    fn truncated_bytes_are_refused_in_words() {
        let err =
            split_bytes(&Bytes::from_static(&[5, 0, 0, 0, 1, 2]), "input `image`").unwrap_err();
        assert_eq!(err.status().as_u16(), 400);
        assert!(err
            .problem
            .detail
            .contains("says it has 5 bytes, but only 2 follow"));
        let err = split_bytes(&Bytes::from_static(&[5, 0]), "input `image`").unwrap_err();
        assert!(err.problem.detail.contains("ends inside"));
    }
}
