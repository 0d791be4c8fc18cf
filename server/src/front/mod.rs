//! The one front every way into the detector goes through: `PUT /predict`, `POST
//! /v1/detect`, the page's server functions and the JavaScript-off form are doors that
//! [`Front::extract`] a [`DetectRequest`] and hand it to [`Front::detect`].
//!
//! The order of work is the point: the body is read within its limit, its time and the
//! shared body budget; then the engine admits the request (or it is refused with 503 before
//! any expensive work); only then is a URL fetched, the image probed, memory for decoding
//! reserved from the shared image budget, the image decoded and the model run.

pub mod batch;
mod body;
pub mod encoding;
pub mod extract;
pub mod kept;
pub mod multipart;
pub mod oip;
pub mod request;
pub mod respond;
pub mod stream;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::types::{DetectResponse, ImageSize, TimingMs};
use bytes::Bytes;
use detector::{Limits, MemoryBudget, Reservation};
use image::RgbImage;
use metrics::{counter, histogram};

pub use request::{DetectRequest, Door, ImageSource, OutputFormat};

use crate::error::ApiError;
use crate::fetch::Fetcher;
use crate::metrics as m;
use crate::models::Models;

/// Every limit the front enforces.
#[derive(Debug, Clone)]
pub struct FrontLimits {
    /// Largest request body, on every door and in every encoding.
    pub max_body_bytes: usize,
    /// Largest body of a batch (several images in one request).
    pub max_batch_body_bytes: usize,
    /// Longest a request body may take to arrive.
    pub body_timeout: Duration,
    /// Request bodies held in memory at once, all requests together.
    pub body_budget_bytes: u64,
    /// Memory decoding and the model's input may take at once, all requests together.
    pub image_budget_bytes: u64,
    /// Per-image decode limits.
    pub decode: Limits,
    /// Most images in one `POST /v1/detect/batch`.
    pub max_batch_images: usize,
    /// WebSocket streams open at once.
    pub max_streams: usize,
    /// A stream without a message for this long is closed.
    pub stream_idle: Duration,
}

impl FrontLimits {
    /// The largest body a request to `path` may send: a batch's limit for the batch route,
    /// the single-request limit everywhere else.
    pub fn body_limit(&self, path: &str) -> usize {
        if path == BATCH_PATH {
            self.max_batch_body_bytes
        } else {
            self.max_body_bytes
        }
    }

    /// The largest body any route takes.
    pub fn largest_body(&self) -> usize {
        self.max_body_bytes.max(self.max_batch_body_bytes)
    }
}

/// The batch route: its body limit is `--max-batch-body-bytes`, not `--max-body-bytes`.
pub const BATCH_PATH: &str = "/v1/detect/batch";

/// A finished detection, with the decoded image for callers that draw on it. The image's
/// memory stays reserved until this is dropped.
pub struct Detected {
    /// The decoded picture, upright: at full size when the request's format is not JSON
    /// (the answer draws on it) or it was tiled; for a JSON answer a large JPEG is decoded at
    /// a reduced scale (`response.image` is the original's size either way).
    pub image: Arc<RgbImage>,
    pub response: DetectResponse,
    /// The image's name for exports: the one the client gave (file name, batch item name,
    /// URL's last path segment), else `image.<ext>` after the sniffed format.
    pub name: String,
    /// The bytes fetched from the request's URL (for the page to paint what was detected).
    pub fetched: Option<Bytes>,
    _reservation: Reservation,
}

/// How a request takes its place in the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Now, or never: a full engine answers 503 at once (single requests).
    Now,
    /// Waits for a place while the engine is full, at most the engine's deadline (the
    /// items of a batch, which must not fail because single requests are being served).
    Wait,
}

pub struct Front {
    models: Models,
    limits: FrontLimits,
    fetcher: Fetcher,
    body_budget: MemoryBudget,
    image_budget: MemoryBudget,
    api_key: Option<Arc<str>>,
    shutting_down: AtomicBool,
    /// The open WebSocket streams, and how they hear of a shutdown.
    streams: stream::Streams,
    /// Images fetched for the page, until it asks for them.
    kept: kept::Kept,
}

impl Front {
    pub fn new(
        models: Models,
        limits: FrontLimits,
        fetcher: Fetcher,
        api_key: Option<Arc<str>>,
    ) -> Self {
        Self {
            models,
            body_budget: MemoryBudget::new(limits.body_budget_bytes),
            streams: stream::Streams::new(limits.max_streams),
            image_budget: MemoryBudget::new(limits.image_budget_bytes),
            limits,
            fetcher,
            api_key,
            shutting_down: AtomicBool::new(false),
            kept: kept::Kept::new(kept::KeptLimits::default()),
        }
    }

    /// Images fetched for the page, served once at [`kept::ROUTE`].
    pub fn kept(&self) -> &kept::Kept {
        &self.kept
    }

    pub fn models(&self) -> &Models {
        &self.models
    }

    pub fn limits(&self) -> &FrontLimits {
        &self.limits
    }

    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    pub fn body_budget(&self) -> &MemoryBudget {
        &self.body_budget
    }

    pub fn image_budget(&self) -> &MemoryBudget {
        &self.image_budget
    }

    pub fn streams(&self) -> &stream::Streams {
        &self.streams
    }

    /// Ready for traffic: the default model is loaded and the server is not stopping.
    pub fn is_ready(&self) -> bool {
        self.models.default_ready() && !self.shutting_down.load(Ordering::SeqCst)
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.streams.stop();
    }

    /// Runs a request: admission, then fetching or decoding within the memory budget, then
    /// the model. `started` is when the request arrived, for `timing_ms.total`.
    pub async fn detect(
        &self,
        request: DetectRequest,
        started: Instant,
    ) -> Result<Detected, ApiError> {
        self.detect_with(request, started, Admit::Now).await
    }

