//! Shared test plumbing: a real server on a loopback port, fixtures, and an image server.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Path as UrlPath;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use clap::Parser;
use server::config::Cli;
use server::serve::Running;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Standard base64, as clients send images in JSON bodies.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn fixture(relative: &str) -> Vec<u8> {
    let path = repo().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first shapes fixture and its ground truth: (label, box) pairs.
pub fn shapes_image() -> (Vec<u8>, Vec<(String, [f32; 4])>) {
    let dir = "detector/tests/fixtures/shapes";
    let truth: serde_json::Value =
        serde_json::from_slice(&fixture(&format!("{dir}/ground_truth.json"))).unwrap();
    let image = &truth["images"][0];
    let objects = image["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let b: Vec<f32> = o["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            (
                o["label"].as_str().unwrap().to_owned(),
                [b[0], b[1], b[2], b[3]],
            )
        })
        .collect();
    (
        fixture(&format!("{dir}/{}", image["file"].as_str().unwrap())),
        objects,
    )
}

pub fn args(extra: &[&str]) -> server::config::ServeArgs {
    let model = repo().join("models/shapes.onnx");
    let mut argv = vec![
        "lookout".to_owned(),
        "--addr".to_owned(),
        "127.0.0.1:0".to_owned(),
    ];
    if !extra.contains(&"--model") && !extra.contains(&"--models-dir") {
        argv.extend(["--model".to_owned(), model.display().to_string()]);
    }
    if !extra.contains(&"--threads") {
        argv.extend(["--threads".to_owned(), "2".to_owned()]);
    }
    argv.extend(extra.iter().map(|s| s.to_string()));
    let mut args = Cli::parse_from(argv).serve;
    // Nothing runs while the server starts: its other sessions need not wait for a quiet
    // moment (`TestServer::start` waits for every session).
    args.fill_quiet = Duration::ZERO;
    args
}

pub struct TestServer {
    pub running: Option<Running>,
    pub base: String,
    pub client: reqwest::Client,
}

impl TestServer {
    pub async fn start(extra: &[&str]) -> Self {
        let mut running = server::serve::start(args(extra))
            .await
            .expect("server starts");
        let loaded = running.model_loaded.take().unwrap();
        loaded.await.unwrap().expect("model loads");
        let base = format!("http://{}", running.addr);
        Self {
            running: Some(running),
            base,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET path`, its answer read as JSON (whatever the status).
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The sha256 `/v1/models` gives for the model `name`: which weights serve it.
    pub async fn model_sha(&self, name: &str) -> String {
        let models = self.get_json("/v1/models").await;
        models["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .and_then(|m| m["sha256"].as_str())
            .unwrap_or_else(|| panic!("{name} in /v1/models: {models}"))
            .to_owned()
    }
}

/// Checks a problem+json answer and returns its detail.
pub async fn problem(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status().as_u16(), status, "status");
    assert_eq!(
        response
            .headers()
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap(),
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["type"].as_str().is_some());
    body["detail"].as_str().unwrap().to_owned()
}

/// An image server on a loopback address: `/image.png`, `/redirect/{n}` (n hops then the
/// image), `/to/{url}` (redirect anywhere), `/big` (2 MiB), `/slow` (stalls), `/missing`.
pub async fn image_server(ip: &str) -> SocketAddr {
    let png = shapes_image().0;
    let app = Router::new()
        .route(
            "/image.png",
            get(move || {
                let png = png.clone();
                async move {
                    ([(header::CONTENT_TYPE, "application/octet-stream")], png).into_response()
                }
            }),
        )
        .route(
            "/redirect/{n}",
            get(|UrlPath(n): UrlPath<u32>| async move {
                let to = if n == 0 {
                    "/image.png".to_owned()
                } else {
                    format!("/redirect/{}", n - 1)
                };
                redirect(&to)
            }),
        )
        .route(
            "/to/{*target}",
            get(|UrlPath(target): UrlPath<String>| async move { redirect(&target) }),
        )
        .route(
            "/big",
            get(|| async { vec![0u8; 2 * 1024 * 1024].into_response() }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "too late"
            }),
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }));
    let listener = tokio::net::TcpListener::bind(format!("{ip}:0"))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A loopback server answering every path with `body` (as `application/octet-stream`): for
/// URL detections of images made in the test.
pub async fn bytes_server(body: Vec<u8>) -> SocketAddr {
    let body = bytes::Bytes::from(body);
    let app = Router::new().fallback(get(move || {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response() }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn redirect(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, to)
        .body(Body::empty())
        .unwrap()
}

pub fn close(a: [f32; 4], b: [f32; 4], px: f32) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= px)
}

/// POSTs PNG bytes as a raw `image/png` body.
pub async fn post_png(
    server: &TestServer,
    path: &str,
    png: impl Into<reqwest::Body>,
) -> reqwest::Response {
    server
        .client
        .post(server.url(path))
        .header(header::CONTENT_TYPE, "image/png")
        .body(png)
        .send()
        .await
        .unwrap()
}

/// A phone-sized photo: the first shapes fixture scaled to 4032x3024 with sensor-like noise,
/// as a quality-92 JPEG of a few MB. Made once per test run and kept under the target dir.
pub fn phone_photo() -> Vec<u8> {
    static PHOTO: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    PHOTO
        .get_or_init(|| {
            let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("phone_4032x3024_v2.jpg");
            if let Ok(bytes) = std::fs::read(&path) {
                return bytes;
            }
            let (png, _) = shapes_image();
            let small = image::load_from_memory(&png).unwrap().to_rgb8();
            let mut big =
                image::imageops::resize(&small, 4032, 3024, image::imageops::FilterType::Triangle);
            let mut seed = 0x9e37_79b9_7f4a_7c15u64;
            for px in big.pixels_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                for (c, v) in px.0.iter_mut().enumerate() {
                    let noise = ((seed >> (c * 8)) & 0x0f) as i16 - 8;
                    *v = (i16::from(*v) + noise).clamp(0, 255) as u8;
                }
            }
            let mut out = std::io::Cursor::new(Vec::new());
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
                .encode_image(&big)
                .unwrap();
            let bytes = out.into_inner();
            let _ = std::fs::write(&path, &bytes);
            bytes
        })
        .clone()
}

/// The server's Prometheus text.
pub async fn metrics_text(server: &TestServer) -> String {
    server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The first sample of metric `name` (any labels), 0 when absent.
pub async fn gauge(server: &TestServer, name: &str) -> f64 {
    metrics_text(server)
        .await
        .lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}
