//! `lookout pull-model`: download a known ONNX model (or any file pinned by sha256 and size)
//! into `models/` without PyTorch.
//!
//! The file is streamed to `<dir>/<file>.part` (never held in memory) while its sha256 is
//! computed; an interrupted download resumes with an HTTP `Range` request, hashing the prefix
//! already on disk first. Only a file whose size and sha256 both match the pin is renamed into
//! place (an atomic rename in the same directory); one that does not is deleted and refused.
//! A target that already matches is left alone and nothing is downloaded.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use thiserror::Error;
use url::Url;

/// A model Lookout knows how to fetch, pinned by sha256 and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// What `lookout pull-model NAME` calls it.
    pub name: &'static str,
    /// The file it becomes in the models directory.
    pub file_name: &'static str,
    pub url: &'static str,
    /// Lowercase hex.
    pub sha256: &'static str,
    pub size: u64,
    /// One line for `--list`.
    pub summary: &'static str,
    /// How to serve it once downloaded (`{path}` is replaced with its path).
    pub usage: &'static str,
}

/// The models `lookout pull-model` knows by name.
pub const CATALOGUE: &[CatalogueEntry] = &[CatalogueEntry {
    name: "coco-zoo",
    file_name: "FasterRCNN-12.onnx",
    // The ONNX model zoo (github.com/onnx/models) keeps its models in Git LFS: GitHub answers
    // this address with a redirect to the LFS media host,
    // https://media.githubusercontent.com/media/onnx/models/main/validated/vision/object_detection_segmentation/faster-rcnn/model/FasterRCNN-12.onnx
    // so both github.com and media.githubusercontent.com must be reachable (or use --url).
    url: "https://github.com/onnx/models/raw/main/validated/vision/object_detection_segmentation/faster-rcnn/model/FasterRCNN-12.onnx",
    // The pin is the file's Git LFS pointer in onnx/models, read from
    // vision/object_detection_segmentation/faster-rcnn/model/FasterRCNN-12.onnx at commit
    // 673d0d48a4fdf76c7d9db4724db52af8a0c7fedc (the repository later moved `vision/` under
    // `validated/`; a move keeps the pointer): "oid sha256:789104f5...a6", "size 176713194".
    // The zoo's hub manifest agrees: ONNX_HUB_MANIFEST.json at commit
    // 06189933463e51adb5ac34a5ead67cf6a3f51e2d, entry "Faster R-CNN R-50-FPN-fp32",
    // "model_sha" and "model_bytes" (the README's "168.5 MB").
    sha256: "789104f5a47f008450a37e02da8a8d3642766ed10d91238312b1532fe72789a6",
    size: 176_713_194,
    summary: "the ONNX model zoo's Faster R-CNN R-50-FPN (maskrcnn-benchmark, opset 12), COCO, mAP 0.34",
    // Its input is `image` (so the zoo layout is recognised without --layout) and it carries no
    // label metadata: its class ids are the contiguous COCO-80 list, which the detector has
    // built in (`Labels::coco80`).
    usage: "serve it with `lookout --model {path}` (input `image`: the zoo layout is recognised; \
            labels: the contiguous COCO-80 list built into Lookout)",
}];

/// Looks a model up in [`CATALOGUE`].
pub fn catalogue_entry(name: &str) -> Option<&'static CatalogueEntry> {
    CATALOGUE.iter().find(|entry| entry.name == name)
}

/// What to download and what it must turn out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub url: Url,
    /// A bare file name: the file lands at `<dir>/<file_name>`.
    pub file_name: String,
    pub sha256: [u8; 32],
    pub size: u64,
}

