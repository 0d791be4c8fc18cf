//! The inference engine: a pool of onnxruntime sessions behind a bounded queue.
//!
//! `Session::run` needs `&mut self`, so each concurrent run needs its own session. Requests
//! are admitted by a semaphore sized `sessions + queue_depth`: past that the caller gets
//! `Busy` at once instead of waiting behind work it cannot see. Every run happens on a
//! blocking thread, and a run still going at the request deadline is terminated so the
//! session is free for the next request.
//!
//! `config` says how an engine is set up, `state` what it holds, `pool` builds its sessions,
//! `run` admits a request and runs the model once on a session, `detect` is the pipeline a
//! request goes through (the whole picture, then its tiles), and `load` loads an engine.
//! Each module uses only those before it.

mod config;
mod detect;
mod load;
mod pool;
mod run;
mod state;

pub use config::{
    available_cpus, EngineConfig, DEFAULT_LARGE_INPUT_PIXELS, FILL_IDLE_WAIT, FILL_QUIET,
};
pub use detect::DetectionResult;
pub use run::{Admission, StageTimings};
pub use state::{Engine, EngineError};
