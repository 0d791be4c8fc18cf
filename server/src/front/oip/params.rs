//! Inference parameters: the protocol's own (binary data, priorities, timeouts: accepted as
//! the protocol says) and Lookout's detection options, read by the contract's one validator
//! ([`wire::DetectParams`]) with the same ranges and words as `/v1/detect`.

use wire::DetectParams;

use crate::error::ApiError;

/// A parameter value as the protocol carries it (JSON value or gRPC `InferParameter`).
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Double(f64),
    Text(String),
}

impl ParamValue {
    /// The value from JSON; `None` for what a parameter cannot be (arrays, objects, null).
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::Bool(b) => Some(Self::Bool(*b)),
            serde_json::Value::Number(n) => Some(match n.as_i64() {
                Some(i) => Self::Int(i),
                None => Self::Double(n.as_f64().unwrap_or(f64::NAN)),
            }),
            serde_json::Value::String(s) => Some(Self::Text(s.clone())),
            _ => None,
        }
    }

    /// The value's text, as a query string would carry it.
    pub fn text(&self) -> String {
        match self {
            Self::Bool(b) => b.to_string(),
            Self::Int(i) => i.to_string(),
            Self::Double(d) => d.to_string(),
            Self::Text(s) => s.clone(),
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Self::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        }
    }
}

/// Named parameters, in the order given.
pub type Params = Vec<(String, ParamValue)>;

/// The detection options a request's parameters may carry: the contract's, but the model
/// (the URL names it) and the format (the protocol's outputs are the answer).
fn options() -> impl Iterator<Item = &'static str> {
    wire::OPTION_NAMES
        .into_iter()
        .filter(|name| !matches!(*name, "model" | "format"))
}

/// Parameters the protocol (and its clients: tritonclient, KServe's) sends, which do not
/// change a detection: accepted and left alone.
const PROTOCOL: [&str; 9] = [
    "binary_data_output",
    "binary_data",
    "binary_data_size",
    "content_type",
    "priority",
    "timeout",
    "sequence_id",
    "sequence_start",
    "sequence_end",
];

/// Lays the detection options in `params` over `into` (later ones win); refuses a
/// parameter that is neither an option nor the protocol's. `whose` says where they were
/// (`the request`, `input \`image\``).
pub fn apply(params: &Params, into: &mut DetectParams, whose: &str) -> Result<(), ApiError> {
    for (name, value) in params {
        if PROTOCOL.contains(&name.as_str()) {
            continue;
        }
        if !options().any(|option| option == name) {
            return Err(ApiError::invalid(format!(
                "unknown parameter `{name}` in {whose} (expected {})",
                options().collect::<Vec<_>>().join(", ")
            )));
        }
        into.set(name, &value.text())?;
    }
    Ok(())
}

/// A boolean protocol parameter (`binary_data`, `binary_data_output`): absent is `None`.
pub fn flag(params: &Params, name: &str) -> Result<Option<bool>, ApiError> {
    match params.iter().rev().find(|(n, _)| n == name) {
        None => Ok(None),
        Some((_, value)) => value.as_bool().map(Some).ok_or_else(|| {
            ApiError::bad_request(format!(
                "parameter `{name}` must be true or false, got `{}`",
                value.text()
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_go_through_the_one_validator() {
        let mut p = DetectParams::default();
        let given = vec![
            ("threshold".to_owned(), ParamValue::Double(0.3)),
            ("max_detections".to_owned(), ParamValue::Int(5)),
            ("tile".to_owned(), ParamValue::Text("auto".into())),
            ("binary_data_output".to_owned(), ParamValue::Bool(true)),
        ];
        apply(&given, &mut p, "the request").unwrap();
        assert_eq!((p.threshold, p.max_detections), (Some(0.3), Some(5)));
        let bad = vec![("threshold".to_owned(), ParamValue::Text("high".into()))];
        let err = apply(&bad, &mut p, "the request").unwrap_err();
        assert_eq!(err.problem.detail, "threshold `high` is not a number");
        let unknown = vec![("treshold".to_owned(), ParamValue::Double(0.3))];
        let err = apply(&unknown, &mut p, "the request").unwrap_err();
        assert!(err
            .problem
            .detail
            .starts_with("unknown parameter `treshold` in the request"));
    }
}
