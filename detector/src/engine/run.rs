//! One run of the model: admission to the engine, waiting for a session within the
//! deadline, building the input, and running it on a session that is stopped if the
//! request goes away.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ort::session::{RunOptions, Session};
use ort::value::TensorRef;
use serde::Serialize;
use tokio::sync::OwnedSemaphorePermit;

use super::state::{ms, Engine, EngineError};
use crate::decode::Decoded;
use crate::detection::{postprocess, DetectOptions, RawOutputs};
use crate::resample::Source;
use crate::tensor::{self, InputTensor};
use crate::tile::{self, Tile};

/// A place in the engine, taken before any expensive work for the request (fetching,
/// decoding) so a request that would be turned away costs nothing. The request deadline
/// runs from the moment of admission.
#[derive(Debug)]
pub struct Admission {
    pub(super) permit: OwnedSemaphorePermit,
    pub(super) admitted_at: Instant,
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
    pub(super) fn add(&mut self, run: &StageTimings) {
        self.queue_ms += run.queue_ms;
        self.preprocess_ms += run.preprocess_ms;
        self.inference_ms += run.inference_ms;
        self.postprocess_ms += run.postprocess_ms;
    }
}

/// One run's worth of work: the tensor, and where its boxes go in the original image.
pub(super) struct Prepared {
    tensor: InputTensor,
    /// The size of the region the tensor stands for (boxes are clipped to it).
    size: (u32, u32),
    /// Where that region lies in the original image.
    tile: Option<Tile>,
    preprocess: Duration,
}

/// What one run is over: the whole picture, or one tile of it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Region {
    Whole,
    Tile(Tile),
}

impl Engine {
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

    pub(super) fn deadline_exceeded(&self, stage: &'static str) -> EngineError {
        EngineError::DeadlineExceeded {
            deadline_ms: self.deadline.as_millis(),
            stage,
        }
    }

    /// Builds the input tensor of `region` of `source` (which stands for an `original`-sized
    /// image).
    pub(super) fn prepare(
        &self,
        source: Source<'_>,
        original: (u32, u32),
        region: Region,
    ) -> Prepared {
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

    pub(super) async fn prepare_off_thread(
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
    pub(super) async fn run_admitted(
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

    /// Whether `prepared` is a large input (see
    /// [`super::EngineConfig::large_input_pixels`]).
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

    pub(super) fn run_pooled(
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

    pub(super) fn run_on(
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
