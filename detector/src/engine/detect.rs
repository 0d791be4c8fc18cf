//! Detection: the one pipeline every request goes through (the whole picture, then tiles of
//! it when asked for), with its runs on the engine's queue or on the calling thread.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::OwnedSemaphorePermit;

use super::run::{Admission, StageTimings};
use super::run::{Prepared, Region};
use super::state::{ms, Engine, EngineError};
use crate::decode::Decoded;
use crate::detection::{DetectOptions, Detection, TileMode};
use crate::tile::{self, Tile};

#[derive(Debug, Clone, Serialize)]
pub struct DetectionResult {
    /// The original image's upright size; boxes are in its pixels.
    pub width: u32,
    pub height: u32,
    pub detections: Vec<Detection>,
    /// Summed over every run of the request (the whole image, then each tile).
    pub timings: StageTimings,
    /// What was looked at besides the whole image, when tiling was asked for.
    pub tiles: Option<wire::Tiles>,
}

/// A tile is started only while at least this many times its expected cost is left before
/// the deadline.
const TILE_STOP_MARGIN: f64 = 1.2;

/// The tiles a request will run, and what a run was expected to cost when they were planned.
#[derive(Debug)]
struct TilePlan {
    tiles: Vec<Tile>,
    cost: tile::RunCost,
}

impl TilePlan {
    /// The answer's account of these tiles, before any has run.
    fn summary(&self) -> wire::Tiles {
        let (width, height) = self.tiles.first().map_or((0, 0), |t| (t.width, t.height));
        wire::Tiles {
            count: 0,
            width,
            height,
            skipped: 0,
        }
    }
}

impl Engine {
    /// Detects objects in `picture` for an admitted request (see [`Engine::admit`]), waiting
    /// for a session if all are busy, within the deadline that started at admission.
    /// Dropping the returned future (the client went away) stops the run.
    ///
    /// `picture` is a full-size image (an `RgbImage` or an `Arc` of one converts into a
    /// [`Decoded`] without copying its pixels) or a JPEG decoded at a reduced scale (see
    /// [`crate::decode_reduced`]); boxes come back in the original's pixels. Each run's
    /// input tensor is built on a blocking thread, before waiting for a session.
    ///
    /// With [`TileMode::Auto`] and a full-size picture the model would shrink, the whole
    /// image and then tiles of it are run in turn. **The tiles of a request share its
    /// admission and its deadline**: the request holds one engine place throughout; each run
    /// takes a session like any request (so others interleave between tiles). The tiles are
    /// planned after the whole image's run, against the time left and the model's measured
    /// cost per tile ([`tile::plan`]): a slow model gets fewer, larger tiles. A tile that
    /// would not finish before the deadline is skipped (and counted as such) rather than
    /// failing the request; a run still going when the deadline passes is stopped and the
    /// request fails with [`EngineError::DeadlineExceeded`].
    ///
    /// This and [`Engine::detect_blocking`] are the two doors to one pipeline: they differ
    /// only in where its runs happen. They are two functions rather than one taking a
    /// "how to run" option because Rust gives a call one shape, a future or a value: an
    /// async function that sometimes blocks would stall the executor thread that awaits
    /// it, and a blocking one cannot wait on the queue or the deadline timer.
    pub async fn detect(
        self: &Arc<Self>,
        admission: Admission,
        picture: impl Into<Decoded>,
        options: DetectOptions,
    ) -> Result<DetectionResult, EngineError> {
        let deadline_at = tokio::time::Instant::from_std(self.deadline_of(&admission));
        let runs = Runs::Queued {
            engine: self,
            admitted: Arc::new(admission.permit),
            deadline_at,
        };
        runs.detect(picture.into(), options).await
    }

    /// Detects objects in `picture` on the calling thread, without the queue or a deadline:
    /// for the command line, tools and benches, which own the engine. The same pipeline as
    /// [`Engine::detect`], tiles included: every tile the image calls for runs, none is
    /// skipped. Blocking.
    pub fn detect_blocking(
        &self,
        picture: &Decoded,
        options: DetectOptions,
    ) -> Result<DetectionResult, EngineError> {
        complete_now(Runs::Here(self).detect(picture.clone(), options)).unwrap_or_else(|| {
            Err(EngineError::Inference(
                "a detection on the calling thread waited for the queue".into(),
            ))
        })
    }

    /// The tiles worth running for `picture` in `left_ms` (`None`: no deadline, every tile
    /// the image calls for), given what the whole image's run (`whole`) cost. Tiles are cut
    /// from the original pixels: a reduced decode has none.
    fn plan_tiles(
        &self,
        picture: &Decoded,
        options: &DetectOptions,
        left_ms: Option<f64>,
        whole: &StageTimings,
    ) -> TilePlan {
        let rule = &self.info.resize;
        let original = picture.original();
        // Before any tile has run, the whole image's run is the estimate: its model time
        // per working megapixel, and its input building per original megapixel.
        let prior = tile::RunCost::from_run(
            rule,
            original,
            whole.inference_ms + whole.postprocess_ms,
            whole.preprocess_ms,
        );
        let cost = self.tile_cost.or(prior);
        let tiles = match left_ms {
            _ if picture.pitch != 1 => Vec::new(),
            Some(left_ms) => tile::plan(rule, original, options.tile_overlap, left_ms, &cost),
            None => tile::grid(rule, original.0, original.1, options.tile_overlap),
        };
        TilePlan { tiles, cost }
    }

    fn learn_tile_cost(&self, tile: &Tile, run: &StageTimings) {
        self.tile_cost.record(tile::RunCost::from_run(
            &self.info.resize,
            (tile.width, tile.height),
            run.inference_ms + run.postprocess_ms,
            run.preprocess_ms,
        ));
    }

