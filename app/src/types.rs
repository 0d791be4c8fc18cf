//! The contract's types under the names the page uses: every one is `wire`'s own.

/// A box in original-image pixels, EXIF orientation applied.
pub use wire::BoundingBox as BoxPx;
/// One detected object.
pub use wire::Detection as DetectionOut;
pub use wire::{
    DetectResponse, ImageSize, ModelSummary, Problem, TimingMs, DEFAULT_THRESHOLD, UI_SCORE_FLOOR,
};
