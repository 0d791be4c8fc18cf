//! The model repository (the Open Inference Protocol's `model_repository` extension): the
//! `.onnx` files of `--models-dir` and the models served, loaded, reloaded and unloaded
//! while the server runs, by an operator holding `--admin-key`.
//!
//! A load of a model that serves is a reload: the new engine is built first, on a blocking
//! thread, and swapped in at once; requests already running finish on the engine they took,
//! and a file that fails to load leaves the old engine serving (the load answers why).
//! `/v1/models`, `/readyz`, the page's picker and the metrics read the same registry.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::HeaderMap;
use detector::{Engine, EngineConfig};

use crate::error::{ApiError, Kind};
use crate::models::{ModelSlot, ModelState, Models};

/// How a model found in the directory after start is set up (the serve flags' settings).
pub type Recipe = Arc<dyn Fn(&str, &Path) -> EngineConfig + Send + Sync>;

pub struct Repository {
    dir: Option<PathBuf>,
    recipe: Recipe,
    admin_key: Option<Arc<str>>,
    /// One load or unload at a time.
    busy: tokio::sync::Mutex<()>,
}

/// What a reload of a changed file came to ([`Repository::reload_if_changed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// The new model serves.
    Reloaded,
    /// The file's sha256 is the one serving: nothing was done.
    Unchanged,
    /// The file did not load (or could not be read): the old model keeps serving.
    Failed,
    /// The model is not served, or still loads from start: nothing was done (yet).
    Skipped,
}

impl Reload {
    pub fn as_str(self) -> &'static str {
        match self {
            Reload::Reloaded => "reloaded",
            Reload::Unchanged => "unchanged",
            Reload::Failed => "failed",
            Reload::Skipped => "skipped",
        }
    }
}

/// One entry of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub name: String,
    pub version: String,
    /// `READY`, `LOADING`, `UNAVAILABLE` (Triton's words).
    pub state: &'static str,
    pub reason: String,
}

impl Repository {
    pub fn new(dir: Option<PathBuf>, recipe: Recipe, admin_key: Option<Arc<str>>) -> Self {
        Self {
            dir,
            recipe,
            admin_key,
            busy: tokio::sync::Mutex::new(()),
        }
    }

