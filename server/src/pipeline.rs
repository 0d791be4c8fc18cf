//! The one detection path every entry point shares: bytes -> decode -> engine -> response.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use app::backend::{Backend, DetectParams};
use app::types::{BoxPx, DetectResponse, DetectionOut, ImageSize, ModelSummary, Problem, TimingMs};
use bytes::Bytes;
use detector::{DetectOptions, Engine, EngineError, Limits};
use image::RgbImage;
use metrics::{counter, histogram};

use crate::error::ApiError;
use crate::fetch::Fetcher;
use crate::metrics as m;

/// A finished detection, with the decoded image for callers that draw on it.
pub struct Detected {
    pub image: Arc<RgbImage>,
    pub response: DetectResponse,
}

pub struct Pipeline {
    engine: OnceLock<Arc<Engine>>,
    summary: OnceLock<ModelSummary>,
    shutting_down: AtomicBool,
    limits: Limits,
    fetcher: Fetcher,
    max_body_bytes: usize,
}

impl Pipeline {
    pub fn new(limits: Limits, fetcher: Fetcher, max_body_bytes: usize) -> Self {
        Self {
            engine: OnceLock::new(),
            summary: OnceLock::new(),
            shutting_down: AtomicBool::new(false),
            limits,
            fetcher,
            max_body_bytes,
        }
    }

    /// Makes the loaded (and warmed-up) engine available: the server is ready from here on.
    pub fn set_engine(&self, engine: Arc<Engine>) {
        let info = engine.info();
        m::record_model(&info.name, &info.sha256, info.layout.as_str());
        let _ = self.summary.set(ModelSummary {
            name: info.name.clone(),
            layout: info.layout.as_str().to_owned(),
            sha256: info.sha256.clone(),
            labels: info.labels.clone(),
        });
        let _ = self.engine.set(engine);
    }

    pub fn engine(&self) -> Option<&Arc<Engine>> {
        self.engine.get()
    }

    pub fn is_ready(&self) -> bool {
        self.engine.get().is_some() && !self.shutting_down.load(Ordering::SeqCst)
    }

    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// Decodes and detects. `started` is when the request arrived, for `timing_ms.total`.
    pub async fn detect(
        &self,
        bytes: Bytes,
        options: DetectOptions,
        started: Instant,
    ) -> Result<Detected, ApiError> {
        let engine = self.engine.get().cloned().ok_or_else(ApiError::not_ready)?;
        let limits = self.limits;
        let t_decode = Instant::now();
        // Decoding is CPU work: keep it off the async executor.
        let image = tokio::task::spawn_blocking(move || detector::decode(&bytes, &limits))
            .await
            .map_err(|e| ApiError::internal(format!("the decoder thread failed: {e}")))??;
        let decode_secs = t_decode.elapsed().as_secs_f64();
        histogram!(m::DECODE_SECONDS).record(decode_secs);

        let image = Arc::new(image);
        let result = engine
            .detect(Arc::clone(&image), options)
            .await
            .inspect_err(|e| {
                if matches!(e, EngineError::Busy { .. }) {
                    counter!(m::REJECTED_BUSY).increment(1);
                }
            })?;
        let t = result.timings;
        histogram!(m::QUEUE_SECONDS).record(t.queue_ms / 1000.0);
        let inference_ms = t.preprocess_ms + t.inference_ms + t.postprocess_ms;
        histogram!(m::INFERENCE_SECONDS).record(inference_ms / 1000.0);

        let response = DetectResponse {
            model: self
                .summary
                .get()
                .cloned()
                .unwrap_or_else(|| summary_of(&engine)),
            image: ImageSize {
                width: result.width,
                height: result.height,
            },
            detections: result
                .detections
                .into_iter()
                .map(|d| DetectionOut {
                    label: d.label,
                    class_id: d.class_id,
                    score: d.score,
                    bbox: BoxPx {
                        x1: d.bbox.x1,
                        y1: d.bbox.y1,
                        x2: d.bbox.x2,
                        y2: d.bbox.y2,
                    },
                })
                .collect(),
            timing_ms: TimingMs {
                decode: decode_secs * 1000.0,
                queue: t.queue_ms,
                inference: inference_ms,
                total: started.elapsed().as_secs_f64() * 1000.0,
            },
        };
        Ok(Detected { image, response })
    }

    /// Fetches an image URL under the SSRF rules, then detects.
    pub async fn detect_url(
        &self,
        url: &str,
        options: DetectOptions,
        started: Instant,
    ) -> Result<Detected, ApiError> {
        if !self.is_ready() {
            return Err(ApiError::not_ready());
        }
        let bytes = self.fetcher.fetch(url).await?;
        self.detect(bytes, options, started).await
    }
}

fn summary_of(engine: &Engine) -> ModelSummary {
    let info = engine.info();
    ModelSummary {
        name: info.name.clone(),
        layout: info.layout.as_str().to_owned(),
        sha256: info.sha256.clone(),
        labels: info.labels.clone(),
    }
}

fn options(params: DetectParams) -> DetectOptions {
    DetectOptions {
        threshold: params.threshold,
        max_detections: params.max_detections,
    }
}

/// The web UI's server functions reach the engine through this.
#[async_trait::async_trait]
impl Backend for Pipeline {
    fn model(&self) -> Option<ModelSummary> {
        self.summary.get().cloned()
    }

    fn max_upload_bytes(&self) -> usize {
        self.max_body_bytes
    }

    async fn detect_bytes(
        &self,
        bytes: Bytes,
        params: DetectParams,
    ) -> Result<DetectResponse, Problem> {
        self.detect(bytes, options(params), Instant::now())
            .await
            .map(|d| d.response)
            .map_err(|e| e.problem)
    }

    async fn detect_url(&self, url: &str, params: DetectParams) -> Result<DetectResponse, Problem> {
        Pipeline::detect_url(self, url, options(params), Instant::now())
            .await
            .map(|d| d.response)
            .map_err(|e| e.problem)
    }
}
