//! The inference engine: a pool of onnxruntime sessions behind a bounded queue.
//!
//! `Session::run` needs `&mut self`, so each concurrent run needs its own session. Requests
//! are admitted by a semaphore sized `sessions + queue_depth`: past that the caller gets
//! `Busy` at once instead of waiting behind work it cannot see. Every run happens on a
//! blocking thread, and a run still going at the request deadline is terminated so the
//! session is free for the next request.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use image::RgbImage;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{RunOptions, Session};
use ort::value::TensorRef;
use serde::Serialize;
use thiserror::Error;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::decode::Decoded;
use crate::detection::{postprocess, DetectOptions, Detection, RawOutputs, TileMode};
use crate::labels::Labels;
use crate::model::{self, Layout, ModelError, ModelInfo, OutputIndex};
use crate::resample::Source;
use crate::runtime::{self, RuntimeError};
use crate::tensor::{self, InputTensor};
use crate::tile::{self, Tile};

/// How to load and run a model.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub model_path: PathBuf,
    /// `None`: chosen from the model's input name.
    pub layout: Option<Layout>,
    /// Concurrent runs (one onnxruntime session each).
    pub sessions: usize,
    /// Threads per run; 0 means the CPUs this process may use.
    pub intra_threads: usize,
    /// Requests allowed to wait for a free session; more are refused as busy.
    pub queue_depth: usize,
    /// Longest a request may take from admission to answer (queue wait included).
    pub deadline: Duration,
    /// The onnxruntime shared library; `None`: see [`runtime::locate_library`].
    pub ort_library: Option<PathBuf>,
    /// Run each session once before it takes requests, so its first request is not slow
    /// (except the first session of [`Engine::load_first`]).
    pub warm_up: bool,
    /// onnxruntime's CPU memory arena (its default). Without it every run's tensors come
    /// from, and go back to, the system allocator.
    pub cpu_arena: bool,
    /// An input tensor of more than this many pixels is large: after running one, the
    /// engine gives memory back (see `shrink_arena` and `give_back_memory`).
    pub large_input_pixels: u64,
    /// After a large input, the arena gives back what the run grew it by (onnxruntime's
    /// `memory.enable_memory_arena_shrinkage`). Off by default: the next run grows it again,
    /// which cost the shapes model ~60 ms per 1333x999 run (bench/RESULTS.md).
    pub shrink_arena: bool,
    /// Idle intra-op threads spin waiting for work (onnxruntime's default), trading CPU
    /// time for latency. Whatever this says, threads do not spin when the sessions'
    /// threads together outnumber the CPUs: a spinning thread would take a core from
    /// another session's work.
    pub spinning: bool,
    /// Give the memory of large requests back to the system (see [`crate::memory`]): pins
    /// glibc's mmap threshold at load (process-wide) and trims its heaps after a large
    /// input.
    pub give_back_memory: bool,
    /// How long the engine must have been idle before [`Engine::fill_pool`] builds or warms
    /// another session (see [`FILL_QUIET`]).
    pub fill_quiet: Duration,
}

impl EngineConfig {
    pub fn new(model_path: impl Into<PathBuf>) -> Self {
        Self {
            model_path: model_path.into(),
            layout: None,
            sessions: 1,
            intra_threads: 0,
            queue_depth: 16,
            deadline: Duration::from_secs(30),
            ort_library: None,
            warm_up: true,
            cpu_arena: true,
            large_input_pixels: DEFAULT_LARGE_INPUT_PIXELS,
            shrink_arena: false,
            spinning: true,
            give_back_memory: true,
            fill_quiet: FILL_QUIET,
        }
    }
}

/// How long, by default, the engine must have been idle before [`Engine::fill_pool`] builds
/// or warms a session: clients that start with the server's readiness send their first
/// requests within it.
pub const FILL_QUIET: Duration = Duration::from_secs(1);

/// The longest [`Engine::fill_pool`] waits for an idle moment before building or warming
/// a session anyway: under steady load from the start, the pool still fills.
pub const FILL_IDLE_WAIT: Duration = Duration::from_secs(5);

