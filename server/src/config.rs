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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The model and how it runs; shared by `serve` and `detect`.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// The ONNX detection model.
    #[arg(long, env = "LOOKOUT_MODEL", default_value = "models/shapes.onnx")]
    pub model: PathBuf,
    /// The model's input/output convention: `torchvision` or `zoo`. Default: from the input name.
    #[arg(long, env = "LOOKOUT_LAYOUT")]
    pub layout: Option<detector::Layout>,
    /// The onnxruntime shared library (default: ORT_DYLIB_PATH, else the copy `make` installs).
    #[arg(long, env = "LOOKOUT_ORT_LIBRARY")]
    pub ort_library: Option<PathBuf>,
    /// Model sessions, i.e. inferences that can run at the same time.
    #[arg(long, env = "LOOKOUT_SESSIONS", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub sessions: u16,
    /// Threads per inference; 0 = the CPUs available to this process.
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

impl ModelArgs {
    pub fn image_limits(&self) -> detector::Limits {
        detector::Limits {
            max_side: self.max_image_side,
            max_pixels: (self.max_megapixels * 1e6) as u64,
            max_alloc: self.max_decode_mib * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LOOKOUT_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Requests that may wait for a free session; past that the server answers 503 at once.
    #[arg(long, env = "LOOKOUT_QUEUE_DEPTH", default_value_t = 16)]
    pub queue_depth: usize,
    /// Longest a detection may take, queue wait included, in seconds (then 504).
    #[arg(long, env = "LOOKOUT_REQUEST_DEADLINE_SECS", default_value_t = 30.0)]
    pub request_deadline_secs: f64,
    /// Largest request body, in bytes (uploads, JSON with base64, form posts).
    #[arg(long, env = "LOOKOUT_MAX_BODY_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_body_bytes: usize,
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
    /// Require `Authorization: Bearer <key>` on /predict and /v1/* (the page, health and docs stay open).
    #[arg(long, env = "LOOKOUT_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Log format.
    #[arg(long, env = "LOOKOUT_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish, in seconds.
    #[arg(long, env = "LOOKOUT_SHUTDOWN_GRACE_SECS", default_value_t = 30.0)]
    pub shutdown_grace_secs: f64,
}

impl ServeArgs {
    pub fn request_deadline(&self) -> Duration {
        secs(self.request_deadline_secs)
    }
    pub fn url_timeout(&self) -> Duration {
        secs(self.url_timeout_secs)
    }
    pub fn shutdown_grace(&self) -> Duration {
        secs(self.shutdown_grace_secs)
    }
}

fn secs(value: f64) -> Duration {
    Duration::try_from_secs_f64(value.max(0.0)).unwrap_or(Duration::MAX)
}

#[derive(Debug, Clone, Args)]
pub struct DetectArgs {
    /// Image files to run detection on.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Keep detections scoring at least this.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f32,
    /// Keep at most this many detections per image.
    #[arg(long, default_value_t = 100)]
    pub max_detections: usize,
}