    /// [`Front::detect`], taking the engine place as `admit` says.
    pub async fn detect_with(
        &self,
        request: DetectRequest,
        started: Instant,
        admit: Admit,
    ) -> Result<Detected, ApiError> {
        let engine = self.models.engine(request.model.as_deref())?;
        let summary = self
            .models
            .slot(request.model.as_deref())?
            .summary()
            .map(|m| app::types::ModelSummary::clone(&m))
            .ok_or_else(ApiError::not_ready)?;
        if let ImageSource::Bytes(bytes) = &request.source {
            // What is plainly not an image is refused for free, before taking a place.
            detector::sniff_format(bytes)?;
        }
        let admission = match admit {
            Admit::Now => engine.admit().inspect_err(|_| {
                counter!(m::REJECTED_BUSY).increment(1);
            })?,
            Admit::Wait => wait_for_place(&engine).await?,
        };
        let deadline = engine.deadline_of(&admission);

        let given_name = request.name.or_else(|| match &request.source {
            ImageSource::Url(url) => url_file_name(url),
            ImageSource::Bytes(_) => None,
        });
        let from_url = matches!(request.source, ImageSource::Url(_));
        let bytes: Bytes = match request.source {
            ImageSource::Bytes(bytes) => bytes,
            ImageSource::Url(url) => self.fetcher.fetch_until(&url, deadline).await?,
        };
        let fetched = from_url.then(|| bytes.clone());
        let name = given_name.unwrap_or_else(|| {
            let ext = detector::sniff_format(&bytes).map_or("img", respond::extension);
            format!("image.{ext}")
        });
        // The body's reservation covered the upload; the bytes now count with the image.
        drop(request.body);

        let t_decode = Instant::now();
        let limits = self.limits.decode;
        let probe_bytes = bytes.clone();
        let probe = tokio::task::spawn_blocking(move || detector::probe(&probe_bytes, &limits))
            .await
            .map_err(ApiError::internal)??;
        let (width, height) = probe.upright();
        engine.check_size(width, height)?;
        // No more pixels than needed: a large JPEG is decoded straight at the reduced scale
        // the model's input is built from, unless the answer draws on the picture (png, jpeg,
        // zip; JSON and the dataset exports draw nothing) or the request is tiled (tiles are
        // cut from the original pixels).
        let draws = request.format.is_picture() || request.format == OutputFormat::Zip;
        let whole = draws || request.options.tile != detector::TileMode::Off;
        let pitch = if whole {
            1
        } else {
            probe.pitch_for(engine.needed_size(width, height))
        };
        let needed =
            probe.decode_bytes_at(pitch) + bytes.len() as u64 + engine.input_bytes(width, height);
        let reservation = self.image_budget.reserve(needed, deadline).await?;
        let picture =
            tokio::task::spawn_blocking(move || detector::decode_reduced(&bytes, &limits, pitch))
                .await
                .map_err(ApiError::internal)??;
        let decode_secs = t_decode.elapsed().as_secs_f64();
        histogram!(m::DECODE_SECONDS).record(decode_secs);

        let image = Arc::clone(&picture.image);
        let result = engine.detect(admission, picture, request.options).await?;
        let t = result.timings;
        histogram!(m::QUEUE_SECONDS).record(t.queue_ms / 1000.0);
        let inference_ms = t.preprocess_ms + t.inference_ms + t.postprocess_ms;
        histogram!(m::INFERENCE_SECONDS).record(inference_ms / 1000.0);

        let response = DetectResponse {
            model: summary,
            image: ImageSize {
                width: result.width,
                height: result.height,
            },
            detections: result.detections,
            timing_ms: TimingMs {
                decode: decode_secs * 1000.0,
                queue: t.queue_ms,
                inference: inference_ms,
                total: started.elapsed().as_secs_f64() * 1000.0,
            },
            tiles: result.tiles,
        };
        Ok(Detected {
            image,
            response,
            name,
            fetched,
            _reservation: reservation,
        })
    }
}

/// Takes a place in `engine`, waiting (polling, with a short backoff) while it is full, for
/// at most the engine's deadline; then the request is refused as busy.
async fn wait_for_place(engine: &detector::Engine) -> Result<detector::Admission, ApiError> {
    let give_up = Instant::now() + engine.deadline();
    let mut pause = Duration::from_millis(2);
    loop {
        match engine.admit() {
            Ok(admission) => return Ok(admission),
            Err(detector::EngineError::Busy { .. }) if Instant::now() + pause < give_up => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => {
                counter!(m::REJECTED_BUSY).increment(1);
                return Err(e.into());
            }
        }
    }
}

/// The last segment of a URL's path, when it names something (`.../photos/cat.jpg` ->
/// `cat.jpg`), percent-decoded. Exports make it a safe file name.
fn url_file_name(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let last = parsed.path_segments()?.next_back()?;
    let decoded = percent_decode(last);
    (!decoded.trim().is_empty()).then_some(decoded)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The page's server functions reach the host through this (model list, limits); the
/// detection calls themselves are served by the front's own handlers.
impl app::backend::Backend for Front {
    fn max_upload_bytes(&self) -> usize {
        self.limits.max_body_bytes
    }

    fn key_required(&self) -> bool {
        self.api_key.is_some()
    }

    /// The loaded models, the default first.
    fn models(&self) -> Vec<app::types::ModelSummary> {
        let default = self.models.default_slot().map(|s| s.name().to_owned());
        let mut all = self.models.summaries();
        all.sort_by_key(|m| Some(&m.name) != default.as_ref());
        all
    }
}
