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

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::export::{ExportFormat, ExportImage};
use app::types::{BoxPx, DetectionOut};
use clap::ValueEnum;
use detector::{DetectOptions, DetectionResult, Engine, Limits};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pull::Progress;

use crate::config::DetectArgs;

/// What `lookout detect` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum CliFormat {
    /// Lookout's JSON: one object for a single file argument, else an array.
    #[default]
    Json,
    /// A COCO dataset JSON.
    Coco,
    /// YOLO label files, `classes.txt` and `data.yaml` (needs --out).
    Yolo,
    /// Pascal VOC XML files (needs --out).
    Voc,
    /// One CSV row per detection.
    Csv,
}

impl CliFormat {
    fn export(self) -> Option<ExportFormat> {
        match self {
            Self::Json => None,
            Self::Coco => Some(ExportFormat::Coco),
            Self::Yolo => Some(ExportFormat::Yolo),
            Self::Voc => Some(ExportFormat::Voc),
            Self::Csv => Some(ExportFormat::Csv),
        }
    }

    /// YOLO and VOC are several files: they go to a directory or a ZIP, never to stdout.
    fn is_archive(self) -> bool {
        matches!(self, Self::Yolo | Self::Voc)
    }
}

/// Extensions taken as images without looking inside.
const IMAGE_EXTENSIONS: [&str; 9] = [
    "jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff", "jfif",
];

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

/// One input, as found on the command line or in a folder.
struct Input {
    path: PathBuf,
    /// Found by walking a folder (else named on the command line).
    found: bool,
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

    fn write(&self, engine: &Engine, done: Vec<Done>) -> Result<(), String> {
        let single = self.args.images.len() == 1 && self.args.images[0].is_file();
        let Some(export_format) = self.args.format.export() else {
            let mut results: Vec<serde_json::Value> = done
                .into_iter()
                .filter_map(|d| {
                    let r = d.result.ok()?;
                    Some(serde_json::json!({
                        "file": d.path.display().to_string(),
                        "image": { "width": r.width, "height": r.height },
                        "detections": r.detections,
                        "timing_ms": { "inference": r.timings.inference_ms },
                    }))
                })
                .collect();
            let output = if single {
                match results.pop() {
                    Some(object) => object,
                    None => return Ok(()),
                }
            } else {
                serde_json::Value::Array(results)
            };
            let mut text = serde_json::to_string_pretty(&output).map_err(|e| e.to_string())?;
            text.push('\n');
            return self.emit("lookout-detections.json", text.as_bytes());
        };
        let outs: Vec<(String, u32, u32, Vec<DetectionOut>)> = done
            .into_iter()
            .filter_map(|d| {
                let r = d.result.ok()?;
                Some((
                    d.path.display().to_string(),
                    r.width,
                    r.height,
                    r.detections.into_iter().map(detection_out).collect(),
                ))
            })
            .collect();
        let images: Vec<ExportImage<'_>> = outs
            .iter()
            .map(|(name, width, height, detections)| ExportImage {
                file_name: name,
                width: *width,
                height: *height,
                detections,
            })
            .collect();
        let export = app::export::export(
            export_format,
            &images,
            &engine.info().labels,
            self.options.threshold,
        )
        .map_err(|e| e.to_string())?;
        self.emit(export.file_name, &export.bytes)
    }

    /// Writes an output to stdout, to the --out file, into the --out directory (named
    /// `default_name`), or, for YOLO/VOC, unpacks the ZIP into the --out directory.
    fn emit(&self, default_name: &str, bytes: &[u8]) -> Result<(), String> {
        let Some(out) = &self.args.out else {
            let mut stdout = io::stdout().lock();
            return stdout
                .write_all(bytes)
                .and_then(|()| stdout.flush())
                .map_err(|e| format!("cannot write to stdout: {e}"));
        };
        let is_zip = out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        if self.args.format.is_archive() && !is_zip {
            return unpack(bytes, out);
        }
        let target = if out.is_dir() {
            out.join(default_name)
        } else {
            out.clone()
        };
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, bytes)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))
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

fn detection_out(d: detector::Detection) -> DetectionOut {
    DetectionOut {
        label: d.label,
        class_id: d.class_id,
        score: d.score,
        bbox: BoxPx {
            x1: d.bbox.x1,
            y1: d.bbox.y1,
            x2: d.bbox.x2,
            y2: d.bbox.y2,
        },
    }
}