    /// `--models-dir`, if the server has one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The admin key check: refused (403) when the server has none, 401 without the right
    /// one (`Authorization: Bearer <admin key>`).
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(key) = self.admin_key.as_deref() else {
            return Err(ApiError::new(
                Kind::Forbidden,
                "the model repository is closed on this server: start Lookout with --admin-key (LOOKOUT_ADMIN_KEY) to load and unload models",
            ));
        };
        let presented = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match presented {
            None => Err(ApiError::new(
                Kind::Unauthorized,
                "the model repository needs the admin key: send `Authorization: Bearer <admin key>`",
            )),
            Some(p) if crate::front::extract::constant_time_eq(p.as_bytes(), key.as_bytes()) => {
                Ok(())
            }
            Some(_) => Err(ApiError::new(
                Kind::Unauthorized,
                "the admin key is not valid: send the key the server was started with (--admin-key)",
            )),
        }
    }

    /// The models served and the `.onnx` files of `--models-dir` not served, by name.
    pub fn index(&self, models: &Models, ready_only: bool) -> Vec<IndexEntry> {
        let mut entries: Vec<IndexEntry> = models
            .slots()
            .iter()
            .map(|slot| {
                let (state, reason) = match slot.state() {
                    ModelState::Ready => ("READY", String::new()),
                    ModelState::Loading => ("LOADING", String::new()),
                    ModelState::Failed { reason } => ("UNAVAILABLE", reason),
                };
                IndexEntry {
                    name: slot.name().to_owned(),
                    version: crate::front::oip::VERSION.to_owned(),
                    state,
                    reason,
                }
            })
            .collect();
        for (name, _) in self.files() {
            if !entries.iter().any(|e| e.name == name) {
                entries.push(IndexEntry {
                    name,
                    version: crate::front::oip::VERSION.to_owned(),
                    state: "UNAVAILABLE",
                    reason: "unloaded".to_owned(),
                });
            }
        }
        if ready_only {
            entries.retain(|e| e.state == "READY");
        }
        entries
    }

    /// Loads the model `name` (a served one from its file again; else `NAME.onnx` of
    /// `--models-dir`), serving it once its first session is built; the rest of its sessions
    /// follow in the background.
    pub async fn load(&self, models: &Models, name: &str) -> Result<(), ApiError> {
        let _one_at_a_time = self.busy.lock().await;
        let (slot, fresh) = match models.find(name) {
            Some(slot) => (slot, false),
            None => {
                let path = self.file_of(name)?;
                (
                    ModelSlot::new(name.to_owned(), (self.recipe)(name, &path)),
                    true,
                )
            }
        };
        let started = std::time::Instant::now();
        let config = slot.config().clone();
        let engine = tokio::task::spawn_blocking(move || Engine::load_first(&config))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| {
                let keeps = if fresh {
                    "it is not served"
                } else {
                    "the model already loaded keeps serving"
                };
                tracing::warn!(model = name, error = %e, "a model load failed; {keeps}");
                ApiError::bad_request(format!(
                    "the model `{name}` could not be loaded from {}: {e}; {keeps}",
                    slot.config().model_path.display()
                ))
            })?;
        let engine = Arc::new(engine);
        if let Some(old) = slot.set_engine(Arc::clone(&engine)) {
            old.stop_filling();
        }
        if fresh {
            models.insert(Arc::clone(&slot));
        }
        let info = engine.info();
        tracing::info!(
            model = name, sha256 = %info.sha256, reload = !fresh,
            load_ms = started.elapsed().as_millis() as u64, "model loaded; serving with its first session"
        );
        tokio::task::spawn_blocking(move || {
            if let Err(e) = engine.fill_pool() {
                tracing::error!(error = %e, "a session could not be built; serving with the others");
            }
        });
        Ok(())
    }

    /// Reloads the served model `name` from its file, through [`Repository::load`] (the
    /// new engine built first, then swapped in; a file that fails leaves the old one
    /// serving), when the file's sha256 differs from the one serving. `--watch-models`
    /// calls this for a file it saw change.
    pub async fn reload_if_changed(&self, models: &Models, name: &str) -> Reload {
        let Some(slot) = models.find(name) else {
            return Reload::Skipped;
        };
        if slot.state() == ModelState::Loading {
            return Reload::Skipped;
        }
        let path = slot.config().model_path.clone();
        let hashed = tokio::task::spawn_blocking(move || detector::file_sha256(&path)).await;
        let sha256 = match hashed {
            Ok(Ok((sha256, _))) => sha256,
            Ok(Err(e)) => {
                tracing::warn!(model = name, error = %e, "a changed model file could not be read; the model already loaded keeps serving");
                return Reload::Failed;
            }
            Err(e) => {
                tracing::error!(model = name, error = %e, "the model file hashing thread failed");
                return Reload::Failed;
            }
        };
        if slot.summary().is_some_and(|s| s.sha256 == sha256) {
            tracing::debug!(model = name, %sha256, "a model file changed on disk, but not its contents");
            return Reload::Unchanged;
        }
        match self.load(models, name).await {
            Ok(()) => Reload::Reloaded,
            // `load` logged the reason.
            Err(_) => Reload::Failed,
        }
    }

    /// Stops serving the model `name` (never the default model); requests running on it
    /// finish first, as its engine goes once the last of them lets go.
    pub async fn unload(&self, models: &Models, name: &str) -> Result<(), ApiError> {
        let _one_at_a_time = self.busy.lock().await;
        let slot = models.slot(Some(name))?;
        if models.default_slot().is_some_and(|d| Arc::ptr_eq(d, &slot)) {
            return Err(ApiError::bad_request(format!(
                "`{name}` is the default model and cannot be unloaded (load it to replace it, or start with another --default-model)"
            )));
        }
        models.remove(name);
        if let Some(engine) = slot.take_engine() {
            engine.stop_filling();
        }
        tracing::info!(model = name, "model unloaded");
        Ok(())
    }

    /// The `.onnx` files of `--models-dir`, by model name (the file name without `.onnx`).
    fn files(&self) -> Vec<(String, PathBuf)> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut files: Vec<(String, PathBuf)> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("onnx"))
            })
            .filter_map(|p| Some((p.file_stem()?.to_str()?.to_owned(), p)))
            .collect();
        files.sort();
        files
    }

    fn file_of(&self, name: &str) -> Result<PathBuf, ApiError> {
        if self.dir.is_none() {
            return Err(ApiError::new(
                Kind::UnknownModel,
                format!("there is no model called `{name}` on this server, and it has no --models-dir to load it from"),
            ));
        }
        self.files()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, path)| path)
            .ok_or_else(|| {
                ApiError::new(
                    Kind::UnknownModel,
                    format!("there is no model called `{name}`: --models-dir has no `{name}.onnx`"),
                )
            })
    }
}