/// Input tensors larger than this (pixels) count as large (see
/// [`EngineConfig::large_input_pixels`]): a photo's 1333x999 working-size tensor is, a
/// 640x480 or 1280x720 frame is not.
pub const DEFAULT_LARGE_INPUT_PIXELS: u64 = 1_000_000;

/// The CPUs this process may use (cgroup-aware), never less than one.
pub fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

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

/// A place in the engine, taken before any expensive work for the request (fetching,
/// decoding) so a request that would be turned away costs nothing. The request deadline
/// runs from the moment of admission.
#[derive(Debug)]
pub struct Admission {
    permit: OwnedSemaphorePermit,
    admitted_at: Instant,
}

impl Admission {
    /// When the request was admitted; its deadline counts from here.
    pub fn admitted_at(&self) -> Instant {
        self.admitted_at
    }
}

/// Terminates an onnxruntime run when the request that started it goes away (the client
/// disconnected, or the deadline fired), so the session serves the next request.
struct TerminateOnDrop {
    run_options: Arc<RunOptions>,
    armed: bool,
}

impl Drop for TerminateOnDrop {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.run_options.terminate();
        }
    }
}

/// Milliseconds spent in each stage of one detection.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct StageTimings {
    pub queue_ms: f64,
    pub preprocess_ms: f64,
    pub inference_ms: f64,
    pub postprocess_ms: f64,
}

impl StageTimings {
    fn add(&mut self, run: &StageTimings) {
        self.queue_ms += run.queue_ms;
        self.preprocess_ms += run.preprocess_ms;
        self.inference_ms += run.inference_ms;
        self.postprocess_ms += run.postprocess_ms;
    }
}

/// A tile is started only while at least this many times its expected cost is left before
/// the deadline.
const TILE_STOP_MARGIN: f64 = 1.2;

/// The tiles a request will run, and what a run was expected to cost when they were planned.
#[derive(Debug)]
struct TilePlan {
    tiles: Vec<Tile>,
    cost: tile::RunCost,
}

impl TilePlan {
    /// The answer's account of these tiles, before any has run.
    fn summary(&self) -> wire::Tiles {
        Self::summarise(&self.tiles)
    }