impl Source {
    /// Any file, pinned by its sha256 (hex) and size in bytes.
    pub fn new(url: &str, file_name: &str, sha256: &str, size: u64) -> Result<Self, DownloadError> {
        let url = Url::parse(url.trim()).map_err(|e| {
            DownloadError::InvalidSource(format!("the URL {url:?} is not valid: {e}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DownloadError::InvalidSource(format!(
                "the URL {url} is not http or https"
            )));
        }
        let file_name = file_name.trim();
        let bare = !file_name.is_empty()
            && file_name != "."
            && file_name != ".."
            && !file_name.contains(['/', '\\', '\0']);
        if !bare {
            return Err(DownloadError::InvalidSource(format!(
                "{file_name:?} is not a plain file name"
            )));
        }
        let mut digest = [0u8; 32];
        hex::decode_to_slice(sha256.trim(), &mut digest).map_err(|_| {
            DownloadError::InvalidSource(format!(
                "{sha256:?} is not a sha256: it must be 64 hexadecimal digits"
            ))
        })?;
        if size == 0 {
            return Err(DownloadError::InvalidSource(
                "the size must be more than 0 bytes".to_owned(),
            ));
        }
        Ok(Self {
            url,
            file_name: file_name.to_owned(),
            sha256: digest,
            size,
        })
    }

    /// A catalogue model.
    pub fn from_entry(entry: &CatalogueEntry) -> Result<Self, DownloadError> {
        Self::new(entry.url, entry.file_name, entry.sha256, entry.size)
    }

    /// The last segment of a URL's path, as a default file name.
    pub fn file_name_from_url(url: &str) -> Option<String> {
        let url = Url::parse(url.trim()).ok()?;
        let last = url.path_segments()?.next_back()?;
        let decoded = percent_decode(last);
        (!decoded.is_empty()).then_some(decoded)
    }

    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| segment.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How progress is shown on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Progress {
    /// A progress bar when stderr is a terminal, else `lines`.
    #[default]
    Auto,
    /// A progress bar.
    Bar,
    /// A plain line every few seconds (logs, CI).
    Lines,
    /// Nothing but errors.
    Quiet,
}

/// How [`pull`] behaves.
#[derive(Debug, Clone)]
pub struct PullOptions {
    pub progress: Progress,
    /// Download again even when the target already matches, and drop any partial download.
    pub force: bool,
    /// Most time to open a connection (DNS, TCP and TLS).
    pub connect_timeout: Duration,
    /// Most time without a byte arriving (the response headers included).
    pub stall_timeout: Duration,
}

impl Default for PullOptions {
    fn default() -> Self {
        Self {
            progress: Progress::Auto,
            force: false,
            connect_timeout: Duration::from_secs(15),
            stall_timeout: Duration::from_secs(60),
        }
    }
}

/// What [`pull`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The verified file.
    pub path: PathBuf,
    /// It was already there and matched: nothing was requested.
    pub already_present: bool,
    /// Bytes that came over the network this time.
    pub fetched: u64,
    /// Where the download resumed (0: from the start).
    pub resumed_from: u64,
}

