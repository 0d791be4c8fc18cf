//! The engine's state and its failures: what every part of the engine works on.

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ort::session::Session;
use thiserror::Error;
use tokio::sync::Semaphore;

use super::config::EngineConfig;
use crate::labels::Labels;
use crate::model::{Layout, ModelError, ModelInfo, OutputIndex};
use crate::runtime::RuntimeError;
use crate::tile;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the engine configuration is invalid: {0}")]
    Config(String),
    #[error("the server is busy: all {capacity} inference slots and queue places are taken; retry shortly")]
    Busy { capacity: usize },
    #[error("the request did not finish within its {deadline_ms} ms deadline (while {stage})")]
    DeadlineExceeded {
        deadline_ms: u128,
        stage: &'static str,
    },
    /// The image cannot be processed by this model (its shape, after the model's resize).
    #[error("{0}")]
    UnsupportedImage(String),
    /// A failure inside onnxruntime. The text is for the operator's log, not for clients.
    #[error("inference failed: {0}")]
    Inference(String),
}

pub struct Engine {
    pub(super) info: ModelInfo,
    pub(super) layout: Layout,
    pub(super) outputs: OutputIndex,
    pub(super) labels: Labels,
    pub(super) pool: Mutex<Vec<Session>>,
    pub(super) free_sessions: Arc<Semaphore>,
    pub(super) admission: Arc<Semaphore>,
    pub(super) capacity: usize,
    pub(super) deadline: Duration,
    /// See [`EngineConfig::tile_deadline`]; at least `deadline`.
    pub(super) tile_deadline: Duration,
    pub(super) large_input_pixels: u64,
    pub(super) shrink_arena: bool,
    pub(super) give_back_memory: bool,
    pub(super) waiting: AtomicUsize,
    pub(super) running: AtomicUsize,
    pub(super) recipe: SessionRecipe,
    /// Sessions in the pool (free or running).
    pub(super) pooled: AtomicUsize,
    /// A [`Engine::fill_pool`] call is building sessions.
    pub(super) filling: AtomicBool,
    /// [`Engine::stop_filling`] was called: build no more sessions.
    pub(super) closing: AtomicBool,
    /// What a tile run costs, for planning tiles within a deadline.
    pub(super) tile_cost: tile::TileCost,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What every session of one engine is built from.
pub(super) struct SessionRecipe {
    pub(super) environment: ort::environment::Environment,
    pub(super) threads: usize,
    pub(super) spinning: bool,
    pub(super) config: EngineConfig,
}