/// Adds `path` (a file, or a folder walked for images) to `inputs`.
fn collect(path: &Path, inputs: &mut Vec<Input>, reporter: &Reporter) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_dir() {
        inputs.push(Input {
            path: path.to_path_buf(),
            found: false,
        });
        return Ok(());
    }
    walk(path, inputs, reporter);
    Ok(())
}

/// Walks a folder in name order. Unreadable entries are reported; links to folders are not
/// followed (no cycles).
fn walk(dir: &Path, inputs: &mut Vec<Input>, reporter: &Reporter) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            reporter.note(&format!(
                "{}: skipped, cannot read the folder: {e}",
                dir.display()
            ));
            return;
        }
    };
    let mut paths: Vec<(PathBuf, std::fs::FileType)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.path(), e.file_type().ok()?)))
        .collect();
    paths.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in paths {
        if kind.is_dir() {
            walk(&path, inputs, reporter);
        } else if (kind.is_file() || (kind.is_symlink() && path.is_file()))
            && looks_like_image(&path)
        {
            inputs.push(Input { path, found: true });
        } else if kind.is_file() {
            reporter.note(&format!("{}: skipped, not an image", path.display()));
        }
    }
}

/// An image extension, or (for other names) first bytes that are an image.
fn looks_like_image(path: &Path) -> bool {
    let by_name = path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        IMAGE_EXTENSIONS
            .iter()
            .any(|known| known.eq_ignore_ascii_case(e))
    });
    by_name || sniffs_as_image(path)
}

fn sniffs_as_image(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 64];
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    detector::sniff_format(&head[..n]).is_ok()
}

/// Unpacks an export ZIP (YOLO, VOC) into `dir`. The entry names are the export's own safe
/// relative paths; any other kind is refused.
fn unpack(bytes: &[u8], dir: &Path) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| e.to_string())?;
        let Some(relative) = entry.enclosed_name() else {
            let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
            return Err(format!("the export has an unsafe entry name {name:?}"));
        };
        let target = dir.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let mut file = std::fs::File::create(&target)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        io::copy(&mut entry, &mut file)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    Ok(())
}

/// Progress on stderr: a bar on a terminal, else a line every few seconds and at the end.
struct Reporter {
    mode: Progress,
    bar: Option<ProgressBar>,
    total: usize,
    position: std::cell::Cell<usize>,
    started: Instant,
    last_line: std::cell::Cell<Instant>,
}

const LINE_EVERY: Duration = Duration::from_secs(5);

impl Reporter {
    fn new(mode: Progress) -> Self {
        let mode = match mode {
            Progress::Auto if io::stderr().is_terminal() => Progress::Bar,
            Progress::Auto => Progress::Lines,
            other => other,
        };
        Self {
            mode,
            bar: None,
            total: 0,
            position: std::cell::Cell::new(0),
            started: Instant::now(),
            last_line: std::cell::Cell::new(Instant::now()),
        }
    }

    /// A problem with one input: always shown (even with `--progress quiet`).
    fn note(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("lookout: {message}")),
            None => eprintln!("lookout: {message}"),
        }
    }

    fn begin(&mut self, total: usize) {
        self.total = total;
        self.started = Instant::now();
        if self.mode == Progress::Bar && total > 1 {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "detecting [{bar:30}] {pos}/{len} images {per_sec} eta {eta} {msg}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            self.bar = Some(bar);
        }
    }

    fn advance(&self, failed: usize) {
        let position = self.position.get() + 1;
        self.position.set(position);
        match (&self.bar, self.mode) {
            (Some(bar), _) => {
                bar.set_position(position as u64);
                if failed > 0 {
                    bar.set_message(format!("({failed} failed)"));
                }
            }
            (None, Progress::Lines) if self.last_line.get().elapsed() >= LINE_EVERY => {
                self.last_line.set(Instant::now());
                eprintln!(
                    "lookout: {position}/{} images, {failed} failed, {:.1} images/s",
                    self.total,
                    position as f64 / self.started.elapsed().as_secs_f64().max(0.001)
                );
            }
            _ => {}
        }
    }

    fn finish(&self, succeeded: usize, failed: usize) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.mode != Progress::Quiet && self.total > 1 {
            let secs = self.started.elapsed().as_secs_f64();
            eprintln!(
                "lookout: {succeeded} images detected, {failed} failed, in {secs:.1} s ({:.1} images/s)",
                succeeded as f64 / secs.max(0.001)
            );
        }
    }
}