#[derive(Debug, Error)]
pub enum DownloadError {
    /// A bad URL, file name, hash or size, or an unknown model: nothing was contacted.
    #[error("{0}")]
    InvalidSource(String),
    #[error(
        "cannot reach {host} ({detail}). This download needs {host} to be reachable; without it, \
         put the file on a mirror you can reach and pass --url (the sha256 and size pin still apply)"
    )]
    Unreachable { host: String, detail: String },
    #[error("{url} answered {status}; if the file has moved, pass --url with its new address (the pin still applies)")]
    Status { url: String, status: StatusCode },
    #[error("{host} stopped sending for {secs} s; the partial download {} is kept: run the same command again to resume", part.display())]
    Stalled {
        host: String,
        secs: u64,
        part: PathBuf,
    },
    #[error("the download from {host} broke off at {received} of {expected} bytes ({detail}); the partial download {} is kept: run the same command again to resume", part.display())]
    Interrupted {
        host: String,
        received: u64,
        expected: u64,
        detail: String,
        part: PathBuf,
    },
    #[error("{file}: the server offers {actual} bytes but the pin says {expected}, so it is not the pinned file; nothing was kept{}", lfs_hint(*.actual))]
    SizeMismatch {
        file: String,
        expected: u64,
        actual: u64,
    },
    #[error("{file}: the server sent more than the {expected} bytes pinned, so it is not the pinned file; the partial download was deleted")]
    TooLong { file: String, expected: u64 },
    #[error("{file} failed verification: its sha256 is {actual} but {expected} was expected. The download was deleted; the server sent a different file than the one pinned (check --url or the mirror's copy)")]
    HashMismatch {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("the server kept answering resume requests inconsistently ({0}); giving up")]
    Unresumable(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

fn lfs_hint(actual: u64) -> &'static str {
    if actual < 1024 {
        " (if that is a Git LFS pointer, about 130 bytes, use the LFS media address: \
         https://media.githubusercontent.com/media/OWNER/REPO/REF/PATH)"
    } else {
        ""
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> DownloadError + '_ {
    move |source| DownloadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `<dir>/<file>.part`
pub fn part_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    target.with_file_name(name)
}

/// Downloads `source` into `dir` (created if missing) unless a verified copy is already
/// there. Returns the verified file's path.
pub async fn pull(
    source: &Source,
    dir: &Path,
    options: &PullOptions,
) -> Result<Pulled, DownloadError> {
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let target = dir.join(&source.file_name);
    let part = part_path(&target);
    let mut reporter = Reporter::new(options.progress, &source.file_name, source.size);

    if options.force {
        remove_if_present(&part)?;
    } else {
        match check_existing(&target, source).await? {
            Existing::Missing => {}
            Existing::Verified => {
                reporter.note(&format!(
                    "{} is already here and verified (sha256 {}, {} bytes): nothing to download",
                    target.display(),
                    source.sha256_hex(),
                    source.size
                ));
                return Ok(Pulled {
                    path: target,
                    already_present: true,
                    fetched: 0,
                    resumed_from: 0,
                });
            }
            Existing::Differs(why) => reporter.note(&format!(
                "{} exists but {why}; downloading the pinned file (it replaces that one only once it verifies)",
                target.display()
            )),
        }
    }

    let client = reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .redirect(reqwest::redirect::Policy::limited(10))
        .user_agent(concat!("lookout/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DownloadError::Client(root_cause(&e)))?;

    let mut restarts = 0;
    let (digest, fetched, resumed_from) = loop {
        let mut offset = file_len(&part)?.unwrap_or(0);
        if offset > source.size {
            reporter.note(&format!(
                "{} is larger than the pinned file: starting again",
                part.display()
            ));
            remove_if_present(&part)?;
            offset = 0;
        }
        if offset == source.size {
            // Complete but never verified (e.g. interrupted during the check): verify it.
            let part_for_hash = part.clone();
            let hasher = hash_prefix(part_for_hash, offset).await?;
            break (hasher.finalize().into(), 0, offset);
        }
        match fetch(&client, source, &part, offset, options, &mut reporter).await? {
            Fetched::Done {
                digest,
                fetched,
                resumed_from,
            } => break (digest, fetched, resumed_from),
            Fetched::Restart(reason) => {
                restarts += 1;
                if restarts > 2 {
                    return Err(DownloadError::Unresumable(reason));
                }
                reporter.note(&format!("{reason}: starting again from the beginning"));
                remove_if_present(&part)?;
            }
        }
    };

    let digest: [u8; 32] = digest;
    if digest != source.sha256 {
        remove_if_present(&part)?;
        return Err(DownloadError::HashMismatch {
            file: source.file_name.clone(),
            expected: source.sha256_hex(),
            actual: hex::encode(digest),
        });
    }
    fs::rename(&part, &target).map_err(io_error(&target))?;
    // Make the rename itself durable (best effort: not every filesystem allows it).
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    reporter.note(&format!(
        "{} verified (sha256 {}, {} bytes)",
        target.display(),
        source.sha256_hex(),
        source.size
    ));
    Ok(Pulled {
        path: target,
        already_present: false,
        fetched,
        resumed_from,
    })
}

enum Existing {
    Missing,
    Verified,
    Differs(String),
}

async fn check_existing(target: &Path, source: &Source) -> Result<Existing, DownloadError> {
    let Some(len) = file_len(target)? else {
        return Ok(Existing::Missing);
    };
    if len != source.size {
        return Ok(Existing::Differs(format!(
            "is {len} bytes, not the {} pinned",
            source.size
        )));
    }
    let digest: [u8; 32] = hash_prefix(target.to_path_buf(), len)
        .await?
        .finalize()
        .into();
    if digest == source.sha256 {
        Ok(Existing::Verified)
    } else {
        Ok(Existing::Differs(format!(
            "its sha256 is {}, not the {} pinned",
            hex::encode(digest),
            source.sha256_hex()
        )))
    }
}

/// The length of a regular file, `None` when there is none.
fn file_len(path: &Path) -> Result<Option<u64>, DownloadError> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
        Ok(_) => Err(DownloadError::Io {
            path: path.to_path_buf(),
            source: io::Error::other("exists and is not a regular file"),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

fn remove_if_present(path: &Path) -> Result<(), DownloadError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(path)(e)),
        _ => Ok(()),
    }
}

/// A hasher fed with the first `len` bytes of `path`, read on a blocking thread.
async fn hash_prefix(path: PathBuf, len: u64) -> Result<Sha256, DownloadError> {
    let task_path = path.clone();
    let outcome = tokio::task::spawn_blocking(move || -> io::Result<Sha256> {
        let mut hasher = Sha256::new();
        let mut reader = File::open(&task_path)?.take(len);
        let mut buffer = vec![0u8; 1 << 20];
        let mut read = 0u64;
        loop {
            let n = reader.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            read += n as u64;
        }
        if read != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("shrank to {read} bytes while being read"),
            ));
        }
        Ok(hasher)
    })
    .await;
    match outcome {
        Ok(result) => result.map_err(io_error(&path)),
        Err(join) => Err(DownloadError::Io {
            path,
            source: io::Error::other(join.to_string()),
        }),
    }
}

