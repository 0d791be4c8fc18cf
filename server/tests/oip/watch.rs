//! `--watch-models`: a changed file of `--models-dir` is reloaded on its own, through the
//! repository's load (requests keep succeeding); the same contents change nothing; a broken
//! file leaves the old model serving and ready.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::common::{self, TestServer};
use super::{image, infer, infer_json, Busy};

/// How many times the watcher came to `result` for the model `watched`.
async fn reloads(server: &TestServer, result: &str) -> u64 {
    let text = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let label = format!("result=\"{result}\"");
    text.lines()
        .filter(|l| l.starts_with("lookout_model_reloads_total{"))
        .filter(|l| l.contains("model=\"watched\"") && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|n| n as u64)
        .sum()
}

/// Waits (at most 60 s) until `done` holds.
async fn until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "waited a minute for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_changed_model_file_is_reloaded_and_a_broken_one_keeps_the_old_model() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("oip_watch");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let shapes = common::repo().join("models/shapes.onnx");
    let zoo = common::repo().join("models/shapes-zoo.onnx");
    std::fs::copy(&shapes, dir.join("shapes.onnx")).unwrap();
    std::fs::copy(&shapes, dir.join("watched.onnx")).unwrap();
    let dir_arg = dir.display().to_string();
    let server = Arc::new(
        TestServer::start(&[
            "--models-dir",
            &dir_arg,
            "--default-model",
            "shapes",
            "--watch-models",
            "--watch-interval-secs",
            "0.1",
        ])
        .await,
    );
    let image = Arc::new(image());
    let before = server.model_sha("watched").await;

    // Clients keep asking the watched model; each answer must be a full success.
    let busy = Busy::start(&server, &image, "watched", 2);

    // Another model, written over the file in place: reloaded once it has settled.
    std::fs::copy(&zoo, dir.join("watched.onnx")).unwrap();
    until("the new model to serve", || async {
        reloads(&server, "reloaded").await == 1
    })
    .await;
    let reloaded = server.model_sha("watched").await;
    assert_ne!(reloaded, before, "/v1/models names the new file");
    assert_eq!(
        reloads(&server, "failed").await,
        0,
        "never loaded half-written"
    );

    // The same contents written again: the sha256 says nothing changed.
    std::fs::write(dir.join("watched.onnx"), std::fs::read(&zoo).unwrap()).unwrap();
    until("the rewrite to be seen", || async {
        reloads(&server, "unchanged").await == 1
    })
    .await;
    assert_eq!(reloads(&server, "reloaded").await, 1);

    // A broken file: the old model keeps serving, and stays ready.
    std::fs::write(dir.join("watched.onnx"), b"this is not an onnx model").unwrap();
    until("the broken file to be tried", || async {
        reloads(&server, "failed").await == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        reloads(&server, "failed").await,
        1,
        "a broken file is tried once, not on every poll"
    );
    let total = busy.stop().await;
    assert!(total >= 2, "the clients got answers ({total})");
    assert_eq!(server.model_sha("watched").await, reloaded);
    let response = infer(&server, "watched", &infer_json(&image, json!({}))).await;
    assert_eq!(response.status(), 200);
    let ready = server.get_json("/v2/models/watched/ready").await;
    assert_eq!(ready["ready"], true);
}

#[tokio::test]
async fn watching_needs_a_models_dir() {
    let args = common::args(&["--watch-models"]);
    let failed = server::serve::start(args).await.err().expect("refused");
    assert!(failed.to_string().contains("--models-dir"), "{failed}");
}
