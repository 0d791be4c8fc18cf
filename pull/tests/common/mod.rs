//! Loopback servers that behave like the hosts a model is pulled from: a plain file server
//! (ranges honoured, ignored or refused; stalls; breaks; a fixed status) and a Hub-like front
//! that answers 302 to a storage server with a single-use token in the query.
//! Everything binds 127.0.0.1:0; nothing else is contacted.
#![allow(dead_code)] // each test file uses its own part of this

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt as _;
use pull::{Notes, Pin, Plan, Progress, PullOptions, Source, SourceKind};
use sha2::{Digest, Sha256};

pub const FILE: &str = "model.onnx";
/// More than 1.5 MiB, so that a transfer broken after 1 MiB leaves a real remainder.
pub const LEN: usize = 1536 * 1024 + 12_345;
pub const MIB: usize = 1024 * 1024;

/// Deterministic stand-in bytes (not compressible, not periodic over the file).
pub fn content() -> Vec<u8> {
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

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn pin(pinned: &[u8]) -> Pin {
    Pin::new(FILE, &sha256_hex(pinned), pinned.len() as u64).unwrap()
}

/// A mirror-kind source at `http://{addr}{path}`.
pub fn url_source(addr: SocketAddr, path: &str) -> Source {
    Source::new(SourceKind::Mirror, &format!("http://{addr}{path}")).unwrap()
}

pub fn plan(sources: Vec<Source>, pinned: &[u8]) -> Plan {
    Plan {
        pin: pin(pinned),
        sources,
    }
}

/// Quiet, fast retries, short timeouts.
pub fn options() -> PullOptions {
    PullOptions {
        progress: Progress::Quiet,
        connect_timeout: Duration::from_secs(3),
        stall_timeout: Duration::from_secs(3),
        retry_backoff: Duration::from_millis(10),
        ..PullOptions::default()
    }
}

/// [`options`], with every note a user would see captured.
pub fn options_with_notes() -> (PullOptions, Arc<Mutex<Vec<String>>>) {
    let (notes, buffer) = Notes::capture();
    let options = PullOptions {
        progress: Progress::Lines,
        notes,
        ..options()
    };
    (options, buffer)
}

pub fn lines(buffer: &Mutex<Vec<String>>) -> Vec<String> {
    buffer.lock().unwrap().clone()
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Clone, Copy, Default, PartialEq)]
pub enum Ranges {
    /// 206 with the rest of the file.
    #[default]
    Honour,
    /// 200 with the whole file.
    Ignore,
    /// 416 to any range request.
    Refuse,
}

/// One request as a server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
    pub token: Option<String>,
    pub status: u16,
}

#[derive(Clone, Default)]
pub struct Served {
    pub body: Arc<Vec<u8>>,
    pub ranges: Ranges,
    /// Send this many bytes, then nothing, forever.
    pub stall_after: Option<usize>,
    /// The first response with a body sends this many bytes, then the connection is cut.
    pub break_after: Option<usize>,
    /// Every answer is this status, with no body.
    pub status: Option<StatusCode>,
    /// A `token` query parameter is required and good once (then 403, as an expired signed
    /// URL); tokens listed here are expired from the start.
    pub tokens: Option<Arc<Mutex<HashSet<String>>>>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Body bytes handed to the connection, over all requests.
    pub sent: Arc<AtomicU64>,
    /// Responses with a body so far (for `break_after`).
    pub broke: Arc<AtomicUsize>,
}

impl Served {
    pub fn new(body: Vec<u8>) -> Self {
        Self {
            body: Arc::new(body),
            ..Self::default()
        }
    }

