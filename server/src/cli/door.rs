//! The command line as a door onto the [`Front`]: the run's front (the model it runs, the
//! server's limits from the same flags), and each file read within `--max-body-bytes` and
//! the body budget, then handed to the front as an upload of its bytes would be.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use detector::{BudgetError, Reservation};
use tokio::io::AsyncReadExt;
use wire::{DetectParams, DetectResponse};

use crate::config::DetectArgs;
use crate::error::{ApiError, Kind};
use crate::fetch::{AddressPolicy, FetchConfig, Fetcher};
use crate::front::request::Draft;
use crate::front::{Admit, Door, Front, FrontLimits, OutputFormat};
use crate::models::Models;

/// No deadline on the command line: a day is as good as none.
const NO_DEADLINE: Duration = Duration::from_secs(24 * 3600);

/// The front of a `lookout detect` run, with the model it runs (`--default-model`, else the
/// first, as the server chooses its default) loaded with every session, without warming up.
/// `jobs`: the images in flight at once, which may all wait for a session.
pub(super) fn open(args: &DetectArgs, jobs: usize) -> Result<Front, String> {
    let specs = args.model.specs()?;
    let wanted = args.model.default_model();
    let spec = specs
        .into_iter()
        .find(|s| wanted.is_none_or(|w| w == s.name))
        .ok_or("no model to run")?;
    let mut config = detector::EngineConfig::new(&spec.path);
    config.layout = args.model.layout_for(&spec.name);
    config.sessions = usize::from(args.model.sessions);
    config.intra_threads = args.model.threads_per_session(1);
    config.queue_depth = jobs;
    config.deadline = NO_DEADLINE;
    config.tile_deadline = NO_DEADLINE;
    config.ort_library = args.model.ort_library.clone();
    config.warm_up = false;
    let engine = detector::Engine::load(&config).map_err(|e| e.to_string())?;
    let models = Models::new(vec![(spec.name, config)], 0);
    if let Some(slot) = models.default_slot() {
        slot.set_engine(Arc::new(engine));
    }
    let max_body_bytes = args.limits.max_body_bytes;
    let limits = FrontLimits {
        max_body_bytes,
        max_batch_body_bytes: max_body_bytes,
        body_timeout: NO_DEADLINE,
        body_budget_bytes: args.limits.body_budget_bytes(),
        image_budget_bytes: args.limits.image_budget_bytes(),
        decode: args.model.image_limits(),
        max_batch_images: 1,
        max_streams: 1,
        stream_idle: NO_DEADLINE,
    };
    // The command line names files, never URLs: this fetcher is never used.
    let fetcher = Fetcher::new(FetchConfig {
        policy: AddressPolicy::default(),
        timeout: Duration::from_secs(10),
        max_bytes: max_body_bytes,
        max_redirects: 0,
    })
    .map_err(|e| format!("cannot set up the front: {e}"))?;
    Ok(Front::new(models, limits, fetcher, None))
}

/// Why a file gave no result, in the words the server would answer its upload with.
pub(super) struct Failure {
    pub(super) message: String,
    /// It is not an image at all (a file found in a folder is then skipped, not failed).
    pub(super) not_an_image: bool,
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self {
            message: error.problem.to_string(),
            not_an_image: matches!(
                error.kind,
                Kind::NotAnImage | Kind::NoImage | Kind::MissingImage
            ),
        }
    }
}

fn cannot_read(error: std::io::Error) -> Failure {
    Failure {
        message: format!("cannot read it: {error}"),
        not_an_image: false,
    }
}

/// Runs one file through the front: read within the limits, then the same request an
/// upload of its bytes with `params` would make to `POST /v1/detect`.
pub(super) async fn detect(
    front: &Front,
    path: &Path,
    params: &DetectParams,
) -> Result<DetectResponse, Failure> {
    let started = Instant::now();
    let (image, reservation) = read(front, path).await?;
    let request = Draft {
        image: Some(image),
        params: params.clone(),
        name: Some(path.display().to_string()),
        ..Draft::default()
    }
    .finish(Door::Cli, OutputFormat::Json, Some(reservation))?;
    // Only the answer is kept: the picture and its memory go back at once.
    let detected = front.detect_with(request, started, Admit::Wait).await?;
    Ok(detected.response)
}

/// The file's bytes, at most `--max-body-bytes` of them (a larger file is refused as the
/// server refuses a larger body, before it is read), held within the body budget.
async fn read(front: &Front, path: &Path) -> Result<(Bytes, Reservation), Failure> {
    let limit = front.limits().max_body_bytes;
    let mut file = tokio::fs::File::open(path).await.map_err(cannot_read)?;
    let size = file.metadata().await.map_err(cannot_read)?.len();
    if size > limit as u64 {
        return Err(ApiError::body_too_large(limit).into());
    }
    let reserved = reserve(front, size).await?;
    // A file may grow while it is read: the cap holds whatever its size said.
    let mut bytes = Vec::with_capacity(size as usize);
    (&mut file)
        .take((limit as u64).saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(cannot_read)?;
    if bytes.len() > limit {
        return Err(ApiError::body_too_large(limit).into());
    }
    let reservation = if bytes.len() as u64 > reserved.bytes() {
        drop(reserved);
        reserve(front, bytes.len() as u64).await?
    } else {
        reserved
    };
    Ok((Bytes::from(bytes), reservation))
}

/// Memory for a file's bytes from the front's body budget, waiting while other files hold it.
async fn reserve(front: &Front, bytes: u64) -> Result<Reservation, Failure> {
    let budget = front.body_budget();
    budget
        .reserve(bytes, Instant::now() + NO_DEADLINE)
        .await
        .map_err(|e| match e {
            BudgetError::TooLarge { .. } => ApiError::new(
                Kind::BodyTooLarge,
                format!(
                    "the file is larger than the {} of --body-budget-mib",
                    app::format::bytes(budget.total_bytes())
                ),
            )
            .into(),
            BudgetError::Exhausted => ApiError::from(e).into(),
        })
}
