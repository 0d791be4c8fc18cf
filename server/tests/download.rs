//! `lookout pull-model` against a file server on a loopback port: clean downloads, resumes,
//! servers that ignore or refuse ranges, corrupt files, stalls and unreachable hosts.
//! Nothing here contacts anything but 127.0.0.1.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use clap::{CommandFactory, Parser};
use futures_util::StreamExt as _;
use server::download::{pull, DownloadError, Progress, PullArgs, PullOptions, Pulled, Source};
use sha2::{Digest, Sha256};

const FILE: &str = "model.onnx";
const LEN: usize = 300 * 1024;

/// Deterministic stand-in bytes (not compressible, not periodic over the file).
fn content() -> Vec<u8> {
    let mut state: u32 = 0x1234_5678;
    (0..LEN)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[derive(Clone, Copy, Default, PartialEq)]
enum Ranges {
    /// 206 with the rest of the file.
    #[default]
    Honour,
    /// 200 with the whole file.
    Ignore,
    /// 416 to any range request.
    Refuse,
}

#[derive(Clone, Default)]
struct Served {
    body: Arc<Vec<u8>>,
    ranges: Ranges,
    /// Send this many bytes, then nothing, forever.
    stall_after: Option<usize>,
    /// The Range header of every request for the file (None: no Range).
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

impl Served {
    fn new(body: Vec<u8>) -> Self {
        Self {
            body: Arc::new(body),
            ..Self::default()
        }
    }

    fn seen(&self) -> Vec<Option<String>> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve_file(State(served): State<Served>, headers: HeaderMap) -> Response {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    served.seen.lock().unwrap().push(range.clone());
    let len = served.body.len();
    if let Some(n) = served.stall_after {
        let first = bytes::Bytes::copy_from_slice(&served.body[..n]);
        let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(first)])
            .chain(futures_util::stream::pending());
        return (
            [(header::CONTENT_LENGTH, len.to_string())],
            Body::from_stream(stream),
        )
            .into_response();
    }
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|r| r.parse::<usize>().ok());
    match (served.ranges, start) {
        (Ranges::Refuse, Some(_)) => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{len}"))],
        )
            .into_response(),
        (Ranges::Honour, Some(start)) if start < len => (
            StatusCode::PARTIAL_CONTENT,
            [(
                header::CONTENT_RANGE,
                format!("bytes {start}-{}/{len}", len - 1),
            )],
            served.body[start..].to_vec(),
        )
            .into_response(),
        _ => served.body.to_vec().into_response(),
    }
}

