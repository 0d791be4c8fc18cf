//! What the engine's test files share: the repository's demo models and fixtures, and a
//! request as a server makes one.
// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use detector::{Decoded, DetectOptions, DetectionResult, Engine, EngineConfig, EngineError};
use serde::Deserialize;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn model_path() -> PathBuf {
    repo().join("models/shapes.onnx")
}

pub fn config() -> EngineConfig {
    let mut config = EngineConfig::new(model_path());
    config.intra_threads = 2;
    config
}

pub fn engine() -> Arc<Engine> {
    Arc::new(Engine::load(&config()).expect("the demo model loads"))
}

#[derive(Deserialize)]
pub struct GroundTruth {
    pub images: Vec<GtImage>,
}

#[derive(Deserialize)]
pub struct GtImage {
    pub file: String,
    pub width: u32,
    pub height: u32,
    pub objects: Vec<GtObject>,
}

#[derive(Deserialize)]
pub struct GtObject {
    pub label: String,
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
}

pub fn ground_truth(dir: &Path) -> GroundTruth {
    let text = std::fs::read_to_string(dir.join("ground_truth.json")).expect("fixtures present");
    serde_json::from_str(&text).unwrap()
}

/// Admits a request and detects on the engine's queue, as the server does: refused at once
/// with [`EngineError::Busy`] when the engine is full.
pub async fn detect(
    engine: &Arc<Engine>,
    picture: impl Into<Decoded>,
    options: DetectOptions,
) -> Result<DetectionResult, EngineError> {
    let admission = engine.admit()?;
    engine.detect(admission, picture, options).await
}
