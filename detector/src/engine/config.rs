//! How an engine is set up: the model, its sessions, the queue, the deadline, memory.

use std::path::PathBuf;
use std::time::Duration;

use crate::model::Layout;

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
    /// Longest a tiled request (`tile=auto`) may take from admission: its whole-image run
    /// keeps `deadline`, and its tiles are planned to fit in what is left of this (never
    /// less than `deadline`). A slow model needs more than one ordinary deadline for even a
    /// few tiles of a photo: an R50-FPN takes about 3 s a tile on 2 cores.
    pub tile_deadline: Duration,
    /// The onnxruntime shared library; `None`: see [`crate::runtime::locate_library`].
    pub ort_library: Option<PathBuf>,
    /// Run each session once before it takes requests, so its first request is not slow
    /// (except the first session of [`super::Engine::load_first`]).
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
    /// How long the engine must have been idle before [`super::Engine::fill_pool`] builds
    /// or warms another session (see [`FILL_QUIET`]).
    pub fill_quiet: Duration,
}

/// How long a tiled request may take by default (see [`EngineConfig::tile_deadline`]).
pub const DEFAULT_TILE_DEADLINE: Duration = Duration::from_secs(60);

impl EngineConfig {
    pub fn new(model_path: impl Into<PathBuf>) -> Self {
        Self {
            model_path: model_path.into(),
            layout: None,
            sessions: 1,
            intra_threads: 0,
            queue_depth: 16,
            deadline: Duration::from_secs(30),
            tile_deadline: DEFAULT_TILE_DEADLINE,
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

/// How long, by default, the engine must have been idle before
/// [`super::Engine::fill_pool`] builds or warms a session: clients that start with the
/// server's readiness send their first requests within it.
pub const FILL_QUIET: Duration = Duration::from_secs(1);

/// The longest [`super::Engine::fill_pool`] waits for an idle moment before building or
/// warming a session anyway: under steady load from the start, the pool still fills.
pub const FILL_IDLE_WAIT: Duration = Duration::from_secs(5);

/// Input tensors larger than this (pixels) count as large (see
/// [`EngineConfig::large_input_pixels`]): a photo's 1333x999 working-size tensor is, a
/// 640x480 or 1280x720 frame is not.
pub const DEFAULT_LARGE_INPUT_PIXELS: u64 = 1_000_000;

/// The CPUs this process may use (cgroup-aware), never less than one.
pub fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