    fn finish(
        &self,
        passes: Vec<tile::Pass>,
        size: (u32, u32),
        options: &DetectOptions,
        timings: StageTimings,
        tiles: Option<wire::Tiles>,
    ) -> DetectionResult {
        let t0 = Instant::now();
        let mut detections = if passes.len() == 1 {
            passes.into_iter().flat_map(|p| p.detections).collect()
        } else {
            tile::merge(passes, size)
        };
        detections.truncate(options.max_detections);
        let mut timings = timings;
        timings.postprocess_ms += ms(t0.elapsed());
        DetectionResult {
            width: size.0,
            height: size.1,
            detections,
            timings,
            tiles,
        }
    }
}

/// Where the runs of one request happen.
enum Runs<'a> {
    /// On the engine's queue, each run taking a session like any request, all within the
    /// deadline; the admission is held until the last run has ended.
    Queued {
        engine: &'a Arc<Engine>,
        admitted: Arc<OwnedSemaphorePermit>,
        deadline_at: tokio::time::Instant,
    },
    /// On the calling thread, with no deadline: nothing in it ever waits, so its future is
    /// done on its first poll (see [`complete_now`]).
    Here(&'a Engine),
}

impl Runs<'_> {
    fn engine(&self) -> &Engine {
        match self {
            Runs::Queued { engine, .. } => engine,
            Runs::Here(engine) => engine,
        }
    }

    /// These runs with the deadline of a tiled request (see
    /// [`super::EngineConfig::tile_deadline`]), counted from the same admission.
    fn with_tile_deadline(&self) -> Runs<'_> {
        match self {
            Runs::Queued {
                engine,
                admitted,
                deadline_at,
            } => Runs::Queued {
                engine,
                admitted: Arc::clone(admitted),
                deadline_at: deadline_at
                    .checked_add(engine.tile_deadline.saturating_sub(engine.deadline))
                    .unwrap_or(*deadline_at),
            },
            Runs::Here(engine) => Runs::Here(engine),
        }
    }

    /// Milliseconds left before the deadline; `None` when there is none.
    fn left_ms(&self) -> Option<f64> {
        match self {
            Runs::Queued { deadline_at, .. } => Some(ms(
                deadline_at.saturating_duration_since(tokio::time::Instant::now())
            )),
            Runs::Here(_) => None,
        }
    }

    fn check_time(&self) -> Result<(), EngineError> {
        match self {
            Runs::Queued { deadline_at, .. } if tokio::time::Instant::now() >= *deadline_at => {
                Err(self.engine().deadline_exceeded("preparing the image"))
            }
            _ => Ok(()),
        }
    }

    async fn prepare(
        &self,
        picture: &Arc<Decoded>,
        region: Region,
    ) -> Result<Prepared, EngineError> {
        match self {
            Runs::Queued { engine, .. } => engine.prepare_off_thread(picture, region).await,
            Runs::Here(engine) => Ok(engine.prepare(picture.source(), picture.original(), region)),
        }
    }

    async fn run(
        &self,
        prepared: Prepared,
        options: &DetectOptions,
    ) -> Result<(tile::Pass, StageTimings), EngineError> {
        self.check_time()?;
        match self {
            Runs::Queued {
                engine,
                admitted,
                deadline_at,
            } => {
                engine
                    .run_admitted(prepared, options, *deadline_at, admitted)
                    .await
            }
            Runs::Here(engine) => engine.run_pooled(&prepared, options, None),
        }
    }

    /// The pipeline: the whole picture, then (when asked for and worth it) its tiles, one
    /// run at a time, merged into one answer.
    async fn detect(
        self,
        picture: Decoded,
        options: DetectOptions,
    ) -> Result<DetectionResult, EngineError> {
        self.check_time()?;
        let engine = self.engine();
        let original = picture.original();
        engine.check_size(original.0, original.1)?;
        let picture = Arc::new(picture);
        let mut timings = StageTimings::default();
        let whole = self
            .run(self.prepare(&picture, Region::Whole).await?, &options)
            .await?;
        let mut passes = vec![whole.0];
        timings.add(&whole.1);
        let mut tiles = None;
        if options.tile == TileMode::Auto {
            // The tiles have the tiled requests' longer deadline.
            let tile_runs = self.with_tile_deadline();
            let plan = engine.plan_tiles(&picture, &options, tile_runs.left_ms(), &whole.1);
            let mut summary = plan.summary();
            for (i, tile) in plan.tiles.iter().enumerate() {
                // The whole image's answer is in hand: a tile that would not finish in time
                // is left out (and counted) rather than failing the request.
                let skip = (plan.tiles.len() - i) as u32;
                if let Some(left_ms) = tile_runs.left_ms() {
                    let expected = engine
                        .tile_cost
                        .or(plan.cost)
                        .tile_ms(&engine.info.resize, (tile.width, tile.height));
                    if left_ms < expected * TILE_STOP_MARGIN {
                        summary.skipped = skip;
                        break;
                    }
                }
                let prepared = tile_runs.prepare(&picture, Region::Tile(*tile)).await?;
                let (pass, cost) = match tile_runs.run(prepared, &options).await {
                    Ok(done) => done,
                    Err(EngineError::DeadlineExceeded { .. }) => {
                        summary.skipped = skip;
                        break;
                    }
                    Err(e) => return Err(e),
                };
                engine.learn_tile_cost(tile, &cost);
                timings.add(&cost);
                passes.push(pass);
                summary.count += 1;
            }
            tiles = Some(summary);
        }
        Ok(engine.finish(passes, original, &options, timings, tiles))
    }
}

/// The output of a future that never waits, from its first poll; `None` if it did wait.
fn complete_now<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}
