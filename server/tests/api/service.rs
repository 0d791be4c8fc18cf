//! What runs beside detection: the model list, health, metrics and docs, request ids, the API key,
//! and the router driven in-process.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{self, b64, problem, shapes_image, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_health_metrics_and_docs() {
    let server = TestServer::start(&[]).await;
    let get = |path: &str| server.client.get(server.url(path)).send();
    let r = get("/v1/models").await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let model = &body["models"][0];
    assert_eq!(model["name"], "shapes");
    assert_eq!(model["layout"], "torchvision");
    assert_eq!(model["labels"][1], "red_rectangle");
    assert_eq!(model["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(model["inputs"][0]["name"], "images");
    assert_eq!(model["sessions"], 2);
    assert_eq!(model["intra_threads"], 2);

    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);

    // One detection so the histograms have samples.
    let (png, _) = shapes_image();
    common::post_png(&server, "/v1/detect", png).await;
    let r = get("/metrics").await.unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    for name in [
        "lookout_http_requests_total",
        "route=\"/v1/detect\"",
        "lookout_http_request_duration_seconds_bucket",
        "lookout_decode_duration_seconds_bucket",
        "lookout_queue_wait_seconds_bucket",
        "lookout_inference_duration_seconds_bucket",
        "lookout_queue_depth",
        "lookout_inferences_in_flight",
        "lookout_model_info{",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }

    let r = get("/openapi.json").await.unwrap();
    let spec: serde_json::Value = r.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/predict",
        "/v1/detect",
        "/v1/models",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} documented");
    }
    let docs = get("/docs/").await.unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    assert!(
        !html.contains("https://") && !html.contains("http://"),
        "no CDN: {html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_request_id() {
    let server = TestServer::start(&[]).await;
    let r = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let r = server
        .client
        .get(server.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["x-request-id"],
        "abc-123",
        "a caller's id is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_guards_the_api_but_not_the_page_health_or_docs() {
    let server = TestServer::start(&["--api-key", "s3cret"]).await;
    let (png, _) = shapes_image();
    let r = server
        .client
        .put(server.url("/predict"))
        .json(&json!({"base64str": b64(&png)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    problem(r, 401).await;
    let r = server
        .client
        .get(server.url("/v1/models"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
    let r = server
        .client
        .put(server.url("/predict"))
        .bearer_auth("s3cret")
        .json(&json!({"base64str": b64(&png)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for open in ["/", "/healthz", "/readyz", "/openapi.json", "/metrics"] {
        assert_eq!(
            server
                .client
                .get(server.url(open))
                .send()
                .await
                .unwrap()
                .status(),
            200,
            "{open}"
        );
    }
}

/// The same router, driven in-process without a socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_works_in_process() {
    use tower::ServiceExt;
    let args = common::args(&[]);
    let prepared = server::serve::prepare(&args, "127.0.0.1:0".parse().unwrap()).unwrap();
    // /readyz: its status, and the default model's ready and configured sessions.
    let readiness = |app: axum::Router| async move {
        let r = app
            .oneshot(
                axum::http::Request::get("/readyz")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = r.status();
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        (
            status,
            body["models"][0]["sessions_ready"].clone(),
            body["models"][0]["sessions"].clone(),
        )
    };
    assert_eq!(
        readiness(prepared.app.clone()).await.0,
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready before the model is loaded"
    );
    let (png, _) = shapes_image();
    let early = prepared
        .app
        .clone()
        .oneshot(
            axum::http::Request::post("/v1/detect")
                .header("content-type", "image/png")
                .body(axum::body::Body::from(png.clone()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(early.status(), 503);
    assert!(early.headers().contains_key("retry-after"));

    // Ready, and serving, with the first of its two sessions; the other joins when built.
    let slot = prepared.front.models().default_slot().cloned().unwrap();
    server::serve::load_model(Arc::clone(&slot)).await.unwrap();
    assert_eq!(
        readiness(prepared.app.clone()).await,
        (StatusCode::OK, 1.into(), 2.into())
    );
    server::serve::fill_pool(slot).await;
    assert_eq!(
        readiness(prepared.app.clone()).await,
        (StatusCode::OK, 2.into(), 2.into())
    );
    let detected = prepared
        .app
        .oneshot(
            axum::http::Request::post("/v1/detect")
                .header("content-type", "image/png")
                .body(axum::body::Body::from(png))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(detected.status(), 200);
}
