//! What every door refuses before reading an image: a missing or wrong key, and a full engine.

use std::time::Duration;

use reqwest::header;

use crate::common::{self, TestServer};
use crate::doors::{check, outcome, send, Images, Input, DOORS};

const KEY: &str = "k3y-for-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_door_needs_the_key_when_the_server_has_one() {
    let server = TestServer::start(&["--api-key", KEY, "--allow-private-urls"]).await;
    let images = Images::start().await;
    let (png, _) = common::shapes_image();
    // The command line reads local files: it has no key to ask for.
    for door in DOORS.into_iter().filter(|d| d.is_http()) {
        for (key, case) in [(None, "no key"), (Some("wrong"), "a wrong key")] {
            let input = Input {
                image: Some(png.clone()),
                key,
                ..Input::default()
            };
            let got = outcome(door, send(&server, &images, door, &input).await).await;
            check(door, case, (401, Some("unauthorized"), "key"), got);
        }
        let input = Input {
            image: Some(png.clone()),
            key: Some(KEY),
            ..Input::default()
        };
        let got = outcome(door, send(&server, &images, door, &input).await).await;
        check(door, "the right key", (200, None, ""), got);
    }
    // What runs no model stays open.
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/",
        "/pkg/lookout.css",
    ] {
        let status = server
            .client
            .get(server.url(path))
            .send()
            .await
            .unwrap()
            .status();
        assert_ne!(status, 401, "{path}");
    }
    let models = server
        .client
        .get(server.url("/v1/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 401, "/v1/models is part of the API");
}

/// With one engine place, a URL request whose server never answers holds it (admission comes
/// before the fetch): every door is then told "busy" at once, before reading its image.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_door_is_told_busy_when_the_engine_is_full() {
    let server = TestServer::start(&[
        "--sessions",
        "1",
        "--queue-depth",
        "0",
        "--allow-private-urls",
        "--url-timeout-secs",
        "30",
    ])
    .await;
    let images = Images::start().await;
    let stall = format!("http://127.0.0.1:{}/stall", images.addr.port());
    let holder = {
        let client = server.client.clone();
        let url = server.url("/v1/detect");
        tokio::spawn(async move {
            client
                .post(url)
                .json(&serde_json::json!({ "url": stall }))
                .send()
                .await
        })
    };
    // Wait until the holder has its place (the engine's queue shows it as admitted).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (png, _) = common::shapes_image();
    loop {
        let probe = server
            .client
            .post(server.url("/v1/detect"))
            .header(header::CONTENT_TYPE, "image/png")
            .body(png.clone())
            .send()
            .await
            .unwrap();
        if probe.status() == 503 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the holder never got its place"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A batch's items wait for a place instead (the fairness rule; server/tests/batch/fairness.rs),
    // and so do the command line's files.
    for door in DOORS.into_iter().filter(|d| d.is_http() && !d.is_batch()) {
        let input = Input {
            image: Some(png.clone()),
            ..Input::default()
        };
        let response = send(&server, &images, door, &input).await;
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap()),
            Some("1"),
            "{door:?}"
        );
        let got = outcome(door, response).await;
        check(door, "busy", (503, Some("busy"), "busy"), got);
    }
    holder.abort();
}
