//! What a model file must look like, and what Lookout learned about it at load time.

use std::path::Path;

use ort::session::Session;
use ort::value::{TensorElementType, ValueType};
use serde::Serialize;
use thiserror::Error;

use crate::labels::{Labels, LabelsError};

/// The two input/output conventions Lookout can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// torchvision's export: `images` float32 `[3,H,W]` RGB in 0..1; resize, normalisation and
    /// padding happen inside the graph; boxes come back in original pixels.
    Torchvision,
    /// The ONNX model zoo's FasterRCNN-10/12: `image` float32 `[3,H,W]` BGR in 0..255 minus the
    /// Caffe mean; the caller resizes and pads; boxes come back in resized pixels.
    Zoo,
}

impl Layout {
    pub fn input_name(self) -> &'static str {
        match self {
            Layout::Torchvision => "images",
            Layout::Zoo => "image",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Torchvision => "torchvision",
            Layout::Zoo => "zoo",
        }
    }
}

impl std::str::FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "torchvision" => Ok(Layout::Torchvision),
            "zoo" | "onnx-zoo" => Ok(Layout::Zoo),
            other => Err(format!(
                "unknown layout `{other}`: expected `torchvision` or `zoo`"
            )),
        }
    }
}

/// One input or output as the model declares it, e.g. `images: float32 [3, height, width]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: String,
    /// Dimensions; dynamic ones carry their symbolic name (or `?`).
    pub shape: Vec<String>,
}

impl std::fmt::Display for TensorSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} [{}]",
            self.name,
            self.dtype,
            self.shape.join(", ")
        )
    }
}

/// Everything `/v1/models` reports about the loaded model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub path: String,
    pub sha256: String,
    pub size_bytes: u64,
    pub layout: Layout,
    pub labels: Vec<String>,
    pub label_source: crate::labels::LabelSource,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    pub sessions: usize,
    pub intra_threads: usize,
    /// How the model scales images before its backbone.
    pub resize: crate::resize::ResizeRule,
}

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("the model file {path} does not exist")]
    NotFound { path: String },
    #[error("could not read the model file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("onnxruntime could not load {path}: {reason}")]
    Load { path: String, reason: String },
    #[error("{path} does not have the {layout} signature: expected {expected}; found inputs [{found_inputs}] and outputs [{found_outputs}]")]
    Signature {
        path: String,
        layout: &'static str,
        expected: String,
        found_inputs: String,
        found_outputs: String,
    },
    #[error("{path} has an input named `{found}`; Lookout knows `images` (torchvision layout) and `image` (ONNX model zoo layout). Pass --layout to choose one")]
    UnknownLayout { path: String, found: String },
    #[error(transparent)]
    Labels(#[from] LabelsError),
    #[error("{path}: {reason}")]
    Metadata { path: String, reason: String },
}

pub(crate) fn specs(outlets: &[ort::value::Outlet]) -> Vec<TensorSpec> {
    outlets
        .iter()
        .map(|o| match o.dtype() {
            ValueType::Tensor {
                ty,
                shape,
                dimension_symbols,
            } => TensorSpec {
                name: o.name().to_owned(),
                dtype: ty.to_string(),
                shape: shape
                    .iter()
                    .enumerate()
                    .map(|(i, d)| {
                        if *d >= 0 {
                            d.to_string()
                        } else {
                            dimension_symbols
                                .get(i)
                                .filter(|s| !s.is_empty())
                                .map(|s| s.to_string())
                                .unwrap_or_else(|| "?".to_owned())
                        }
                    })
                    .collect(),
            },
            other => TensorSpec {
                name: o.name().to_owned(),
                dtype: format!("{other:?}"),
                shape: Vec::new(),
            },
        })
        .collect()
}

fn is_tensor(outlet: &ort::value::Outlet, want: TensorElementType, rank: usize) -> bool {
    match outlet.dtype() {
        ValueType::Tensor { ty, shape, .. } => *ty == want && shape.len() == rank,
        _ => false,
    }
}

