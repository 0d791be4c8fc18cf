//! The models this server serves: each with its own engine (sessions, queue, deadline) and
//! its own state, so one that fails to load does not take the others down.
//!
//! A model can be loaded again while it serves (the repository extension of the Open
//! Inference Protocol, [`crate::repository`]): its slot stays, the engine inside it is
//! swapped at once, and requests already running keep the engine they took (an `Arc`).

use std::sync::{Arc, Mutex, RwLock};

use app::types::ModelSummary;
use detector::{Engine, EngineConfig};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Kind};

/// Where a model is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ModelState {
    Loading,
    Ready,
    /// The reason is for the operator (it names files); clients see only that it failed.
    Failed {
        #[serde(skip)]
        reason: String,
    },
}

pub struct ModelSlot {
    name: String,
    config: EngineConfig,
    engine: RwLock<Option<Arc<Engine>>>,
    /// The summary of the engine being served; a request keeps the one it took while a
    /// reload replaces it.
    summary: RwLock<Option<Arc<ModelSummary>>>,
    failure: Mutex<Option<String>>,
}

impl ModelSlot {
    /// A slot for the model `name`, not loaded yet.
    pub fn new(name: String, config: EngineConfig) -> Arc<Self> {
        Arc::new(Self {
            name,
            config,
            engine: RwLock::new(None),
            summary: RwLock::new(None),
            failure: Mutex::new(None),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The engine serving now (a request keeps the one it took, whatever reloads later).
    pub fn engine(&self) -> Option<Arc<Engine>> {
        self.engine
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// What the answers say of the model serving now.
    pub fn summary(&self) -> Option<Arc<ModelSummary>> {
        self.summary
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn state(&self) -> ModelState {
        if self.engine().is_some() {
            return ModelState::Ready;
        }
        match self
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            Some(reason) => ModelState::Failed {
                reason: reason.clone(),
            },
            None => ModelState::Loading,
        }
    }

    /// Makes the loaded (and warmed-up) engine the one serving, at once: a reload swaps the
    /// previous engine out, which lives on until the requests holding it finish. Returns
    /// the engine it replaced.
    pub fn set_engine(&self, engine: Arc<Engine>) -> Option<Arc<Engine>> {
        let info = engine.info();
        crate::metrics::record_model(&self.name, &info.sha256, info.layout.as_str());
        let summary = Arc::new(ModelSummary {
            name: self.name.clone(),
            layout: info.layout.as_str().to_owned(),
            sha256: info.sha256.clone(),
            labels: info.labels.clone(),
        });
        let mut current = self.engine.write().unwrap_or_else(|p| p.into_inner());
        *self.summary.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&summary));
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let old = current.replace(engine);
        if let Some(old) = old
            .as_ref()
            .filter(|old| old.info().sha256 != summary.sha256)
        {
            gone(&self.name, old);
        }
        old
    }

    /// Takes the engine out (an unload): new requests no longer reach it.
    pub fn take_engine(&self) -> Option<Arc<Engine>> {
        let taken = self
            .engine
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        *self.summary.write().unwrap_or_else(|p| p.into_inner()) = None;
        if let Some(engine) = &taken {
            gone(&self.name, engine);
        }
        taken
    }

    pub fn set_failed(&self, reason: String) {
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
    }
}

/// The served models, in the order they were given (models loaded later come last); one of
/// them is the default, which is never unloaded.
pub struct Models {
    slots: RwLock<Vec<Arc<ModelSlot>>>,
    default: Option<Arc<ModelSlot>>,
}

impl Models {
    /// `models`: (name, how to load it). `default`: the index of the default model.
    pub fn new(models: Vec<(String, EngineConfig)>, default: usize) -> Self {
        let slots = models
            .into_iter()
            .map(|(name, config)| ModelSlot::new(name, config))
            .collect::<Vec<_>>();
        let default = slots
            .get(default.min(slots.len().saturating_sub(1)))
            .cloned();
        Self {
            slots: RwLock::new(slots),
            default,
        }
    }

    /// The models served now, in order.
    pub fn slots(&self) -> Vec<Arc<ModelSlot>> {
        self.slots.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn default_slot(&self) -> Option<&Arc<ModelSlot>> {
        self.default.as_ref()
    }

    pub fn names(&self) -> Vec<String> {
        self.slots().iter().map(|s| s.name.clone()).collect()
    }

    /// The slot called `name`, or the default one.
    pub fn slot(&self, name: Option<&str>) -> Result<Arc<ModelSlot>, ApiError> {
        match name {
            None => self
                .default_slot()
                .cloned()
                .ok_or_else(|| unknown("(default)", &[])),
            Some(name) => self.find(name).ok_or_else(|| unknown(name, &self.names())),
        }
    }

    /// The slot called `name`, if it is served.
    pub fn find(&self, name: &str) -> Option<Arc<ModelSlot>> {
        self.slots().into_iter().find(|s| s.name == name)
    }

    /// Serves `slot` too (a model loaded after start); a slot of the same name is replaced.
    pub fn insert(&self, slot: Arc<ModelSlot>) {
        let mut slots = self.slots.write().unwrap_or_else(|p| p.into_inner());
        match slots.iter_mut().find(|s| s.name == slot.name) {
            Some(existing) => *existing = slot,
            None => slots.push(slot),
        }
    }

    /// Stops serving the model `name` (never the default): its slot leaves the registry and
    /// is returned, so `/v1/models`, `/readyz`, the page and new requests no longer see it.
    pub fn remove(&self, name: &str) -> Option<Arc<ModelSlot>> {
        if self.default.as_ref().is_some_and(|d| d.name == name) {
            return None;
        }
        let mut slots = self.slots.write().unwrap_or_else(|p| p.into_inner());
        let at = slots.iter().position(|s| s.name == name)?;
        Some(slots.remove(at))
    }

    /// The ready engine for `name` (or the default model).
    pub fn engine(&self, name: Option<&str>) -> Result<Arc<Engine>, ApiError> {
        let slot = self.slot(name)?;
        match slot.state() {
            ModelState::Ready => slot.engine().ok_or_else(ApiError::not_ready),
            ModelState::Loading => Err(ApiError::new(
                Kind::ModelLoading,
                format!("the model `{}` is still loading; try again in a moment", slot.name),
            )),
            ModelState::Failed { .. } => Err(ApiError::new(
                Kind::ModelLoading,
                format!(
                    "the model `{}` could not be loaded on this server; the operator's log says why",
                    slot.name
                ),
            )),
        }
    }

    /// The default model has loaded.
    pub fn default_ready(&self) -> bool {
        self.default_slot()
            .is_some_and(|s| s.state() == ModelState::Ready)
    }

    /// The loaded models, for the page.
    pub fn summaries(&self) -> Vec<ModelSummary> {
        self.slots()
            .iter()
            .filter_map(|s| s.summary().map(|m| ModelSummary::clone(&m)))
            .collect()
    }
}

fn gone(name: &str, engine: &Engine) {
    let info = engine.info();
    crate::metrics::record_model_gone(name, &info.sha256, info.layout.as_str());
}

fn unknown(name: &str, available: &[String]) -> ApiError {
    ApiError::new(
        Kind::UnknownModel,
        format!(
            "there is no model called `{name}` on this server; available: {}",
            available
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}
