//! The engine's sessions: how each is built, and filling the pool after the first.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use image::RgbImage;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

use super::config::{EngineConfig, FILL_IDLE_WAIT};
use super::run::Region;
use super::state::{Engine, EngineError, SessionRecipe};
use crate::detection::DetectOptions;
use crate::model::ModelError;
use crate::resample::Source;

impl SessionRecipe {
    pub(super) fn build(&self) -> Result<Session, EngineError> {
        build_session(
            &self.environment,
            &self.config.model_path,
            self.threads,
            self.spinning,
            &self.config,
        )
    }
}

impl Engine {
    /// Builds and warms the sessions the configuration asks for beyond those in the pool,
    /// one at a time, each joining the pool as soon as it is warm. Each build and warm-up
    /// waits until no request has been admitted for `fill_quiet` (at most [`FILL_IDLE_WAIT`]):
    /// on a machine whose cores the sessions share, building beside the first requests
    /// would slow them by as much as it saves. Returns at once if another call is already
    /// filling the pool. Blocking.
    pub fn fill_pool(&self) -> Result<(), EngineError> {
        self.fill(true)
    }

    pub(super) fn fill(&self, wait_for_quiet: bool) -> Result<(), EngineError> {
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

    pub(super) fn warm_up(&self, session: &mut Session) -> Result<(), EngineError> {
        if self.recipe.config.warm_up {
            // A mid-sized frame: onnxruntime allocates and plans on the first run.
            let frame = RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128]));
            let prepared = self.prepare(Source::whole(&frame), (640, 480), Region::Whole);
            self.run_on(session, &prepared, &DetectOptions::default(), None)?;
        }
        Ok(())
    }

    pub(super) fn join_pool(&self, session: Session) {
        self.pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(session);
        self.pooled.fetch_add(1, Ordering::AcqRel);
        self.free_sessions.add_permits(1);
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
