//! Lookout's detection engine: bytes in, labelled boxes out.
//!
//! `decode` turns untrusted bytes into an upright RGB image within limits; `Engine` runs a
//! Faster R-CNN ONNX model over it through onnxruntime. No web code lives here.

pub mod budget;
pub mod decode;
pub mod detection;
pub mod engine;
pub mod labels;
pub mod memory;
pub mod model;
pub mod resample;
pub mod resize;
pub mod runtime;
pub mod tensor;
pub mod tile;

pub use budget::{BudgetError, MemoryBudget, Reservation};
pub use decode::{decode, decode_reduced, probe, sniff_format, Decoded, ImageError, Limits, Probe};
pub use detection::{
    BoundingBox, DetectOptions, Detection, ParamError, TileMode, DEFAULT_TILE_OVERLAP,
    MAX_DETECTIONS, MAX_TILE_OVERLAP,
};
pub use engine::{
    available_cpus, Admission, DetectionResult, Engine, EngineConfig, EngineError, StageTimings,
    FILL_IDLE_WAIT, FILL_QUIET,
};
pub use labels::{LabelSource, Labels};
pub use model::{file_sha256, Layout, ModelError, ModelInfo, TensorSpec};
pub use resize::{FeedPlan, ResizeRule};
pub use runtime::RuntimeError;
