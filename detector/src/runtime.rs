//! Loading the onnxruntime shared library, once per process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use thiserror::Error;

/// The onnxruntime release Lookout is built and tested against. Any 1.17+ works at the API
/// level; this is the one `make` installs.
pub const PINNED_ORT_VERSION: &str = "1.32.0";

/// Where `make` puts the library, relative to the repository root.
pub const DEFAULT_LIBRARY: &str = ".cache/onnxruntime/libonnxruntime.so.1.32.0";

#[derive(Debug, Error, Clone)]
pub enum RuntimeError {
    #[error("the onnxruntime library was not found at {path}; run `make ort` (or pass --ort-library / set ORT_DYLIB_PATH)")]
    Missing { path: PathBuf },
    #[error("could not load onnxruntime from {path}: {reason}; run `make ort` to install onnxruntime {PINNED_ORT_VERSION}")]
    Unusable { path: PathBuf, reason: String },
}

static INIT: OnceLock<Result<ort::environment::Environment, RuntimeError>> = OnceLock::new();

/// Picks the library: an explicit path, else `ORT_DYLIB_PATH`, else the `make`-installed copy
/// found from the working directory or beside the executable.
pub fn locate_library(explicit: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_path_buf();
    }
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let mut candidates = vec![PathBuf::from(DEFAULT_LIBRARY)];
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(4) {
            candidates.push(dir.join(DEFAULT_LIBRARY));
        }
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(root) = manifest.parent() {
        candidates.push(root.join(DEFAULT_LIBRARY));
    }
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_LIBRARY))
}

/// Loads onnxruntime from `path` and builds the process-wide environment. Idempotent: the
/// first call decides, later calls return its result.
pub fn init(path: &Path) -> Result<ort::environment::Environment, RuntimeError> {
    INIT.get_or_init(|| init_once(path)).clone()
}

fn init_once(path: &Path) -> Result<ort::environment::Environment, RuntimeError> {
    if !path.is_file() {
        return Err(RuntimeError::Missing {
            path: path.to_path_buf(),
        });
    }
    let unusable = |reason: String| RuntimeError::Unusable {
        path: path.to_path_buf(),
        reason,
    };
    ort::init_from(path)
        .map_err(|e| unusable(e.to_string()))?
        .with_name("lookout")
        .with_telemetry(false)
        .build()
        .map_err(|e| unusable(e.to_string()))
}
