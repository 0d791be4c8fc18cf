//! The contract every part of Lookout speaks: what a request may ask ([`params`]), what an
//! answer holds ([`answer`], [`geometry`]), what it is written as ([`format`]) and what went
//! wrong ([`problem`]). The engine produces these types, every door (the REST API, the
//! original `PUT /predict`, the page's server functions and form, the stream, the command
//! line) converts its own encoding into and out of them, and the browser page draws and
//! exports them: one definition each, so the doors can never drift apart.
//!
//! Small dependencies only: this compiles for the server and for WebAssembly alike.

pub mod answer;
pub mod format;
pub mod geometry;
pub mod params;
pub mod problem;
pub mod ranges;

pub use answer::{
    BatchItemResult, BatchResponse, DetectResponse, ImageSize, ModelSummary, StreamAnswer, TimingMs,
};
pub use format::{ExportFormat, OutputFormat};
pub use geometry::{BoundingBox, Detection, Tiles};
pub use params::{passes, DetectOptions, DetectParams, Scalar, TileMode, OPTION_NAMES};
pub use problem::{Problem, ProblemKind};
pub use ranges::{
    ParamError, DEFAULT_MAX_DETECTIONS, DEFAULT_THRESHOLD, DEFAULT_TILE_OVERLAP, MAX_DETECTIONS,
    MAX_TILE_OVERLAP, UI_SCORE_FLOOR,
};
