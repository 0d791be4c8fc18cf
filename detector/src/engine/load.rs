//! Loading an engine, and what it tells about itself.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::config::{available_cpus, EngineConfig};
use super::state::{Engine, EngineError, SessionRecipe};
use crate::labels::Labels;
use crate::model::{self, Layout, ModelError, ModelInfo};
use crate::runtime;
use crate::tensor;
use crate::tile;

impl Engine {
    /// Loads the runtime and the model, checks its signature, and builds and (unless
    /// disabled) warms every session of the pool. Blocking: call it from a blocking thread.
    pub fn load(config: &EngineConfig) -> Result<Self, EngineError> {
        let engine = Self::load_one(config, true)?;
        // Nothing is running yet: no quiet moment to wait for.
        engine.fill(false)?;
        Ok(engine)
    }

    /// [`Engine::load`] with only the first session built, and not warmed up: enough to
    /// serve. [`Engine::fill_pool`] adds the others, each taking requests as soon as it is
    /// warm, so a server that calls it after saying it is ready answers its first request
    /// without waiting for sessions it does not need yet. The first session is not warmed
    /// because that would delay the first answer by a whole inference and not speed it up:
    /// onnxruntime plans again for each new input shape (bench/RESULTS.md, cold start).
    /// Blocking.
    pub fn load_first(config: &EngineConfig) -> Result<Self, EngineError> {
        Self::load_one(config, false)
    }

    fn load_one(config: &EngineConfig, warm_up: bool) -> Result<Self, EngineError> {
        if config.sessions == 0 {
            return Err(EngineError::Config("at least one session is needed".into()));
        }
        let path = config.model_path.as_path();
        if !path.is_file() {
            return Err(ModelError::NotFound {
                path: path.display().to_string(),
            }
            .into());
        }
        if config.give_back_memory {
            crate::memory::return_large_buffers_when_freed();
        }
        let library = runtime::locate_library(config.ort_library.as_deref());
        let environment = runtime::init(&library)?;
        let threads = if config.intra_threads == 0 {
            available_cpus()
        } else {
            config.intra_threads
        };
        let recipe = SessionRecipe {
            environment,
            threads,
            spinning: config.spinning && config.sessions * threads <= available_cpus(),
            config: config.clone(),
        };
        let mut first = recipe.build()?;
        let layout = match config.layout {
            Some(layout) => layout,
            None => model::detect_layout(&first, path)?,
        };
        let outputs = model::check_signature(&first, layout, path)?;
        let labels = model::resolve_labels(&first, layout, path)?;
        let resize = model::resolve_resize(&first, path)?;
        let (sha256, size_bytes) = model::file_sha256(path)?;
        let info = ModelInfo {
            name: model::model_name(&first, path),
            path: path.display().to_string(),
            sha256,
            size_bytes,
            layout,
            labels: labels.names().to_vec(),
            label_source: labels.source(),
            inputs: model::specs(first.inputs()),
            outputs: model::specs(first.outputs()),
            sessions: config.sessions,
            intra_threads: threads,
            resize,
        };
        let capacity = config.sessions + config.queue_depth;
        let engine = Self {
            info,
            layout,
            outputs,
            labels,
            pool: Mutex::new(Vec::new()),
            free_sessions: Arc::new(Semaphore::new(0)),
            admission: Arc::new(Semaphore::new(capacity)),
            capacity,
            deadline: config.deadline,
            tile_deadline: config.tile_deadline.max(config.deadline),
            large_input_pixels: config.large_input_pixels,
            shrink_arena: config.shrink_arena,
            give_back_memory: config.give_back_memory,
            waiting: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            recipe,
            tile_cost: tile::TileCost::default(),
            pooled: AtomicUsize::new(0),
            filling: AtomicBool::new(false),
            closing: AtomicBool::new(false),
        };
        if warm_up {
            engine.warm_up(&mut first)?;
        }
        engine.join_pool(first);
        Ok(engine)
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// Requests waiting for a session right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Runs in progress right now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Sessions plus queue places: the most requests the engine holds at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// How the model scales images.
    pub fn resize_rule(&self) -> crate::resize::ResizeRule {
        self.info.resize
    }

    /// Refuses, before any work, an image this model cannot process (see
    /// [`crate::resize::ResizeRule::check`]). `width` x `height` is the upright size.
    pub fn check_size(&self, width: u32, height: u32) -> Result<(), EngineError> {
        self.info
            .resize
            .check(width, height)
            .map_err(EngineError::UnsupportedImage)
    }

    /// The memory a run on a `width` x `height` (upright) image takes beyond the decoded
    /// picture, in bytes: Lookout's tensor at the size the model works at (see
    /// [`crate::resize::FeedPlan`]), and the copies onnxruntime makes of it while normalising,
    /// resizing (an identity now) and padding inside the graph. Tiles are no larger than
    /// the working size and run one at a time, so this covers a tiled request too. Used to
    /// budget memory before decoding.
    pub fn input_bytes(&self, width: u32, height: u32) -> u64 {
        let area = |(w, h): (u32, u32)| u64::from(w.max(1)) * u64::from(h.max(1));
        let floats = match self.layout {
            Layout::Torchvision => {
                let plan = self.info.resize.plan(width, height);
                let resampled = area(plan.resample_size((width, height)));
                let feed = area(plan.feed_size((width, height)));
                let working = area(self.info.resize.working_size(width, height));
                // Ours: the resampled planes and, when compensated, the fed copy; the graph's:
                // normalised (two), resized and padded copies.
                3 * (resampled + feed) + 3 * 2 * feed + 3 * 2 * working
            }
            // Resized by Lookout, padded to multiples of 32.
            Layout::Zoo => {
                let (w, h) = tensor::zoo_resized_size(width, height);
                area((w, h)) * 3 * 2
            }
        };
        floats * 4
    }

    /// The smallest upright picture, in pixels, that this model's input can be built from
    /// for a `width` x `height` image without losing anything the model would see: what a
    /// decoder may reduce a large photo to (see [`crate::decode::Probe::pitch_for`]).
    pub fn needed_size(&self, width: u32, height: u32) -> (u32, u32) {
        let needed = match self.layout {
            Layout::Torchvision => self
                .info
                .resize
                .plan(width, height)
                .resample_size((width, height)),
            Layout::Zoo => tensor::zoo_resized_size(width, height),
        };
        (needed.0.min(width), needed.1.min(height))
    }
}