    /// Single-use tokens, with `expired` already used up.
    pub fn with_tokens(mut self, expired: &[&str]) -> Self {
        let used = expired.iter().map(|t| (*t).to_owned()).collect();
        self.tokens = Some(Arc::new(Mutex::new(used)));
        self
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn ranges_seen(&self) -> Vec<Option<String>> {
        self.seen().into_iter().map(|s| s.range).collect()
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

fn header_of(request: &Request, name: header::HeaderName) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn token_of(request: &Request) -> Option<String> {
    request
        .uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(str::to_owned)
}

/// Chunks of `bytes`, counted into `sent` as they are handed over; then, when `cut`, a pause
/// (so that what was handed over reaches the client) and an error that aborts the connection.
fn counted(bytes: Vec<u8>, sent: Arc<AtomicU64>, cut: bool) -> Body {
    let chunks: Vec<bytes::Bytes> = bytes
        .chunks(64 * 1024)
        .map(bytes::Bytes::copy_from_slice)
        .collect();
    let body = futures_util::stream::iter(chunks).map(move |chunk| {
        sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        Ok::<_, std::io::Error>(chunk)
    });
    let tail = if cut {
        futures_util::stream::once(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Err(std::io::Error::other("connection cut by the test server"))
        })
        .left_stream()
    } else {
        futures_util::stream::empty().right_stream()
    };
    Body::from_stream(body.chain(tail))
}

async fn serve_file(State(served): State<Served>, request: Request) -> Response {
    let range = header_of(&request, header::RANGE);
    let mut seen = Seen {
        path: request.uri().path().to_owned(),
        range: range.clone(),
        authorization: header_of(&request, header::AUTHORIZATION),
        token: token_of(&request),
        status: 200,
    };
    let response = answer(&served, range.as_deref(), seen.token.as_deref());
    seen.status = response.status().as_u16();
    served.seen.lock().unwrap().push(seen);
    response
}

fn answer(served: &Served, range: Option<&str>, token: Option<&str>) -> Response {
    if let Some(status) = served.status {
        return status.into_response();
    }
    if let Some(tokens) = &served.tokens {
        let mut used = tokens.lock().unwrap();
        match token {
            Some(token) if used.insert(token.to_owned()) => {}
            _ => return (StatusCode::FORBIDDEN, "Request has expired").into_response(),
        }
    }
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
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|r| r.parse::<usize>().ok());
    let (status, from) = match (served.ranges, start) {
        (Ranges::Refuse, Some(_)) => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response()
        }
        (Ranges::Honour, Some(start)) if start < len => (StatusCode::PARTIAL_CONTENT, start),
        _ => (StatusCode::OK, 0),
    };
    let rest = served.body[from..].to_vec();
    let cut_at = served
        .break_after
        .filter(|_| served.broke.fetch_add(1, Ordering::SeqCst) == 0);
    let body = match cut_at {
        Some(n) => counted(
            rest[..n.min(rest.len())].to_vec(),
            served.sent.clone(),
            true,
        ),
        None => counted(rest, served.sent.clone(), false),
    };
    let mut response = (
        status,
        [(header::CONTENT_LENGTH, (len - from).to_string())],
        body,
    )
        .into_response();
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {from}-{}/{len}", len - 1);
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
    }
    response
}

/// A file server on 127.0.0.1: `/model.onnx` (any path, really), and `/moved` redirecting
/// there (302, as GitHub does to its LFS media host).
pub async fn start(served: Served) -> SocketAddr {
    let app = Router::new()
        .route(
            "/moved",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, format!("/{FILE}"))]) }),
        )
        .fallback(get(serve_file))
        .with_state(served);
    bind(app).await
}

async fn bind(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The Hub's `resolve` address for the test file.
pub const HUB_REPO: &str = "org/models";
pub const HUB_PATH: &str = "vision/model.onnx";

/// What the Hub-like front saw, and how it answers.
#[derive(Clone, Default)]
pub struct Hub {
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Tokens handed out so far.
    pub issued: Arc<AtomicUsize>,
    /// Answer 404 instead of redirecting.
    pub missing: bool,
}

impl Hub {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A Hub-like front on 127.0.0.1: `/{HUB_REPO}/resolve/main/{HUB_PATH}` answers 302 to
/// `http://{storage}/blobs/model?token=N`, a fresh N each time; `/renamed/...` first answers
/// 307 to that address on the same host (as the Hub does for a renamed repository).
pub async fn start_hub(hub: Hub, storage: SocketAddr) -> SocketAddr {
    let canonical = format!("/{HUB_REPO}/resolve/main/{HUB_PATH}");
    let renamed = format!("/renamed/resolve/main/{HUB_PATH}");
    let to_canonical = canonical.clone();
    let app = Router::new()
        .route(
            &canonical,
            get(move |State(hub): State<Hub>, request: Request| async move {
                let n = hub.issued.fetch_add(1, Ordering::SeqCst) + 1;
                let response = if hub.missing {
                    StatusCode::NOT_FOUND.into_response()
                } else {
                    let location = format!("http://{storage}/blobs/model?token=t{n}");
                    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
                };
                record(&hub, &request, &response);
                response
            }),
        )
        .route(
            &renamed,
            get(move |State(hub): State<Hub>, request: Request| {
                let location = to_canonical.clone();
                async move {
                    let response = (
                        StatusCode::TEMPORARY_REDIRECT,
                        [(header::LOCATION, location)],
                    )
                        .into_response();
                    record(&hub, &request, &response);
                    response
                }
            }),
        )
        .with_state(hub);
    bind(app).await
}

fn record(hub: &Hub, request: &Request, response: &Response) {
    hub.seen.lock().unwrap().push(Seen {
        path: request.uri().path().to_owned(),
        range: header_of(request, header::RANGE),
        authorization: header_of(request, header::AUTHORIZATION),
        token: None,
        status: response.status().as_u16(),
    });
}

/// The Hub source for a front at `addr`.
pub fn hub_source(addr: SocketAddr) -> Source {
    Source::hub(&format!("http://{addr}"), HUB_REPO, "main", HUB_PATH).unwrap()
}

/// A fresh directory, removed afterwards.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path =
            std::env::temp_dir().join(format!("lookout-pull-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn target(&self) -> PathBuf {
        self.0.join(FILE)
    }

    pub fn part(&self) -> PathBuf {
        self.0.join(format!("{FILE}.part"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port that was free a moment ago: nothing listens, so a connection is refused.
pub fn refused_addr() -> SocketAddr {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    SocketAddr::from(([127, 0, 0, 1], port))
}
