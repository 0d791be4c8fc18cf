//! Every setting, as a flag and as a `LOOKOUT_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "lookout",
    version,
    about = "Object detection on the web: a page to upload images and see every object boxed, and an HTTP API",
    long_about = None
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Detect objects in image files and print the detections as JSON.
    Detect(DetectArgs),
    /// Download a known model (or any file pinned by sha256 and size) into models/, verified.
    PullModel(pull::PullArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// One `--model` value: `PATH` or `NAME=PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    pub name: String,
    pub path: PathBuf,
}

impl std::str::FromStr for ModelSpec {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let (name, path) = match value.split_once('=') {
            Some((name, path)) if !name.contains('/') && !name.is_empty() => {
                (Some(name.trim().to_owned()), PathBuf::from(path.trim()))
            }
            _ => (None, PathBuf::from(value)),
        };
        if path.as_os_str().is_empty() {
            return Err("expected PATH or NAME=PATH".to_owned());
        }
        let name = match name {
            Some(name) => name,
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .ok_or_else(|| format!("cannot name a model after {}", path.display()))?,
        };
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(format!(
                "model name `{name}` may only contain letters, digits, `-`, `_` and `.`"
            ));
        }
        Ok(ModelSpec { name, path })
    }
}

/// One `--layout` value: `LAYOUT` (every model) or `NAME=LAYOUT` (one model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutSpec {
    /// `None`: every model without a layout of its own.
    pub model: Option<String>,
    pub layout: detector::Layout,
}

impl std::str::FromStr for LayoutSpec {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        let (model, layout) = match value.trim().split_once('=') {
            Some((name, layout)) => (Some(name.trim().to_owned()), layout),
            None => (None, value),
        };
        Ok(LayoutSpec {
            model,
            layout: layout.trim().parse()?,
        })
    }
}

/// The model(s) and how they run; shared by `serve` and `detect`.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// An ONNX detection model, as PATH or NAME=PATH; repeat (or comma-separate) to serve
    /// several. The first is the default unless --default-model says otherwise.
    /// [default: models/shapes.onnx]
    #[arg(long = "model", env = "LOOKOUT_MODEL", value_delimiter = ',')]
    pub models: Vec<ModelSpec>,
    /// Also serve every `.onnx` file in this directory (named after the file).
    #[arg(long, env = "LOOKOUT_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
    /// The model used when a request names none (default, or empty: the first). `lookout
    /// detect` runs this one.
    #[arg(long, env = "LOOKOUT_DEFAULT_MODEL")]
    pub default_model: Option<String>,
    /// A model's input/output convention, `torchvision` or `zoo`, when its input name does
    /// not say (`images`: torchvision, `image`: zoo): `NAME=LAYOUT` for one model (repeat or
    /// comma-separate), a bare `LAYOUT` for every model not named. Default: from the input name.
    #[arg(long = "layout", env = "LOOKOUT_LAYOUT", value_delimiter = ',')]
    pub layouts: Vec<LayoutSpec>,
    /// The onnxruntime shared library (default: ORT_DYLIB_PATH, else the copy `make` installs).
    #[arg(long, env = "LOOKOUT_ORT_LIBRARY")]
    pub ort_library: Option<PathBuf>,
    /// Model sessions per model, i.e. inferences that can run at the same time. Two by
    /// default: a second run fills the cores while the first is in its serial stretches
    /// (bench/RESULTS.md, "sessions x threads").
    #[arg(long, env = "LOOKOUT_SESSIONS", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub sessions: u16,
    /// Threads per inference; 0 = the CPUs available to this process, shared out over the
    /// models (each session of a model may use all of that model's share).
    #[arg(long, env = "LOOKOUT_THREADS", default_value_t = 0)]
    pub threads: usize,
    /// Largest image width or height accepted, in pixels.
    #[arg(long, env = "LOOKOUT_MAX_IMAGE_SIDE", default_value_t = 16_384)]
    pub max_image_side: u32,
    /// Largest image accepted, in megapixels.
    #[arg(long, env = "LOOKOUT_MAX_MEGAPIXELS", default_value_t = 40.0)]
    pub max_megapixels: f64,
    /// Most memory one image's decoding may take, in MiB.
    #[arg(long, env = "LOOKOUT_MAX_DECODE_MIB", default_value_t = 512)]
    pub max_decode_mib: u64,
}

/// Where the bundled demo model lives, relative to the working directory.
pub const DEFAULT_MODEL: &str = "models/shapes.onnx";

impl ModelArgs {
    pub fn image_limits(&self) -> detector::Limits {
        detector::Limits {
            max_side: self.max_image_side,
            max_pixels: (self.max_megapixels * 1e6) as u64,
            max_alloc: self.max_decode_mib * 1024 * 1024,
        }
    }