/// The layout named by the model's only input, when it names one Lookout knows.
pub(crate) fn detect_layout(session: &Session, path: &Path) -> Result<Layout, ModelError> {
    let first = session
        .inputs()
        .first()
        .map(|i| i.name().to_owned())
        .unwrap_or_default();
    match first.as_str() {
        "images" => Ok(Layout::Torchvision),
        "image" => Ok(Layout::Zoo),
        _ => Err(ModelError::UnknownLayout {
            path: path.display().to_string(),
            found: first,
        }),
    }
}

/// Where the three outputs live. torchvision's exports name them; the zoo's are numbered, so
/// the zoo layout takes them by position.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutputIndex {
    pub boxes: usize,
    pub labels: usize,
    pub scores: usize,
}

pub(crate) fn check_signature(
    session: &Session,
    layout: Layout,
    path: &Path,
) -> Result<OutputIndex, ModelError> {
    let inputs = session.inputs();
    let outputs = session.outputs();
    let expected = match layout {
        Layout::Torchvision => {
            "input `images` float32 [3, H, W]; outputs `boxes` float32 [N, 4], `labels` int64 [N], `scores` float32 [N]"
        }
        Layout::Zoo => "input `image` float32 [3, H, W]; three outputs: boxes float32 [N, 4], labels int64 [N], scores float32 [N]",
    };
    let mismatch = || ModelError::Signature {
        path: path.display().to_string(),
        layout: layout.as_str(),
        expected: expected.to_owned(),
        found_inputs: specs(inputs)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        found_outputs: specs(outputs)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    };
    if inputs.len() != 1
        || inputs[0].name() != layout.input_name()
        || !is_tensor(&inputs[0], TensorElementType::Float32, 3)
    {
        return Err(mismatch());
    }
    let index = match layout {
        Layout::Torchvision => {
            let find = |name: &str| outputs.iter().position(|o| o.name() == name);
            match (find("boxes"), find("labels"), find("scores")) {
                (Some(boxes), Some(labels), Some(scores)) => OutputIndex {
                    boxes,
                    labels,
                    scores,
                },
                _ => return Err(mismatch()),
            }
        }
        Layout::Zoo => {
            if outputs.len() != 3 {
                return Err(mismatch());
            }
            OutputIndex {
                boxes: 0,
                labels: 1,
                scores: 2,
            }
        }
    };
    let ok = is_tensor(&outputs[index.boxes], TensorElementType::Float32, 2)
        && is_tensor(&outputs[index.labels], TensorElementType::Int64, 1)
        && is_tensor(&outputs[index.scores], TensorElementType::Float32, 1);
    if !ok {
        return Err(mismatch());
    }
    Ok(index)
}

pub(crate) fn resolve_labels(
    session: &Session,
    layout: Layout,
    path: &Path,
) -> Result<Labels, ModelError> {
    let metadata = session.metadata().ok().and_then(|m| m.custom("labels"));
    let fallback = match layout {
        Layout::Torchvision => Labels::generic(),
        Layout::Zoo => Labels::coco80(),
    };
    Ok(Labels::resolve(metadata.as_deref(), path, fallback)?)
}

/// The model's resize rule: its `resize` metadata, else torchvision's defaults (which the ONNX
/// model zoo's Faster R-CNN also follows).
pub(crate) fn resolve_resize(
    session: &Session,
    path: &Path,
) -> Result<crate::resize::ResizeRule, ModelError> {
    match session.metadata().ok().and_then(|m| m.custom("resize")) {
        Some(value) => crate::resize::ResizeRule::from_metadata(&value).map_err(|reason| {
            ModelError::Metadata {
                path: path.display().to_string(),
                reason,
            }
        }),
        None => Ok(crate::resize::ResizeRule::default()),
    }
}

pub(crate) fn model_name(session: &Session, path: &Path) -> String {
    session
        .metadata()
        .ok()
        .and_then(|m| m.custom("name"))
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "model".to_owned())
        })
}

/// Hashes the file so an operator can tell exactly which weights are serving.
pub fn file_sha256(path: &Path) -> Result<(String, u64), ModelError> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let unreadable = |e: std::io::Error| ModelError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), total))
}