enum Fetched {
    Done {
        digest: [u8; 32],
        fetched: u64,
        resumed_from: u64,
    },
    /// The partial file cannot be continued; start from zero.
    Restart(String),
}

/// One request: from `offset` when a partial file is there, else the whole file.
async fn fetch(
    client: &reqwest::Client,
    source: &Source,
    part: &Path,
    offset: u64,
    options: &PullOptions,
    reporter: &mut Reporter,
) -> Result<Fetched, DownloadError> {
    let host = host_of(&source.url);
    let stall_secs = options.stall_timeout.as_secs();
    let stalled = |host: String| DownloadError::Stalled {
        host,
        secs: stall_secs,
        part: part.to_path_buf(),
    };
    let mut request = client.get(source.url.clone());
    if offset > 0 {
        reporter.note(&format!(
            "resuming {} at byte {offset} of {}",
            part.display(),
            source.size
        ));
        request = request.header(RANGE, format!("bytes={offset}-"));
    } else {
        reporter.note(&format!(
            "downloading {} ({}) from {}",
            source.file_name,
            mib(source.size),
            source.url
        ));
    }
    let response = match tokio::time::timeout(options.stall_timeout, request.send()).await {
        Err(_) => return Err(stalled(host)),
        Ok(Err(e)) => return Err(request_error(&e, &source.url, offset, source.size, part)),
        Ok(Ok(response)) => response,
    };
    let host = host_of(response.url());
    let status = response.status();
    let start = match status {
        StatusCode::PARTIAL_CONTENT => {
            let range = response
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_content_range);
            match range {
                Some(range) if range.start == offset => {
                    if let Some(total) = range.total.filter(|&t| t != source.size) {
                        remove_if_present(part)?;
                        return Err(DownloadError::SizeMismatch {
                            file: source.file_name.clone(),
                            expected: source.size,
                            actual: total,
                        });
                    }
                    offset
                }
                _ => {
                    return Ok(Fetched::Restart(format!(
                        "{host} answered the resume request with another range"
                    )))
                }
            }
        }
        StatusCode::OK => {
            if let Some(len) = response.content_length().filter(|&l| l != source.size) {
                remove_if_present(part)?;
                return Err(DownloadError::SizeMismatch {
                    file: source.file_name.clone(),
                    expected: source.size,
                    actual: len,
                });
            }
            if offset > 0 {
                reporter.note(&format!(
                    "{host} does not resume downloads (it sent the whole file): starting again from the beginning"
                ));
            }
            0
        }
        StatusCode::RANGE_NOT_SATISFIABLE if offset > 0 => {
            return Ok(Fetched::Restart(format!(
                "{host} refused to resume at byte {offset} (416)"
            )))
        }
        status => {
            return Err(DownloadError::Status {
                url: response.url().to_string(),
                status,
            })
        }
    };

    let (file, mut hasher) = if start == 0 {
        let file = File::create(part).map_err(io_error(part))?;
        (file, Sha256::new())
    } else {
        let hasher = hash_prefix(part.to_path_buf(), start).await?;
        let file = OpenOptions::new()
            .append(true)
            .open(part)
            .map_err(io_error(part))?;
        (file, hasher)
    };
    // Writes go to the page cache through a 1 MiB buffer: short enough not to matter on the
    // executor, which keeps this a plain loop.
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    let mut received = start;
    reporter.begin(start);
    let mut body = response.bytes_stream();
    let outcome = loop {
        let chunk = match tokio::time::timeout(options.stall_timeout, body.next()).await {
            Err(_) => break Err(stalled(host.clone())),
            Ok(None) => break Ok(()),
            Ok(Some(Err(e))) => {
                break Err(DownloadError::Interrupted {
                    host: host.clone(),
                    received,
                    expected: source.size,
                    detail: root_cause(&e),
                    part: part.to_path_buf(),
                })
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        let len = chunk.len() as u64;
        if received.saturating_add(len) > source.size {
            drop(writer);
            reporter.abandon();
            remove_if_present(part)?;
            return Err(DownloadError::TooLong {
                file: source.file_name.clone(),
                expected: source.size,
            });
        }
        if let Err(e) = writer.write_all(&chunk) {
            break Err(io_error(part)(e));
        }
        hasher.update(&chunk);
        received += len;
        reporter.advance(received);
    };
    // Whatever happened, what arrived is on disk so that the next run can resume from it.
    let flushed = writer
        .into_inner()
        .map_err(|e| e.into_error())
        .and_then(|file| file.sync_all())
        .map_err(io_error(part));
    if let Err(e) = outcome.and(flushed) {
        reporter.abandon();
        return Err(e);
    }
    if received < source.size {
        reporter.abandon();
        return Err(DownloadError::Interrupted {
            host,
            received,
            expected: source.size,
            detail: "the server closed the connection early".to_owned(),
            part: part.to_path_buf(),
        });
    }
    reporter.finish();
    Ok(Fetched::Done {
        digest: hasher.finalize().into(),
        fetched: received - start,
        resumed_from: start,
    })
}

fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => url.to_string(),
    }
}

