//! Load shedding, deadlines, isolation between requests, shutdown, and the binary itself.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{gauge, problem, repo, shapes_image, TestServer};

fn png_of(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Sends `png` to /v1/detect in the background and returns once its inference is running.
async fn start_in_flight(
    server: &TestServer,
    png: Vec<u8>,
) -> tokio::task::JoinHandle<reqwest::StatusCode> {
    let client = server.client.clone();
    let url = server.url("/v1/detect");
    let request = tokio::spawn(async move {
        client
            .post(url)
            .header("content-type", "image/png")
            .body(png)
            .send()
            .await
            .unwrap()
            .status()
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while gauge(server, "lookout_inferences_in_flight").await < 1.0 {
        assert!(Instant::now() < deadline, "the request never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_sheds_with_503_while_the_admitted_request_succeeds() {
    let server =
        TestServer::start(&["--queue-depth", "0", "--sessions", "1", "--threads", "1"]).await;
    let admitted = start_in_flight(&server, png_of(1333, 1333)).await;
    let shed = common::post_png(&server, "/v1/detect", png_of(64, 64)).await;
    assert_eq!(shed.headers()["retry-after"], "1");
    let d = problem(shed, 503).await;
    assert!(d.contains("busy"), "{d}");
    assert_eq!(
        admitted.await.unwrap(),
        200,
        "the admitted request is unaffected"
    );
    assert!(gauge(&server, "lookout_rejected_busy_total").await >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inference_past_the_deadline_is_a_504() {
    let server = TestServer::start(&["--request-deadline-secs", "0.001"]).await;
    let r = common::post_png(&server, "/v1/detect", png_of(1200, 900)).await;
    let d = problem(r, 504).await;
    assert!(d.contains("deadline"), "{d}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_never_disturbs_a_request_in_flight() {
    let server = TestServer::start(&[]).await;
    let (png, truth) = shapes_image();
    let good = {
        let client = server.client.clone();
        let url = server.url("/v1/detect");
        tokio::spawn(async move {
            client
                .post(url)
                .header("content-type", "image/png")
                .body(png)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        })
    };
    let mut garbage = Vec::new();
    for i in 0..20u8 {
        let body: Vec<u8> = (0..2000)
            .map(|j| (j as u8).wrapping_mul(i).wrapping_add(7))
            .collect();
        garbage.push(
            server
                .client
                .post(server.url("/v1/detect"))
                .header("content-type", "image/png")
                .body(body)
                .send(),
        );
    }
    for r in futures_util::future::join_all(garbage).await {
        let status = r.unwrap().status().as_u16();
        assert!(
            (400..500).contains(&status),
            "client mistakes are 4xx, got {status}"
        );
    }
    let body = good.await.unwrap();
    assert_eq!(body["detections"].as_array().unwrap().len(), truth.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_reports_not_ready_and_finishes_in_flight_requests() {
    let mut server = TestServer::start(&["--threads", "1"]).await;
    let in_flight = start_in_flight(&server, png_of(1333, 1000)).await;
    let running = server.running.take().unwrap();
    let front = running.front.clone();
    let stopping = tokio::spawn(running.shutdown(Duration::from_secs(20)));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!front.is_ready(), "reports not ready while draining");
    assert_eq!(
        in_flight.await.unwrap(),
        200,
        "the in-flight request completes"
    );
    stopping.await.unwrap().unwrap();
    assert!(
        server
            .client
            .get(server.url("/healthz"))
            .send()
            .await
            .is_err(),
        "no longer accepting"
    );
}

fn lookout() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lookout"));
    command.current_dir(repo()).stdin(Stdio::null());
    command
}

#[test]
fn sigterm_stops_the_binary_cleanly() {
    let mut child = lookout()
        .args(["--addr", "127.0.0.1:0", "--threads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the readiness line in the log.
    use std::io::{BufRead, BufReader};
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let started = Instant::now();
    loop {
        let line = lines.next().expect("log line").unwrap();
        if line.contains("ready") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never became ready"
        );
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "exits 0 after a graceful stop");
}

#[test]
fn a_missing_onnxruntime_library_is_one_readable_line() {
    let out = lookout()
        .args([
            "--addr",
            "127.0.0.1:0",
            "--ort-library",
            "/nonexistent/libonnxruntime.so",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("make ort"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_missing_model_is_one_readable_line() {
    let out = lookout()
        .args([
            "--addr",
            "127.0.0.1:0",
            "--model",
            "/nonexistent/model.onnx",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/model.onnx does not exist"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn the_detect_subcommand_prints_json() {
    let out = lookout()
        .args([
            "detect",
            "detector/tests/fixtures/shapes/0000.png",
            "--threads",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["file"], "detector/tests/fixtures/shapes/0000.png");
    let (_, truth) = shapes_image();
    assert_eq!(body["detections"].as_array().unwrap().len(), truth.len());
    let bad = lookout().args(["detect", "Cargo.toml"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an image"));
}

#[test]
fn help_documents_every_setting() {
    let out = lookout().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--addr",
        "--model",
        "--layout",
        "--sessions",
        "--threads",
        "--queue-depth",
        "--request-deadline-secs",
        "--max-body-bytes",
        "--max-image-side",
        "--max-megapixels",
        "--url-timeout-secs",
        "--url-max-bytes",
        "--allow-private-urls",
        "--allow-cidr",
        "--api-key",
        "--log-format",
        "LOOKOUT_MODEL",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}