    fn summarise(tiles: &[Tile]) -> wire::Tiles {
        let (width, height) = tiles.first().map_or((0, 0), |t| (t.width, t.height));
        wire::Tiles {
            count: 0,
            width,
            height,
            skipped: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DetectionResult {
    /// The original image's upright size; boxes are in its pixels.
    pub width: u32,
    pub height: u32,
    pub detections: Vec<Detection>,
    /// Summed over every run of the request (the whole image, then each tile).
    pub timings: StageTimings,
    /// What was looked at besides the whole image, when tiling was asked for.
    pub tiles: Option<wire::Tiles>,
}

/// One run's worth of work: the tensor, and where its boxes go in the original image.
struct Prepared {
    tensor: InputTensor,
    /// The size of the region the tensor stands for (boxes are clipped to it).
    size: (u32, u32),
    /// Where that region lies in the original image.
    tile: Option<Tile>,
    preprocess: Duration,
}

/// What one run is over: the whole picture, or one tile of it.
#[derive(Debug, Clone, Copy)]
enum Region {
    Whole,
    Tile(Tile),
}

pub struct Engine {
    info: ModelInfo,
    layout: Layout,
    outputs: OutputIndex,
    labels: Labels,
    pool: Mutex<Vec<Session>>,
    free_sessions: Arc<Semaphore>,
    admission: Arc<Semaphore>,
    capacity: usize,
    deadline: Duration,
    large_input_pixels: u64,
    shrink_arena: bool,
    give_back_memory: bool,
    waiting: AtomicUsize,
    running: AtomicUsize,
    recipe: SessionRecipe,
    /// Sessions in the pool (free or running).
    pooled: AtomicUsize,
    /// A [`Engine::fill_pool`] call is building sessions.
    filling: AtomicBool,
    /// [`Engine::stop_filling`] was called: build no more sessions.
    closing: AtomicBool,
    /// What a tile run costs, for planning tiles within a deadline.
    tile_cost: tile::TileCost,
}

/// What every session of one engine is built from.
struct SessionRecipe {
    environment: ort::environment::Environment,
    threads: usize,
    spinning: bool,
    config: EngineConfig,
}

impl SessionRecipe {
    fn build(&self) -> Result<Session, EngineError> {
        build_session(
            &self.environment,
            &self.config.model_path,
            self.threads,
            self.spinning,
            &self.config,
        )
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

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

    /// Builds and warms the sessions the configuration asks for beyond those in the pool,
    /// one at a time, each joining the pool as soon as it is warm. Each build and warm-up
    /// waits until no request has been admitted for `fill_quiet` (at most [`FILL_IDLE_WAIT`]):
    /// on a machine whose cores the sessions share, building beside the first requests
    /// would slow them by as much as it saves. Returns at once if another call is already
    /// filling the pool. Blocking.
    pub fn fill_pool(&self) -> Result<(), EngineError> {
        self.fill(true)
    }

    fn fill(&self, wait_for_quiet: bool) -> Result<(), EngineError> {
        if self.filling.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let result = self.build_missing_sessions(wait_for_quiet);
        self.filling.store(false, Ordering::Release);
        result
    }

    fn build_missing_sessions(&self, wait_for_quiet: bool) -> Result<(), EngineError> {
        let wait = if wait_for_quiet {
            FILL_IDLE_WAIT
        } else {
            Duration::ZERO
        };
        while self.sessions_pooled() < self.info.sessions && !self.is_closing() {
            self.wait_for_idle(wait);
            if self.is_closing() {
                break;
            }
            let mut session = self.recipe.build()?;
            self.wait_for_idle(wait);
            if self.is_closing() {
                break;
            }
            self.warm_up(&mut session)?;
            self.join_pool(session);
        }
        Ok(())
    }

    /// Stops [`Engine::fill_pool`] at its next step (a server shutting down should not wait
    /// for sessions it will never use). The sessions already pooled keep serving.
    pub fn stop_filling(&self) {
        self.closing.store(true, Ordering::Release);
    }

    fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Returns once no request has been admitted (fetching, decoding, queued or running)
    /// for the configured `fill_quiet`, or after `at_most`.
    fn wait_for_idle(&self, at_most: Duration) {
        let since = Instant::now();
        let mut quiet_since = since;
        while since.elapsed() < at_most && !self.is_closing() {
            if self.admission.available_permits() < self.capacity {
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= self.recipe.config.fill_quiet {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sessions built, warmed and taking requests (up to `info().sessions`).
    pub fn sessions_pooled(&self) -> usize {
        self.pooled.load(Ordering::Acquire)
    }

    fn warm_up(&self, session: &mut Session) -> Result<(), EngineError> {
        if self.recipe.config.warm_up {
            // A mid-sized frame: onnxruntime allocates and plans on the first run.
            let frame = RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128]));
            let prepared = self.prepare(Source::whole(&frame), (640, 480), Region::Whole);
            self.run_on(session, &prepared, &DetectOptions::default(), None)?;
        }
        Ok(())
    }

    fn join_pool(&self, session: Session) {
        self.pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(session);
        self.pooled.fetch_add(1, Ordering::AcqRel);
        self.free_sessions.add_permits(1);
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

    /// Takes a place in the engine, or refuses at once with [`EngineError::Busy`] when all
    /// sessions and queue places are taken.
    pub fn admit(&self) -> Result<Admission, EngineError> {
        let permit = self
            .admission
            .clone()
            .try_acquire_owned()
            .map_err(|_| EngineError::Busy {
                capacity: self.capacity,
            })?;
        Ok(Admission {
            permit,
            admitted_at: Instant::now(),
        })
    }

    /// The moment an admitted request's time is up.
    pub fn deadline_of(&self, admission: &Admission) -> Instant {
        admission.admitted_at + self.deadline
    }

    /// Detects objects in `image`: admits the request (see [`Engine::admit`]) and runs it.
    pub async fn detect(
        self: &Arc<Self>,
        image: Arc<RgbImage>,
        options: DetectOptions,
    ) -> Result<DetectionResult, EngineError> {
        let admission = self.admit()?;
        self.detect_admitted(admission, image, options).await
    }

    /// Runs an admitted request on a full-size image. See [`Engine::detect_decoded`].
    pub async fn detect_admitted(
        self: &Arc<Self>,
        admission: Admission,
        image: Arc<RgbImage>,
        options: DetectOptions,
    ) -> Result<DetectionResult, EngineError> {
        self.detect_decoded(admission, Decoded::shared(image), options)
            .await
    }

    /// Runs an admitted request, waiting for a session if all are busy, within the deadline
    /// that started at admission. Dropping the returned future (the client went away) stops
    /// the run.
    ///
    /// The input tensor is built (on a blocking thread, before waiting for a session) at the
    /// size the model works at, from `picture` (full size, or a JPEG decoded at a reduced
    /// scale); boxes come back in the original's pixels.
    ///
    /// With [`TileMode::Auto`] and a full-size picture the model would shrink, the whole
    /// image and then tiles of it are run in turn. **The tiles of a request share its
    /// admission and its deadline**: the request holds one engine place throughout; each run
    /// takes a session like any request (so others interleave between tiles). The tiles are
    /// planned after the whole image's run, against the time left and the model's measured
    /// cost per tile ([`tile::affordable`]): a slow model gets fewer, larger tiles. A tile
    /// that would not finish before the deadline is skipped (and counted as such) rather
    /// than failing the request; a run still going when the deadline passes is stopped and
    /// the request fails with [`EngineError::DeadlineExceeded`].
    pub async fn detect_decoded(
        self: &Arc<Self>,
        admission: Admission,
        picture: Decoded,
        options: DetectOptions,
    ) -> Result<DetectionResult, EngineError> {
        let started = admission.admitted_at;
        let admitted = Arc::new(admission.permit);
        let deadline_at = tokio::time::Instant::from_std(started + self.deadline);
        if tokio::time::Instant::now() >= deadline_at {
            return Err(self.deadline_exceeded("preparing the image"));
        }
        let original = picture.original();
        self.check_size(original.0, original.1)?;
        let picture = Arc::new(picture);
        let mut timings = StageTimings::default();
        let run = |prepared: Prepared| {
            let options = &options;
            let admitted = &admitted;
            async move {
                if tokio::time::Instant::now() >= deadline_at {
                    return Err(self.deadline_exceeded("preparing the image"));
                }
                self.run_admitted(prepared, options, deadline_at, admitted)
                    .await
            }
        };
        let whole = run(self.prepare_off_thread(&picture, Region::Whole).await?).await?;
        let mut passes = vec![whole.0];
        timings.add(&whole.1);
        let mut tiles = None;
        if options.tile == TileMode::Auto {
            let left_ms = ms(deadline_at.saturating_duration_since(tokio::time::Instant::now()));
            let plan = self.plan_tiles(&picture, original, &options, left_ms, &whole.1);
            let mut summary = plan.summary();
            for (i, tile) in plan.tiles.iter().enumerate() {
                let left_ms =
                    ms(deadline_at.saturating_duration_since(tokio::time::Instant::now()));
                // The whole image's answer is in hand: a tile that would not finish in time
                // is left out (and counted) rather than failing the request.
                let skip = (plan.tiles.len() - i) as u32;
                let expected = self
                    .tile_cost
                    .or(plan.cost)
                    .tile_ms(&self.info.resize, (tile.width, tile.height));
                if left_ms < expected * TILE_STOP_MARGIN {
                    summary.skipped = skip;
                    break;
                }
                let prepared = self
                    .prepare_off_thread(&picture, Region::Tile(*tile))
                    .await?;
                let (pass, cost) = match run(prepared).await {
                    Ok(done) => done,
                    Err(EngineError::DeadlineExceeded { .. }) => {
                        summary.skipped = skip;
                        break;
                    }
                    Err(e) => return Err(e),
                };
                self.learn_tile_cost(tile, &cost);
                timings.add(&cost);
                passes.push(pass);
                summary.count += 1;
            }
            tiles = Some(summary);
        }
        Ok(self.finish(passes, original, &options, timings, tiles))
    }

    /// Detects objects on the calling thread, without the queue (command-line use, tools).
    /// Tiles as [`Engine::detect_decoded`] does.
    pub fn detect_blocking(
        &self,
        image: &RgbImage,
        options: &DetectOptions,
    ) -> Result<DetectionResult, EngineError> {
        self.detect_source_blocking(Source::whole(image), image.dimensions(), options)
    }

    /// [`Engine::detect_blocking`] for a decoded picture (possibly at a reduced scale).
    pub fn detect_decoded_blocking(
        &self,
        picture: &Decoded,
        options: &DetectOptions,
    ) -> Result<DetectionResult, EngineError> {
        self.detect_source_blocking(picture.source(), picture.original(), options)
    }

    fn detect_source_blocking(
        &self,
        source: Source<'_>,
        original: (u32, u32),
        options: &DetectOptions,
    ) -> Result<DetectionResult, EngineError> {
        self.check_size(original.0, original.1)?;
        let mut timings = StageTimings::default();
        let prepared = self.prepare(source, original, Region::Whole);
        let (whole, cost) = self.run_pooled(&prepared, options, None)?;
        timings.add(&cost);
        let mut passes = vec![whole];
        let mut tiles = None;
        // No deadline here (the command line): every tile the image calls for.
        if options.tile == TileMode::Auto {
            let grid = if source.pitch == 1 {
                tile::grid(
                    &self.info.resize,
                    original.0,
                    original.1,
                    options.tile_overlap,
                )
            } else {
                Vec::new()
            };
            let mut summary = TilePlan::summarise(&grid);
            for tile in grid {
                let prepared = self.prepare(source, original, Region::Tile(tile));
                let (pass, cost) = self.run_pooled(&prepared, options, None)?;
                self.learn_tile_cost(&tile, &cost);
                timings.add(&cost);
                passes.push(pass);
                summary.count += 1;
            }
            tiles = Some(summary);
        }
        Ok(self.finish(passes, original, options, timings, tiles))
    }

    /// The tiles worth running for `picture` in `left_ms`, given what the whole image's run
    /// (`whole`) cost. Tiles are cut from the original pixels: a reduced decode has none.
    fn plan_tiles(
        &self,
        picture: &Decoded,
        original: (u32, u32),
        options: &DetectOptions,
        left_ms: f64,
        whole: &StageTimings,
    ) -> TilePlan {
        let rule = &self.info.resize;
        // Before any tile has run, the whole image's run is the estimate: its model time
        // per working megapixel, and its input building per original megapixel.
        let prior = tile::RunCost::from_run(
            rule,
            original,
            whole.inference_ms + whole.postprocess_ms,
            whole.preprocess_ms,
        );
        let cost = self.tile_cost.or(prior);
        if picture.pitch != 1 {
            return TilePlan {
                tiles: Vec::new(),
                cost,
            };
        }
        let tiles = tile::plan(rule, original, options.tile_overlap, left_ms, &cost);
        TilePlan { tiles, cost }
    }

    fn learn_tile_cost(&self, tile: &Tile, run: &StageTimings) {
        self.tile_cost.record(tile::RunCost::from_run(
            &self.info.resize,
            (tile.width, tile.height),
            run.inference_ms + run.postprocess_ms,
            run.preprocess_ms,
        ));
    }

    fn finish(
        &self,
        passes: Vec<tile::Pass>,
        size: (u32, u32),
        options: &DetectOptions,
        timings: StageTimings,
        tiles: Option<wire::Tiles>,
    ) -> DetectionResult {
        let t0 = Instant::now();
        let mut detections = if passes.len() == 1 {
            passes.into_iter().flat_map(|p| p.detections).collect()
        } else {
            tile::merge(passes, size)
        };
        detections.truncate(options.max_detections);
        let mut timings = timings;
        timings.postprocess_ms += ms(t0.elapsed());
        DetectionResult {
            width: size.0,
            height: size.1,
            detections,
            timings,
            tiles,
        }
    }

    /// Builds the input tensor of `region` of `source` (which stands for an `original`-sized
    /// image).
    fn prepare(&self, source: Source<'_>, original: (u32, u32), region: Region) -> Prepared {
        let t0 = Instant::now();
        let (tensor, size, tile) = match region {
            Region::Whole => (
                tensor::build_from(&source, original, self.layout, self.info.resize),
                original,
                None,
            ),
            Region::Tile(tile) => {
                let source = Source {
                    x0: tile.x,
                    y0: tile.y,
                    width: tile.width,
                    height: tile.height,
                    pitch: 1,
                    ..source
                };
                let size = (tile.width, tile.height);
                (
                    tensor::build_from(&source, size, self.layout, self.info.resize),
                    size,
                    Some(tile),
                )
            }
        };
        Prepared {
            tensor,
            size,
            tile,
            preprocess: t0.elapsed(),
        }
    }

    async fn prepare_off_thread(
        self: &Arc<Self>,
        picture: &Arc<Decoded>,
        region: Region,
    ) -> Result<Prepared, EngineError> {
        let engine = Arc::clone(self);
        let picture = Arc::clone(picture);
        tokio::task::spawn_blocking(move || {
            engine.prepare(picture.source(), picture.original(), region)
        })
        .await
        .map_err(|e| EngineError::Inference(format!("the preprocessing thread failed: {e}")))
    }

    /// Waits for a session (until `deadline_at`) and runs `prepared` on it; the admission
    /// permit stays held until the run has ended, even if this future is dropped.
    async fn run_admitted(
        self: &Arc<Self>,
        prepared: Prepared,
        options: &DetectOptions,
        deadline_at: tokio::time::Instant,
        admitted: &Arc<OwnedSemaphorePermit>,
    ) -> Result<(tile::Pass, StageTimings), EngineError> {
        let queued_from = Instant::now();
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let session_permit =
            tokio::time::timeout_at(deadline_at, self.free_sessions.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let session_permit = match session_permit {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(EngineError::Inference("the engine is shutting down".into())),
            Err(_) => return Err(self.deadline_exceeded("waiting in the queue")),
        };
        let queued = queued_from.elapsed();

        let run_options = Arc::new(self.run_options_for(&prepared)?);
        let mut guard = TerminateOnDrop {
            run_options: Arc::clone(&run_options),
            armed: true,
        };
        let engine = Arc::clone(self);
        let options_for_run = Arc::clone(&run_options);
        let admitted = Arc::clone(admitted);
        let options = *options;
        let mut task = tokio::task::spawn_blocking(move || {
            let _permits: (OwnedSemaphorePermit, Arc<OwnedSemaphorePermit>) =
                (session_permit, admitted);
            engine.run_pooled(&prepared, &options, Some(&options_for_run))
        });
        let outcome = tokio::select! {
            joined = &mut task => joined,
            _ = tokio::time::sleep_until(deadline_at) => {
                // Stop the run so the session serves the next request, then wait for the
                // thread to hand it back.
                let _ = run_options.terminate();
                let _ = task.await;
                guard.armed = false;
                return Err(self.deadline_exceeded("running the model"));
            }
        };
        guard.armed = false;
        let (pass, mut timings) = outcome
            .map_err(|e| EngineError::Inference(format!("the inference thread failed: {e}")))??;
        timings.queue_ms = ms(queued);
        Ok((pass, timings))
    }

    /// Whether `prepared` is a large input (see [`EngineConfig::large_input_pixels`]).
    fn is_large(&self, prepared: &Prepared) -> bool {
        let pixels = (prepared.tensor.shape[1] * prepared.tensor.shape[2]) as u64;
        pixels > self.large_input_pixels
    }

    /// Options for one run: it can be stopped (see [`TerminateOnDrop`]), and after a large
    /// input it gives the arena's growth back.
    fn run_options_for(&self, prepared: &Prepared) -> Result<RunOptions, EngineError> {
        let fail = |e: ort::Error| EngineError::Inference(e.to_string());
        let mut options = RunOptions::new().map_err(fail)?;
        if self.shrink_arena && self.is_large(prepared) {
            options
                .set("memory.enable_memory_arena_shrinkage", "cpu:0")
                .map_err(fail)?;
        }
        Ok(options)
    }

    fn deadline_exceeded(&self, stage: &'static str) -> EngineError {
        EngineError::DeadlineExceeded {
            deadline_ms: self.deadline.as_millis(),
            stage,
        }
    }

    fn run_pooled(
        &self,
        prepared: &Prepared,
        options: &DetectOptions,
        run_options: Option<&RunOptions>,
    ) -> Result<(tile::Pass, StageTimings), EngineError> {
        let mut session = self
            .pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .ok_or_else(|| {
                EngineError::Inference("no free session (pool accounting error)".into())
            })?;
        self.running.fetch_add(1, Ordering::Relaxed);
        let result = self.run_on(&mut session, prepared, options, run_options);
        self.running.fetch_sub(1, Ordering::Relaxed);
        self.pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(session);
        if self.give_back_memory && self.is_large(prepared) {
            crate::memory::trim();
        }
        result
    }

    fn run_on(
        &self,
        session: &mut Session,
        prepared: &Prepared,
        options: &DetectOptions,
        run_options: Option<&RunOptions>,
    ) -> Result<(tile::Pass, StageTimings), EngineError> {
        let input = &prepared.tensor;
        let t1 = Instant::now();
        let fail = |e: ort::Error| EngineError::Inference(e.to_string());
        let view =
            TensorRef::from_array_view((input.shape, input.data.as_slice())).map_err(fail)?;
        let local;
        let run_options = match run_options {
            Some(given) => Some(given),
            None if self.shrink_arena && self.is_large(prepared) => {
                local = self.run_options_for(prepared)?;
                Some(&local)
            }
            None => None,
        };
        let outputs = match run_options {
            Some(run_options) => session.run_with_options(ort::inputs![view], run_options),
            None => session.run(ort::inputs![view]),
        }
        .map_err(fail)?;
        let t2 = Instant::now();
        let (_, boxes) = outputs[self.outputs.boxes]
            .try_extract_tensor::<f32>()
            .map_err(fail)?;
        let (_, labels) = outputs[self.outputs.labels]
            .try_extract_tensor::<i64>()
            .map_err(fail)?;
        let (_, scores) = outputs[self.outputs.scores]
            .try_extract_tensor::<f32>()
            .map_err(fail)?;
        // Every pass keeps what it found at the threshold; the cap applies after merging.
        let pass_options = DetectOptions {
            max_detections: crate::detection::MAX_DETECTIONS,
            ..*options
        };
        let mut detections = postprocess(
            RawOutputs {
                boxes,
                labels,
                scores,
            },
            &self.labels,
            &pass_options,
            (input.scale_x, input.scale_y),
            prepared.size,
        );
        if let Some(tile) = prepared.tile {
            let (dx, dy) = (tile.x as f32, tile.y as f32);
            for d in &mut detections {
                d.bbox.x1 += dx;
                d.bbox.x2 += dx;
                d.bbox.y1 += dy;
                d.bbox.y2 += dy;
            }
        }
        let t3 = Instant::now();
        Ok((
            tile::Pass {
                tile: prepared.tile,
                detections,
            },
            StageTimings {
                queue_ms: 0.0,
                preprocess_ms: ms(prepared.preprocess),
                inference_ms: ms(t2 - t1),
                postprocess_ms: ms(t3 - t2),
            },
        ))
    }
}

fn build_session(
    environment: &ort::environment::Environment,
    path: &Path,
    threads: usize,
    spinning: bool,
    config: &EngineConfig,
) -> Result<Session, EngineError> {
    let load = |reason: String| ModelError::Load {
        path: path.display().to_string(),
        reason,
    };
    let session = Session::builder(environment)
        .map_err(|e| load(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| load(e.to_string()))?
        .with_intra_threads(threads)
        .map_err(|e| load(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| load(e.to_string()))?
        .with_intra_op_spinning(spinning)
        .map_err(|e| load(e.to_string()))?
        .with_execution_providers([ort::ep::CPU::default()
            .with_arena_allocator(config.cpu_arena)
            .build()])
        .map_err(|e| load(e.to_string()))?
        .commit_from_file(path)
        .map_err(|e| load(e.to_string()))?;
    Ok(session)
}
