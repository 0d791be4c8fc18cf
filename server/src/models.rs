//! The models this server serves: each with its own engine (sessions, queue, deadline) and
//! its own state, so one that fails to load does not take the others down.

use std::sync::{Arc, Mutex, OnceLock};

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
    engine: OnceLock<Arc<Engine>>,
    summary: OnceLock<ModelSummary>,
    failure: Mutex<Option<String>>,
}

impl ModelSlot {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn engine(&self) -> Option<&Arc<Engine>> {
        self.engine.get()
    }

    pub fn summary(&self) -> Option<&ModelSummary> {
        self.summary.get()
    }

    pub fn state(&self) -> ModelState {
        if self.engine.get().is_some() {
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

    /// Makes the loaded (and warmed-up) engine available.
    pub fn set_engine(&self, engine: Arc<Engine>) {
        let info = engine.info();
        crate::metrics::record_model(&self.name, &info.sha256, info.layout.as_str());
        let _ = self.summary.set(ModelSummary {
            name: self.name.clone(),
            layout: info.layout.as_str().to_owned(),
            sha256: info.sha256.clone(),
            labels: info.labels.clone(),
        });
        let _ = self.engine.set(engine);
    }

    pub fn set_failed(&self, reason: String) {
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
    }
}

/// The served models, in the order they were given; one of them is the default.
pub struct Models {
    slots: Vec<Arc<ModelSlot>>,
    default: usize,
}

impl Models {
    /// `models`: (name, how to load it). `default`: the index of the default model.
    pub fn new(models: Vec<(String, EngineConfig)>, default: usize) -> Self {
        let slots = models
            .into_iter()
            .map(|(name, config)| {
                Arc::new(ModelSlot {
                    name,
                    config,
                    engine: OnceLock::new(),
                    summary: OnceLock::new(),
                    failure: Mutex::new(None),
                })
            })
            .collect::<Vec<_>>();
        let default = default.min(slots.len().saturating_sub(1));
        Self { slots, default }
    }

    pub fn slots(&self) -> &[Arc<ModelSlot>] {
        &self.slots
    }

    pub fn default_slot(&self) -> Option<&Arc<ModelSlot>> {
        self.slots.get(self.default)
    }

    pub fn names(&self) -> Vec<&str> {
        self.slots.iter().map(|s| s.name.as_str()).collect()
    }

    /// The slot called `name`, or the default one.
    pub fn slot(&self, name: Option<&str>) -> Result<&Arc<ModelSlot>, ApiError> {
        match name {
            None => self.default_slot().ok_or_else(|| unknown("(default)", &[])),
            Some(name) => self
                .slots
                .iter()
                .find(|s| s.name == name)
                .ok_or_else(|| unknown(name, &self.names())),
        }
    }

    /// The ready engine for `name` (or the default model).
    pub fn engine(&self, name: Option<&str>) -> Result<Arc<Engine>, ApiError> {
        let slot = self.slot(name)?;
        match slot.state() {
            ModelState::Ready => slot.engine().cloned().ok_or_else(ApiError::not_ready),
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
        self.slots
            .iter()
            .filter_map(|s| s.summary().cloned())
            .collect()
    }
}

fn unknown(name: &str, available: &[&str]) -> ApiError {
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