/// Connection failures (DNS, refused, connect timeout) become [`DownloadError::Unreachable`]
/// naming the host that could not be reached (which may be a redirect's target).
fn request_error(
    e: &reqwest::Error,
    url: &Url,
    offset: u64,
    size: u64,
    part: &Path,
) -> DownloadError {
    let host = e.url().map(host_of).unwrap_or_else(|| host_of(url));
    let detail = root_cause(e);
    if e.is_connect() || e.is_timeout() {
        DownloadError::Unreachable { host, detail }
    } else if e.is_redirect() {
        DownloadError::InvalidSource(format!("{url}: {detail}"))
    } else {
        DownloadError::Interrupted {
            host,
            received: offset,
            expected: size,
            detail,
            part: part.to_path_buf(),
        }
    }
}

/// The innermost cause's message: reqwest's own ("error sending request") says little.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    pub start: u64,
    pub end: u64,
    pub total: Option<u64>,
}

pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.trim().split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    (start <= end && total.is_none_or(|t| end < t)).then_some(ContentRange { start, end, total })
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Progress and notes on stderr.
struct Reporter {
    mode: Progress,
    file: String,
    total: u64,
    bar: Option<ProgressBar>,
    started: Instant,
    start_offset: u64,
    last_line: Instant,
}

const LINE_EVERY: Duration = Duration::from_secs(5);

impl Reporter {
    fn new(mode: Progress, file: &str, total: u64) -> Self {
        let mode = match mode {
            Progress::Auto if io::stderr().is_terminal() => Progress::Bar,
            Progress::Auto => Progress::Lines,
            other => other,
        };
        Self {
            mode,
            file: file.to_owned(),
            total,
            bar: None,
            started: Instant::now(),
            start_offset: 0,
            last_line: Instant::now(),
        }
    }

