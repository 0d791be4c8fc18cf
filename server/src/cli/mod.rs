//! `lookout detect PATH...`: detection over files and folders from the command line.
//!
//! Folders are walked (recursively, in name order) for image files: files with an image
//! extension, and files whose first bytes are an image Lookout decodes. Other files found in
//! folders are reported as skipped (they are not failures); a file named on the command line
//! that is not an image, and an image that cannot be read or decoded, is reported and counts
//! as failed: the others still run, and the exit status is 1 at the end.
//!
//! Images run through the engine's session pool with several in flight (`--jobs`), so reading
//! and decoding the next images overlaps the model running on the current ones; results come
//! out in input order. Options go through [`detector::DetectOptions::new`], decoding through
//! the same limits as the server (`--max-image-side`, `--max-megapixels`, `--max-decode-mib`).
//!
//! - [`inputs`]: the files named and the folders walked.
//! - this module: running them through the engine.
//! - [`output`]: what is written, and where.
//! - [`progress`]: progress and problems on stderr.

mod inputs;
mod output;
mod progress;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use app::export::ExportFormat;
use detector::{DetectOptions, DetectionResult, Engine, Limits};
use futures_util::StreamExt;

use crate::config::DetectArgs;
use inputs::collect;
use progress::Reporter;

/// Runs `lookout detect`.
pub fn run(args: DetectArgs) -> ExitCode {
    match Run::new(args).and_then(Run::go) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("lookout: {message}");
            ExitCode::FAILURE
        }
    }
}

struct Run {
    args: DetectArgs,
    options: DetectOptions,
    limits: Limits,
}

/// One image's outcome.
struct Done {
    path: PathBuf,
    result: Result<DetectionResult, String>,
}

impl Run {
    fn new(args: DetectArgs) -> Result<Self, String> {
        if args.format.is_archive() && args.out.is_none() {
            return Err(format!(
                "--format {} writes several files: give --out DIR (unpacked there) or --out FILE.zip",
                args.format
                    .export()
                    .map_or("json", ExportFormat::as_str)
            ));
        }
        let options =
            DetectOptions::new(args.threshold, args.max_detections).map_err(|e| e.to_string())?;
        let limits = args.model.image_limits();
        Ok(Self {
            args,
            options,
            limits,
        })
    }

    fn go(self) -> Result<ExitCode, String> {
        let mut reporter = Reporter::new(self.args.progress);
        let mut failed = 0usize;
        let mut inputs = Vec::new();
        for path in &self.args.images {
            if let Err(e) = collect(path, &mut inputs, &reporter) {
                reporter.note(&format!("{}: {e}", path.display()));
                failed += 1;
            }
        }
        let engine = Arc::new(self.load_engine()?);
        let jobs = self.jobs();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        reporter.begin(inputs.len());
        let done: Vec<Done> = runtime.block_on(async {
            let options = self.options;
            let limits = self.limits;
            let stream = futures_util::stream::iter(inputs.into_iter().map(|input| {
                let engine = Arc::clone(&engine);
                async move {
                    let result = detect_file(&engine, &input.path, options, limits).await;
                    (input, result)
                }
            }))
            .buffered(jobs);
            futures_util::pin_mut!(stream);
            let mut done = Vec::new();
            while let Some((input, result)) = stream.next().await {
                let ok = result.is_ok();
                if let Err(e) = &result {
                    if input.found && e.skip {
                        reporter.note(&format!("{}: skipped, {}", input.path.display(), e.message));
                    } else {
                        reporter.note(&format!("{}: {}", input.path.display(), e.message));
                    }
                }
                let skipped = result.as_ref().is_err_and(|e| input.found && e.skip);
                if !ok && !skipped {
                    failed += 1;
                }
                reporter.advance(failed);
                if !skipped {
                    done.push(Done {
                        path: input.path,
                        result: result.map_err(|e| e.message),
                    });
                }
            }
            done
        });
        let succeeded = done.iter().filter(|d| d.result.is_ok()).count();
        reporter.finish(succeeded, failed);
        self.write(&engine, done)?;
        Ok(if failed > 0 {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    }

    /// Images in flight: enough to keep every session busy while the next ones are read
    /// and decoded.
    fn jobs(&self) -> usize {
        self.args
            .jobs
            .unwrap_or(usize::from(self.args.model.sessions) + 2)
            .max(1)
    }

    fn load_engine(&self) -> Result<Engine, String> {
        let specs = self.args.model.specs()?;
        let wanted = self.args.model.default_model.as_deref();
        let spec = specs
            .into_iter()
            .find(|s| wanted.is_none_or(|w| w == s.name))
            .ok_or("no model to run")?;
        let mut config = detector::EngineConfig::new(&spec.path);
        config.layout = self.args.model.layout_for(&spec.name);
        config.sessions = usize::from(self.args.model.sessions);
        config.intra_threads = self.args.model.threads_per_session(1);
        config.queue_depth = self.jobs();
        // No deadline on the command line: a day is as good as none.
        config.deadline = Duration::from_secs(24 * 3600);
        config.ort_library = self.args.model.ort_library.clone();
        config.warm_up = false;
        Engine::load(&config).map_err(|e| e.to_string())
    }
}

/// Why an image did not give a result; `skip`: it is not an image at all (a file found in
/// a folder is then skipped rather than failed).
struct Failure {
    message: String,
    skip: bool,
}

async fn detect_file(
    engine: &Arc<Engine>,
    path: &Path,
    options: DetectOptions,
    limits: Limits,
) -> Result<DetectionResult, Failure> {
    let fail = |message: String| Failure {
        message,
        skip: false,
    };
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| fail(format!("cannot read it: {e}")))?;
    if let Err(e) = detector::sniff_format(&bytes) {
        let skip = matches!(
            e,
            detector::ImageError::NotAnImage | detector::ImageError::Empty
        );
        return Err(Failure {
            message: e.to_string(),
            skip,
        });
    }
    let model = Arc::clone(engine);
    let image = tokio::task::spawn_blocking(move || {
        // The header first: an image the model cannot take is refused before decoding.
        let probe = detector::probe(&bytes, &limits).map_err(|e| e.to_string())?;
        model
            .check_size(probe.width, probe.height)
            .map_err(|e| e.to_string())?;
        detector::decode(&bytes, &limits).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| fail(format!("the decoding thread failed: {e}")))?
    .map_err(fail)?;
    let admission = engine.admit().map_err(|e| fail(e.to_string()))?;
    engine
        .detect(admission, image, options)
        .await
        .map_err(|e| fail(e.to_string()))
}