    /// Every model to serve, in order: `--model` values, then the directory's files (sorted),
    /// else the demo model. Names must be unique.
    pub fn specs(&self) -> Result<Vec<ModelSpec>, String> {
        let mut specs = self.models.clone();
        if let Some(dir) = &self.models_dir {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| format!("cannot read --models-dir {}: {e}", dir.display()))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .is_some_and(|x| x.eq_ignore_ascii_case("onnx"))
                })
                .collect();
            found.sort();
            for path in found {
                specs.push(path.display().to_string().parse()?);
            }
            if specs.is_empty() {
                return Err(format!("--models-dir {} has no .onnx files", dir.display()));
            }
        }
        if specs.is_empty() {
            specs.push(DEFAULT_MODEL.parse()?);
        }
        let mut seen = std::collections::HashSet::new();
        for spec in &specs {
            if !seen.insert(spec.name.as_str()) {
                return Err(format!(
                    "two models are called `{}`; name them with --model NAME=PATH",
                    spec.name
                ));
            }
        }
        for named in self.layouts.iter().filter_map(|l| l.model.as_deref()) {
            if !specs.iter().any(|s| s.name == named) {
                return Err(format!(
                    "--layout names `{named}`, which is not one of the models ({})",
                    specs
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        if let Some(default) = self.default_model() {
            if !specs.iter().any(|s| s.name == default) {
                return Err(format!(
                    "--default-model `{default}` is not one of the models ({})",
                    specs
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(specs)
    }

    /// The `--default-model` given: `None` when absent or empty (the first model), as an empty
    /// `model` in a request means the default.
    pub fn default_model(&self) -> Option<&str> {
        self.default_model
            .as_deref()
            .filter(|name| !name.is_empty())
    }

    /// The layout `--layout` forces on the model called `name`: its own `NAME=LAYOUT`, else
    /// a bare `LAYOUT`; `None` leaves it to the model's input name.
    pub fn layout_for(&self, name: &str) -> Option<detector::Layout> {
        let own = self
            .layouts
            .iter()
            .rev()
            .find(|l| l.model.as_deref() == Some(name));
        let every = self.layouts.iter().rev().find(|l| l.model.is_none());
        own.or(every).map(|l| l.layout)
    }

    /// Threads per session: as given, or the CPUs shared out over the models. A model's
    /// sessions share its share: one run alone uses all of it (the latency of one client is
    /// that of a single session), and runs that overlap take turns on it, with onnxruntime's
    /// spinning switched off so waiting threads do not burn a core. Models never take each
    /// other's cores, so two models do not oversubscribe the machine more than one does.
    pub fn threads_per_session(&self, models: usize) -> usize {
        if self.threads > 0 {
            return self.threads;
        }
        (detector::available_cpus() / models.max(1)).max(1)
    }
}

/// How large one image may be before it is read, and the memory images may hold at once;
/// shared by `serve` and `detect` (the decode limits are [`ModelArgs`]').
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Largest request body, in bytes, on every route and in every encoding (raw, JSON with
    /// base64, multipart, forms); `lookout detect`: the largest image file.
    #[arg(long, env = "LOOKOUT_MAX_BODY_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Memory for request bodies (`lookout detect`: image files) held at once, all together,
    /// in MiB (past it the server answers 503; `lookout detect` waits).
    #[arg(long, env = "LOOKOUT_BODY_BUDGET_MIB", default_value_t = 256)]
    pub body_budget_mib: u64,
    /// Memory for decoding images and building model inputs at once, all requests together,
    /// in MiB (requests wait for their share; one that alone needs more is refused with 413).
    #[arg(long, env = "LOOKOUT_IMAGE_BUDGET_MIB", default_value_t = 1024)]
    pub image_budget_mib: u64,
}

impl LimitArgs {
    const MIB: u64 = 1024 * 1024;

    pub fn body_budget_bytes(&self) -> u64 {
        self.body_budget_mib.saturating_mul(Self::MIB)
    }

    pub fn image_budget_bytes(&self) -> u64 {
        self.image_budget_mib.saturating_mul(Self::MIB)
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LOOKOUT_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Not a flag: how long the engine must be idle before it builds its other sessions
    /// (tests that start many servers set it to zero).
    #[arg(skip = detector::FILL_QUIET)]
    pub fill_quiet: std::time::Duration,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Requests that may wait for a free session; past that the server answers 503 at once.
    #[arg(long, env = "LOOKOUT_QUEUE_DEPTH", default_value_t = 16)]
    pub queue_depth: usize,
    /// Longest a detection may take, queue wait included, in seconds (then 504).
    #[arg(long, env = "LOOKOUT_REQUEST_DEADLINE_SECS", default_value_t = 30.0)]
    pub request_deadline_secs: f64,
    /// Longest a `tile=auto` request may take, in seconds: its whole-image run keeps
    /// --request-deadline-secs, and its tiles are planned to fit in what is left of this (a
    /// slow model gets fewer, larger tiles; the answer's `tiles` says what ran).
    #[arg(long, env = "LOOKOUT_TILE_DEADLINE_SECS", default_value_t = 60.0)]
    pub tile_deadline_secs: f64,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Largest body of a `POST /v1/detect/batch`, in bytes: a batch of phone photos is
    /// larger than one (16 photos of 3-8 MB). Bodies held at once still share
    /// --body-budget-mib.
    #[arg(long, env = "LOOKOUT_MAX_BATCH_BODY_BYTES", default_value_t = 128 * 1024 * 1024)]
    pub max_batch_body_bytes: usize,
    /// Most images in one `POST /v1/detect/batch` (more: 413). The batch's body is bounded
    /// by --max-batch-body-bytes.
    #[arg(long, env = "LOOKOUT_MAX_BATCH_IMAGES", default_value_t = 64, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_batch_images: usize,
    /// WebSocket streams (`GET /v1/detect/stream`) open at once; one more is refused with
    /// 503 before it is upgraded.
    #[arg(long, env = "LOOKOUT_MAX_STREAMS", default_value_t = 16, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_streams: usize,
    /// A stream that sends no message (frame or text; pings do not count) for this long is
    /// closed (1000), in seconds.
    #[arg(long, env = "LOOKOUT_STREAM_IDLE_SECS", default_value_t = 60.0)]
    pub stream_idle_secs: f64,
    /// Longest a request body may take to arrive, in seconds (then 408).
    #[arg(long, env = "LOOKOUT_BODY_TIMEOUT_SECS", default_value_t = 60.0)]
    pub body_timeout_secs: f64,
    /// Longest a connection may take to send a request's headers, counted from when it opens
    /// or finishes its previous response; this is also how long an idle keep-alive
    /// connection is kept, in seconds.
    #[arg(long, env = "LOOKOUT_HEADER_TIMEOUT_SECS", default_value_t = 10.0)]
    pub header_timeout_secs: f64,
    /// Open connections served at once; more are answered 503 and closed.
    #[arg(long, env = "LOOKOUT_MAX_CONNECTIONS", default_value_t = 512)]
    pub max_connections: usize,
    /// Host names the server answers to besides loopback ones (repeat or comma-separate;
    /// `.example.com` allows subdomains, `*` any). When bound to a loopback address, other
    /// names are refused, so web pages cannot reach the server through DNS rebinding.
    #[arg(
        long = "allowed-host",
        env = "LOOKOUT_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Longest an image URL fetch may take, in seconds.
    #[arg(long, env = "LOOKOUT_URL_TIMEOUT_SECS", default_value_t = 10.0)]
    pub url_timeout_secs: f64,
    /// Largest image fetched from a URL, in bytes.
    #[arg(long, env = "LOOKOUT_URL_MAX_BYTES", default_value_t = 20 * 1024 * 1024)]
    pub url_max_bytes: usize,
    /// Redirects followed when fetching a URL.
    #[arg(long, env = "LOOKOUT_URL_MAX_REDIRECTS", default_value_t = 3)]
    pub url_max_redirects: usize,
    /// Let URL fetches reach private, loopback and link-local addresses (trusted networks, tests).
    #[arg(long, env = "LOOKOUT_ALLOW_PRIVATE_URLS")]
    pub allow_private_urls: bool,
    /// Networks URL fetches may reach even though they are not public (repeat or comma-separate), e.g. 10.0.0.0/8.
    #[arg(
        long = "allow-cidr",
        env = "LOOKOUT_ALLOW_CIDRS",
        value_delimiter = ','
    )]
    pub allow_cidrs: Vec<ipnet::IpNet>,
    /// Require this key on every route that runs a model or fetches a URL: /predict, /v1/*,
    /// the page's detection calls and its form (`Authorization: Bearer <key>`, or an `api_key`
    /// form field). Health, readiness, metrics, docs and static files stay open.
    #[arg(long, env = "LOOKOUT_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// The key of the model repository (Open Inference Protocol: `POST /v2/repository/...`
    /// and the gRPC Repository calls), which loads, reloads and unloads models while serving
    /// (`Authorization: Bearer <admin key>`). Without it those calls are refused (403).
    #[arg(long, env = "LOOKOUT_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Also serve the Open Inference Protocol over gRPC (`inference.GRPCInferenceService`)
    /// on this address, e.g. 0.0.0.0:8001 (Triton's port); off unless given.
    #[arg(long, env = "LOOKOUT_GRPC_ADDR")]
    pub grpc_addr: Option<SocketAddr>,
    #[command(flatten)]
    pub watch: crate::watch::WatchArgs,
    /// Log format.
    #[arg(long, env = "LOOKOUT_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish, in seconds.
    #[arg(long, env = "LOOKOUT_SHUTDOWN_GRACE_SECS", default_value_t = 30.0)]
    pub shutdown_grace_secs: f64,
}

impl ServeArgs {
    pub fn tile_deadline(&self) -> Duration {
        secs(self.tile_deadline_secs)
    }
    pub fn request_deadline(&self) -> Duration {
        secs(self.request_deadline_secs)
    }
    pub fn url_timeout(&self) -> Duration {
        secs(self.url_timeout_secs)
    }
    pub fn body_timeout(&self) -> Duration {
        secs(self.body_timeout_secs)
    }
    pub fn header_timeout(&self) -> Duration {
        secs(self.header_timeout_secs)
    }
    pub fn stream_idle(&self) -> Duration {
        secs(self.stream_idle_secs)
    }
    pub fn shutdown_grace(&self) -> Duration {
        secs(self.shutdown_grace_secs)
    }
}

fn secs(value: f64) -> Duration {
    Duration::try_from_secs_f64(value.max(0.0)).unwrap_or(Duration::MAX)
}

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Folders are searched recursively for images (by extension, else by content); \
other files found in them are reported and skipped. A file that cannot be read or decoded is \
reported (in the words the HTTP API would answer it with), the others still run, and the exit \
status is 1. Each file goes through the same checks as an upload to the server: \
--max-body-bytes, the decode limits and the memory budgets."
)]
pub struct DetectArgs {
    /// Image files, and folders to search for images.
    #[arg(required = true, value_name = "PATH")]
    pub images: Vec<PathBuf>,
    /// Output: json (Lookout's own: an object for one file, else an array), coco, csv, or
    /// yolo / voc (several files: need --out).
    #[arg(long, default_value = "json", value_parser = CliFormat::parse)]
    pub format: CliFormat,
    /// Where to write: a file (json, coco, csv; stdout when absent), a directory (json,
    /// coco, csv: a file named after the format inside it; yolo, voc: the files unpacked into
    /// it, created if missing), or a FILE.zip (yolo, voc: the archive as it is).
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub out: Option<PathBuf>,
    /// Images in flight at once, reading and decoding while the model runs (default:
    /// --sessions + 2).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub jobs: Option<usize>,
    /// Progress on stderr: a bar when stderr is a terminal (auto), plain lines, or nothing
    /// but problems.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: pull::Progress,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// The request's options, as the API's `threshold`, `max_detections`, `tile` and
    /// `tile_overlap` (checked by the same rules, in the same words); the model is
    /// --default-model.
    #[command(flatten)]
    pub options: DetectOptionArgs,
}

/// `lookout detect`'s detection options: the API's, as text, so that they are read and
/// checked by the contract's one validator ([`wire::DetectParams`]) in the API's words.
#[derive(Debug, Clone, Default, Args)]
pub struct DetectOptionArgs {
    /// Keep detections scoring at least this (0..1). [default: 0.5]
    #[arg(long, value_name = "SCORE", allow_negative_numbers = true)]
    pub threshold: Option<String>,
    /// Keep at most this many detections per image, best first (1..1000). [default: 100]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub max_detections: Option<String>,
    /// `auto`: also look at a large image tile by tile, to find small objects (one model
    /// run per tile); `off`: the whole image once. [default: off]
    #[arg(long, value_name = "auto|off")]
    pub tile: Option<String>,
    /// How much neighbouring tiles overlap, as a fraction of a tile (0..0.5). [default: 0.2]
    #[arg(long, value_name = "FRACTION", allow_negative_numbers = true)]
    pub tile_overlap: Option<String>,
}

/// What `lookout detect` writes: Lookout's JSON (`None`) or one of the contract's dataset
/// exports, spelled as the API's `format` spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CliFormat(pub Option<wire::ExportFormat>);

impl CliFormat {
    /// Reads a `--format` value by the API's `format` rules; the formats that draw on one
    /// image (png, jpeg, zip) are the server's only.
    pub fn parse(text: &str) -> Result<Self, String> {
        let format: wire::OutputFormat =
            text.parse().map_err(|e: wire::ParamError| e.to_string())?;
        match (format, format.export()) {
            (wire::OutputFormat::Json, _) => Ok(Self(None)),
            (_, Some(export)) => Ok(Self(Some(export))),
            (_, None) => Err(format!(
                "`lookout detect` writes json, coco, yolo, voc or csv; `{}` draws on the images, which only the server does",
                text.trim()
            )),
        }
    }

    /// The dataset export this format is (`None`: Lookout's own JSON).
    pub fn export(self) -> Option<wire::ExportFormat> {
        self.0
    }

    /// YOLO and VOC are several files: they go to a directory or a ZIP, never to stdout.
    pub fn is_archive(self) -> bool {
        self.0.is_some_and(wire::ExportFormat::is_archive)
    }
}
