//! Lookout's detection engine: bytes in, labelled boxes out.
//!
//! `decode` turns untrusted bytes into an upright RGB image within limits; `Engine` runs a
//! Faster R-CNN ONNX model over it through onnxruntime. No web code lives here.

pub mod decode;
pub mod detection;
pub mod engine;
pub mod labels;
pub mod model;
pub mod runtime;
pub mod tensor;

pub use decode::{decode, ImageError, Limits};
pub use detection::{BoundingBox, DetectOptions, Detection};
pub use engine::{
    available_cpus, DetectionResult, Engine, EngineConfig, EngineError, StageTimings,
};
pub use labels::{LabelSource, Labels};
pub use model::{Layout, ModelError, ModelInfo, TensorSpec};
pub use runtime::RuntimeError;
