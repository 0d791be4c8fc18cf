//! Lookout's detection engine: bytes in, labelled boxes out.
//!
//! `decode` turns untrusted bytes into an upright RGB image within limits; `Engine` runs a
//! Faster R-CNN ONNX model over it through onnxruntime. No web code lives here.

pub mod budget;
pub mod decode;
pub mod detection;
pub mod engine;
pub mod labels;
pub mod model;
pub mod resize;
pub mod runtime;
pub mod tensor;

pub use budget::{BudgetError, MemoryBudget, Reservation};
pub use decode::{decode, probe, sniff_format, ImageError, Limits, Probe};
pub use detection::{BoundingBox, DetectOptions, Detection, OptionsError, MAX_DETECTIONS};
pub use engine::{
    available_cpus, Admission, DetectionResult, Engine, EngineConfig, EngineError, StageTimings,
};
pub use labels::{LabelSource, Labels};
pub use model::{Layout, ModelError, ModelInfo, TensorSpec};
pub use resize::ResizeRule;
pub use runtime::RuntimeError;
