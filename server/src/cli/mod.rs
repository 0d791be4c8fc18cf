//! `lookout detect PATH...`: detection over files and folders from the command line.
//!
//! The command line is one more door onto the server's [`Front`]: each file is read within
//! `--max-body-bytes` and the body budget and handed to [`Front::detect_with`] as an upload of
//! its bytes to `POST /v1/detect` would be, with the options gathered into the contract's one
//! [`wire::DetectParams`] (`--threshold`, `--max-detections`, `--tile`, `--tile-overlap`, and
//! `--default-model` as `model`). So the checks, the memory budgets, the model run and the
//! words of every refusal are the server's; only where the bytes come from (files) and where
//! the answers go (stdout, files) differ.
//!
//! Folders are walked (recursively, in name order) for image files: files with an image
//! extension, and files whose first bytes are an image Lookout decodes. Other files found in
//! folders are reported as skipped (they are not failures), and so is a file found in a folder
//! that turns out not to be an image; a file named on the command line that is not an image,
//! and an image that cannot be read or decoded, is reported (as the problem the server would
//! answer) and counts as failed: the others still run, and the exit status is 1 at the end.
//!
//! Images run with several in flight (`--jobs`), so reading and decoding the next images
//! overlaps the model running on the current ones; results come out in input order.
//!
//! - [`inputs`]: the files named and the folders walked.
//! - this module: running them through the front.
//! - [`door`]: the run's front, and one file through it.
//! - [`output`]: what is written, and where.
//! - [`progress`]: progress and problems on stderr.

mod door;
mod inputs;
mod output;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use futures_util::StreamExt;
use wire::{DetectOptions, DetectParams, DetectResponse};

use crate::config::DetectArgs;
use crate::front::request::Draft;
use crate::front::Door;
use inputs::collect;
use progress::Reporter;

/// Runs `lookout detect`.
pub fn run(args: DetectArgs) -> ExitCode {
    // Failures on our side are logged (their cause is not in the problem's words).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .try_init();
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
    /// The request's options, as every file sends them.
    params: DetectParams,
    /// The same, validated.
    options: DetectOptions,
}

/// One image's outcome.
struct Done {
    path: PathBuf,
    result: Result<DetectResponse, String>,
}

impl Run {
    fn new(args: DetectArgs) -> Result<Self, String> {
        if args.format.is_archive() && args.out.is_none() {
            return Err(format!(
                "--format {} writes several files: give --out DIR (unpacked there) or --out FILE.zip",
                args.format.export().map_or("json", wire::ExportFormat::as_str)
            ));
        }
        // The options in the API's names, read and checked as a request's are, in its words.
        let refused = |e: crate::error::ApiError| e.problem.to_string();
        let mut params = DetectParams {
            model: args.model.default_model().map(str::to_owned),
            ..DetectParams::default()
        };
        let given = &args.options;
        for (name, value) in [
            ("threshold", &given.threshold),
            ("max_detections", &given.max_detections),
            ("tile", &given.tile),
            ("tile_overlap", &given.tile_overlap),
        ] {
            if let Some(value) = value {
                params.set(name, value).map_err(|e| refused(e.into()))?;
            }
        }
        let options = Draft::of(params.clone())
            .options(Door::Cli)
            .map_err(refused)?;
        Ok(Self {
            args,
            params,
            options,
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
        let jobs = self.jobs();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        let front = {
            let _inside = runtime.enter();
            door::open(&self.args, jobs)?
        };
        reporter.begin(inputs.len());
        let done: Vec<Done> = runtime.block_on(async {
            let front = &front;
            let params = &self.params;
            let stream = futures_util::stream::iter(inputs.into_iter().map(|input| async move {
                let result = door::detect(front, &input.path, params).await;
                (input, result)
            }))
            .buffered(jobs);
            futures_util::pin_mut!(stream);
            let mut done = Vec::new();
            while let Some((input, result)) = stream.next().await {
                let skipped = result
                    .as_ref()
                    .is_err_and(|e| input.found && e.not_an_image);
                if let Err(e) = &result {
                    let skip = if skipped { "skipped, " } else { "" };
                    reporter.note(&format!("{}: {skip}{}", input.path.display(), e.message));
                }
                if result.is_err() && !skipped {
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
        self.write(&front, done)?;
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
}