/// A file server on 127.0.0.1: `/model.onnx`, and `/moved` redirecting there (302, as GitHub
/// does to its LFS media host).
async fn start(served: Served) -> SocketAddr {
    let app = Router::new()
        .route(&format!("/{FILE}"), get(serve_file))
        .route(
            "/moved",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, format!("/{FILE}"))]) }),
        )
        .with_state(served);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A fresh directory, removed afterwards.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path = std::env::temp_dir().join(format!(
            "lookout-download-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn target(&self) -> PathBuf {
        self.0.join(FILE)
    }

    fn part(&self) -> PathBuf {
        self.0.join(format!("{FILE}.part"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn source(addr: SocketAddr, path: &str, pinned: &[u8]) -> Source {
    Source::new(
        &format!("http://{addr}{path}"),
        FILE,
        &sha256_hex(pinned),
        pinned.len() as u64,
    )
    .unwrap()
}

fn options() -> PullOptions {
    PullOptions {
        progress: Progress::Quiet,
        force: false,
        connect_timeout: Duration::from_secs(3),
        stall_timeout: Duration::from_secs(3),
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_download_lands_verified() {
    let body = content();
    let served = Served::new(body.clone());
    let addr = start(served.clone()).await;
    let dir = TempDir::new("clean");

    let pulled = pull(&source(addr, "/model.onnx", &body), &dir.0, &options())
        .await
        .unwrap();

    assert_eq!(
        pulled,
        Pulled {
            path: dir.target(),
            already_present: false,
            fetched: LEN as u64,
            resumed_from: 0,
        }
    );
    assert_eq!(read(&dir.target()), body);
    assert!(!dir.part().exists());
    assert_eq!(served.seen(), vec![None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_download_resumes_with_a_range_request() {
    let body = content();
    let served = Served::new(body.clone());
    let addr = start(served.clone()).await;
    let dir = TempDir::new("resume");
    let half = LEN / 2;
    std::fs::write(dir.part(), &body[..half]).unwrap();

    let pulled = pull(&source(addr, "/model.onnx", &body), &dir.0, &options())
        .await
        .unwrap();

    assert_eq!(served.seen(), vec![Some(format!("bytes={half}-"))]);
    assert_eq!(pulled.resumed_from, half as u64);
    assert_eq!(pulled.fetched, (LEN - half) as u64);
    assert_eq!(read(&dir.target()), body);
    assert!(!dir.part().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_prefix_is_hashed_too() {
    // The server is honest but the prefix on disk is not the file's: the hash covers it.
    let body = content();
    let served = Served::new(body.clone());
    let addr = start(served.clone()).await;
    let dir = TempDir::new("bad-prefix");
    let mut prefix = body[..LEN / 3].to_vec();
    prefix[10] ^= 0xff;
    std::fs::write(dir.part(), &prefix).unwrap();

    let err = pull(&source(addr, "/model.onnx", &body), &dir.0, &options())
        .await
        .unwrap_err();

    assert!(matches!(err, DownloadError::HashMismatch { .. }), "{err}");
    assert!(!dir.part().exists());
    assert!(!dir.target().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_file_is_refused_and_deleted() {
    let pinned = content();
    let mut corrupt = pinned.clone();
    corrupt[LEN / 2] ^= 0x01;
    let served = Served::new(corrupt.clone());
    let addr = start(served.clone()).await;
    let dir = TempDir::new("corrupt");

    let err = pull(&source(addr, "/model.onnx", &pinned), &dir.0, &options())
        .await
        .unwrap_err();

    match &err {
        DownloadError::HashMismatch {
            file,
            expected,
            actual,
        } => {
            assert_eq!(file, FILE);
            assert_eq!(expected, &sha256_hex(&pinned));
            assert_eq!(actual, &sha256_hex(&corrupt));
        }
        other => panic!("expected a hash mismatch, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(&sha256_hex(&pinned)), "{message}");
    assert!(message.contains(&sha256_hex(&corrupt)), "{message}");
    assert!(message.contains("deleted"), "{message}");
    assert!(!dir.part().exists());
    assert!(!dir.target().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_the_wrong_size_is_refused_before_it_is_downloaded() {
    let pinned = content();
    let mut longer = pinned.clone();
    longer.extend_from_slice(b"trailing");
    let addr = start(Served::new(longer)).await;
    let dir = TempDir::new("size");

    let err = pull(&source(addr, "/model.onnx", &pinned), &dir.0, &options())
        .await
        .unwrap_err();

    assert!(
        matches!(err, DownloadError::SizeMismatch { expected, actual, .. }
            if expected == LEN as u64 && actual == LEN as u64 + 8),
        "{err}"
    );
    assert!(!dir.part().exists());
    assert!(!dir.target().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_ignores_ranges_still_gives_a_verified_file() {
    let body = content();
    let served = Served {
        ranges: Ranges::Ignore,
        ..Served::new(body.clone())
    };
    let addr = start(served.clone()).await;
    let dir = TempDir::new("ignore");
    let half = LEN / 2;
    // Garbage in the partial file proves it was discarded, not appended to.
    std::fs::write(dir.part(), vec![0u8; half]).unwrap();

    let pulled = pull(&source(addr, "/model.onnx", &body), &dir.0, &options())
        .await
        .unwrap();

    assert_eq!(served.seen(), vec![Some(format!("bytes={half}-"))]);
    assert_eq!(pulled.resumed_from, 0);
    assert_eq!(pulled.fetched, LEN as u64);
    assert_eq!(read(&dir.target()), body);
    assert!(!dir.part().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_range_starts_again_from_zero() {
    let body = content();
    let served = Served {
        ranges: Ranges::Refuse,
        ..Served::new(body.clone())
    };
    let addr = start(served.clone()).await;
    let dir = TempDir::new("refuse");
    std::fs::write(dir.part(), &body[..1000]).unwrap();

    let pulled = pull(&source(addr, "/model.onnx", &body), &dir.0, &options())
        .await
        .unwrap();

    assert_eq!(served.seen(), vec![Some("bytes=1000-".to_owned()), None]);
    assert_eq!(pulled.resumed_from, 0);
    assert_eq!(read(&dir.target()), body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_and_keep_the_range() {
    let body = content();
    let served = Served::new(body.clone());
    let addr = start(served.clone()).await;
    let dir = TempDir::new("redirect");
    let third = LEN / 3;
    std::fs::write(dir.part(), &body[..third]).unwrap();

    let pulled = pull(&source(addr, "/moved", &body), &dir.0, &options())
        .await
        .unwrap();

    assert_eq!(served.seen(), vec![Some(format!("bytes={third}-"))]);
    assert_eq!(pulled.resumed_from, third as u64);
    assert_eq!(read(&dir.target()), body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_host_fails_fast_with_a_clear_message() {
    // A port that was free a moment ago: nothing listens, so the connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let body = content();
    let dir = TempDir::new("refused");

    let started = Instant::now();
    let err = pull(&source(addr, "/model.onnx", &body), &dir.0, &options())
        .await
        .unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    match &err {
        DownloadError::Unreachable { host, .. } => assert_eq!(host, &format!("127.0.0.1:{port}")),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    let message = err.to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("--url"), "{message}");
    assert!(!dir.target().exists());
    assert!(!dir.part().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_target_is_not_downloaded_again() {
    let body = content();
    let served = Served::new(body.clone());
    let addr = start(served.clone()).await;
    let dir = TempDir::new("present");
    std::fs::write(dir.target(), &body).unwrap();

    let pulled = pull(&source(addr, "/model.onnx", &body), &dir.0, &options())
        .await
        .unwrap();

    assert!(pulled.already_present);
    assert_eq!(pulled.fetched, 0);
    assert_eq!(served.seen(), Vec::<Option<String>>::new());

    // --force downloads it again.
    let forced = PullOptions {
        force: true,
        ..options()
    };
    let pulled = pull(&source(addr, "/model.onnx", &body), &dir.0, &forced)
        .await
        .unwrap();
    assert!(!pulled.already_present);
    assert_eq!(served.seen(), vec![None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_does_not_match_is_replaced_once_the_download_verifies() {
    let body = content();
    let served = Served::new(body.clone());
    let addr = start(served.clone()).await;
    let dir = TempDir::new("stale");
    std::fs::write(dir.target(), b"an older, different model").unwrap();

    let pulled = pull(&source(addr, "/model.onnx", &body), &dir.0, &options())
        .await
        .unwrap();

    assert!(!pulled.already_present);
    assert_eq!(read(&dir.target()), body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_download_keeps_its_part_and_the_next_run_resumes() {
    let body = content();
    let first = 100 * 1024;
    let stalling = Served {
        stall_after: Some(first),
        ..Served::new(body.clone())
    };
    let addr = start(stalling).await;
    let dir = TempDir::new("stall");
    let quick = PullOptions {
        stall_timeout: Duration::from_secs(1),
        ..options()
    };

    let started = Instant::now();
    let err = pull(&source(addr, "/model.onnx", &body), &dir.0, &quick)
        .await
        .unwrap_err();
    assert!(matches!(err, DownloadError::Stalled { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(read(&dir.part()), &body[..first]);
    assert!(!dir.target().exists());

    let healthy = Served::new(body.clone());
    let addr = start(healthy.clone()).await;
    let pulled = pull(&source(addr, "/model.onnx", &body), &dir.0, &options())
        .await
        .unwrap();
    assert_eq!(healthy.seen(), vec![Some(format!("bytes={first}-"))]);
    assert_eq!(pulled.resumed_from, first as u64);
    assert_eq!(read(&dir.target()), body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_status_is_reported() {
    let body = content();
    let addr = start(Served::new(body.clone())).await;
    let dir = TempDir::new("status");

    let err = pull(&source(addr, "/missing.onnx", &body), &dir.0, &options())
        .await
        .unwrap_err();

    assert!(
        matches!(err, DownloadError::Status { status, .. } if status == StatusCode::NOT_FOUND),
        "{err}"
    );
    assert!(!dir.target().exists());
}

/// `lookout pull-model ...` as the CLI parses it.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    pull: PullArgs,
}

fn parse(args: &[&str]) -> Result<PullArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("pull-model").chain(args.iter().copied())).map(|c| c.pull)
}

#[test]
fn the_command_line_resolves_sources() {
    Cli::command().debug_assert();

    // No arguments: the zoo's COCO model, pinned.
    let (source, entry) = parse(&[]).unwrap().source().unwrap();
    assert_eq!(entry.map(|e| e.name), Some("coco-zoo"));
    assert_eq!(source.file_name, "FasterRCNN-12.onnx");
    assert_eq!(source.size, 176_713_194);

    // A mirror for a catalogue model keeps the catalogue's pin.
    let (mirror, _) = parse(&["coco-zoo", "--url", "http://127.0.0.1:1/m/zoo.onnx"])
        .unwrap()
        .source()
        .unwrap();
    assert_eq!(mirror.url.as_str(), "http://127.0.0.1:1/m/zoo.onnx");
    assert_eq!(mirror.sha256, source.sha256);
    assert_eq!(mirror.file_name, "FasterRCNN-12.onnx");

    // A custom file needs its pin; its name comes from the URL unless --file says.
    let hash = "0".repeat(64);
    let args = [
        "--url",
        "http://127.0.0.1:1/x/custom.onnx",
        "--sha256",
        &hash,
    ];
    assert!(parse(&args).unwrap().source().is_err());
    let (custom, entry) = parse(&[&args[..], &["--size", "10"]].concat())
        .unwrap()
        .source()
        .unwrap();
    assert!(entry.is_none());
    assert_eq!(custom.file_name, "custom.onnx");
    let (named, _) = parse(&[&args[..], &["--size", "10", "--file", "mine.onnx"]].concat())
        .unwrap()
        .source()
        .unwrap();
    assert_eq!(named.file_name, "mine.onnx");

    // --sha256 without --url is a usage error; an unknown model names the known ones.
    assert!(parse(&["--sha256", &hash]).is_err());
    let unknown = parse(&["imagenet"])
        .unwrap()
        .source()
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("coco-zoo"), "{unknown}");
}