    fn note(&self, message: &str) {
        match (&self.bar, self.mode) {
            (_, Progress::Quiet) => {}
            (Some(bar), _) => bar.println(format!("lookout: {message}")),
            (None, _) => eprintln!("lookout: {message}"),
        }
    }

    fn begin(&mut self, offset: u64) {
        self.started = Instant::now();
        self.start_offset = offset;
        self.last_line = Instant::now();
        if self.mode == Progress::Bar {
            let bar = ProgressBar::with_draw_target(Some(self.total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(self.file.clone());
            bar.set_position(offset);
            self.bar = Some(bar);
        }
    }

    fn advance(&mut self, position: u64) {
        match self.mode {
            Progress::Bar => {
                if let Some(bar) = &self.bar {
                    bar.set_position(position);
                }
            }
            Progress::Lines if self.last_line.elapsed() >= LINE_EVERY => {
                self.last_line = Instant::now();
                let secs = self.started.elapsed().as_secs_f64().max(0.001);
                let rate = (position - self.start_offset) as f64 / secs;
                eprintln!(
                    "lookout: {}: {} of {} ({:.0}%), {}/s",
                    self.file,
                    mib(position),
                    mib(self.total),
                    position as f64 * 100.0 / self.total.max(1) as f64,
                    mib(rate as u64)
                );
            }
            _ => {}
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.mode != Progress::Quiet {
            eprintln!(
                "lookout: {}: {} received in {:.1} s",
                self.file,
                mib(self.total - self.start_offset),
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    fn abandon(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}

/// `lookout pull-model`: fetch a model into the models directory, verified.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:\n  \
    lookout pull-model                       # coco-zoo: the ONNX model zoo's FasterRCNN-12 (169 MB)\n  \
    lookout pull-model coco-zoo --url https://mirror.example/FasterRCNN-12.onnx\n  \
    lookout pull-model --url URL --sha256 HEX --size BYTES [--file NAME]")]
pub struct PullArgs {
    /// A model from the catalogue (`--list` shows them). Default: coco-zoo, unless --url is given.
    pub name: Option<String>,
    /// Where the model goes.
    #[arg(long, default_value = "models")]
    pub dir: PathBuf,
    /// Download from here instead (a mirror, an air-gapped server). With a catalogue NAME its
    /// pin still applies; without one, --sha256 and --size are required.
    #[arg(long)]
    pub url: Option<String>,
    /// The sha256 the file must have (64 hex digits).
    #[arg(long, requires = "url")]
    pub sha256: Option<String>,
    /// The size the file must have, in bytes.
    #[arg(long, requires = "url")]
    pub size: Option<u64>,
    /// The file name in --dir (default: the catalogue's, else the URL's last segment).
    #[arg(long, requires = "url")]
    pub file: Option<String>,
    /// Download again even if a verified copy is there, discarding any partial download.
    #[arg(long)]
    pub force: bool,
    /// List the catalogue and exit.
    #[arg(long)]
    pub list: bool,
    /// Progress on stderr.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
    /// Give up connecting after this many seconds.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    pub connect_timeout_secs: u64,
    /// Give up when no data arrives for this many seconds (the partial file is kept).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub stall_timeout_secs: u64,
}

impl PullArgs {
    /// The source these arguments describe, and the catalogue entry they name, if any.
    pub fn source(&self) -> Result<(Source, Option<&'static CatalogueEntry>), DownloadError> {
        let entry = match (&self.name, &self.url) {
            (Some(name), _) => Some(catalogue_entry(name).ok_or_else(|| {
                DownloadError::InvalidSource(format!(
                    "no model called {name:?}; known: {} (or pass --url, --sha256 and --size)",
                    CATALOGUE
                        .iter()
                        .map(|e| e.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?),
            (None, Some(_)) => None,
            (None, None) => catalogue_entry("coco-zoo"),
        };
        let missing = |what: &str| {
            DownloadError::InvalidSource(format!(
                "--url without a catalogue model needs {what} (the file is verified against them)"
            ))
        };
        let url = match (&self.url, entry) {
            (Some(url), _) => url.clone(),
            (None, Some(entry)) => entry.url.to_owned(),
            (None, None) => return Err(missing("a NAME")),
        };
        let sha256 = match (&self.sha256, entry) {
            (Some(hash), _) => hash.clone(),
            (None, Some(entry)) => entry.sha256.to_owned(),
            (None, None) => return Err(missing("--sha256")),
        };
        let size = match (self.size, entry) {
            (Some(size), _) => size,
            (None, Some(entry)) => entry.size,
            (None, None) => return Err(missing("--size")),
        };
        let file = match (&self.file, entry) {
            (Some(file), _) => file.clone(),
            (None, Some(entry)) => entry.file_name.to_owned(),
            (None, None) => Source::file_name_from_url(&url).ok_or_else(|| {
                DownloadError::InvalidSource(format!(
                    "cannot tell a file name from {url}: pass --file"
                ))
            })?,
        };
        Ok((Source::new(&url, &file, &sha256, size)?, entry))
    }

    pub fn options(&self) -> PullOptions {
        PullOptions {
            progress: self.progress,
            force: self.force,
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
            stall_timeout: Duration::from_secs(self.stall_timeout_secs),
        }
    }
}

/// Runs `lookout pull-model`: the verified file's path on stdout, everything else on stderr.
pub fn run(args: PullArgs) -> ExitCode {
    if args.list {
        for entry in CATALOGUE {
            println!(
                "{}\t{}\t{} bytes\t{}",
                entry.name, entry.file_name, entry.size, entry.summary
            );
        }
        return ExitCode::SUCCESS;
    }
    let (source, entry) = match args.source() {
        Ok(found) => found,
        Err(e) => {
            eprintln!("lookout: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("lookout: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(pull(&source, &args.dir, &args.options())) {
        Ok(pulled) => {
            if let Some(entry) = entry {
                if args.progress != Progress::Quiet {
                    let path = pulled.path.display().to_string();
                    eprintln!("lookout: {}", entry.usage.replace("{path}", &path));
                }
            }
            println!("{}", pulled.path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lookout: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_entries_are_valid_sources() {
        for entry in CATALOGUE {
            let source = Source::from_entry(entry).expect(entry.name);
            assert_eq!(source.sha256_hex(), entry.sha256);
            assert_eq!(source.url.scheme(), "https");
        }
        let zoo = catalogue_entry("coco-zoo").expect("coco-zoo");
        assert_eq!(zoo.size, 176_713_194);
        assert_eq!(zoo.file_name, "FasterRCNN-12.onnx");
    }

    #[test]
    fn content_range_parses() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some(ContentRange {
                start: 100,
                end: 199,
                total: Some(200)
            })
        );
        assert_eq!(
            parse_content_range("bytes 0-9/*").map(|r| r.total),
            Some(None)
        );
        for bad in [
            "bytes 5-4/10",
            "bytes 0-10/10",
            "items 0-1/2",
            "bytes */10",
            "bytes 1-2",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }

    #[test]
    fn sources_are_checked() {
        let hash = "ab".repeat(32);
        assert!(Source::new("https://h/x.onnx", "x.onnx", &hash, 1).is_ok());
        assert!(Source::new("ftp://h/x.onnx", "x.onnx", &hash, 1).is_err());
        assert!(Source::new("https://h/x.onnx", "../x.onnx", &hash, 1).is_err());
        assert!(Source::new("https://h/x.onnx", "x.onnx", "abc", 1).is_err());
        assert!(Source::new("https://h/x.onnx", "x.onnx", &hash, 0).is_err());
        assert_eq!(
            Source::file_name_from_url("https://h/a/My%20Model.onnx?x=1").as_deref(),
            Some("My Model.onnx")
        );
        assert_eq!(Source::file_name_from_url("https://h/"), None);
    }

    #[test]
    fn part_file_sits_beside_the_target() {
        assert_eq!(
            part_path(Path::new("models/FasterRCNN-12.onnx")),
            Path::new("models/FasterRCNN-12.onnx.part")
        );
    }
}
