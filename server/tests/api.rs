//! The REST API over a real loopback socket, and the router in-process.

mod common;

use base64::Engine as _;
use common::{close, problem, shapes_image, TestServer};
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{json, Value};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An old client, as the Python service's users wrote it with `requests`:
/// `requests.put(url + "/predict", json={"base64str": ..., "threshold": 0.5}).json()`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_clients_keep_working_unchanged() {
    let server = TestServer::start(&[]).await;
    let (png, truth) = shapes_image();
    let response = server
        .client
        .put(server.url("/predict"))
        .json(&json!({"base64str": b64(&png), "threshold": 0.5}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let boxes = body["boxes"].as_array().unwrap();
    let classes = body["classes"].as_array().unwrap();
    let scores = body["scores"].as_array().unwrap();
    assert_eq!(boxes.len(), truth.len());
    assert_eq!(classes.len(), truth.len());
    assert_eq!(scores.len(), truth.len());
    assert!(
        scores.windows(2).all(|w| w[0].as_f64() >= w[1].as_f64()),
        "best first"
    );
    for (label, want) in &truth {
        let found = boxes.iter().zip(classes).any(|(b, c)| {
            let b = [
                b[0][0].as_f64().unwrap() as f32,
                b[0][1].as_f64().unwrap() as f32,
                b[1][0].as_f64().unwrap() as f32,
                b[1][1].as_f64().unwrap() as f32,
            ];
            c == label && close(b, *want, 6.0)
        });
        assert!(found, "{label} at {want:?} in {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_accepts_data_urls_line_breaks_and_a_default_threshold() {
    let server = TestServer::start(&[]).await;
    let (png, truth) = shapes_image();
    let wrapped: String = b64(&png)
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    for text in [format!("data:image/png;base64,{wrapped}"), wrapped.clone()] {
        let response = server
            .client
            .put(server.url("/predict"))
            .json(&json!({"base64str": text}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["classes"].as_array().unwrap().len(), truth.len());
    }
    // Nothing above the threshold: empty lists, not an error.
    let grey = image::RgbImage::from_pixel(200, 150, image::Rgb([128, 128, 128]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    grey.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    let response = server
        .client
        .put(server.url("/predict"))
        .json(&json!({"base64str": b64(bytes.get_ref()), "threshold": 0.5, "extra": "ignored like pydantic did"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, json!({"boxes": [], "classes": [], "scores": []}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_errors_are_problems_with_the_right_status() {
    let server =
        TestServer::start(&["--max-body-bytes", "300000", "--max-image-side", "700"]).await;
    let put = |body: String| {
        server
            .client
            .put(server.url("/predict"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert!(problem(put("{not json".into()).await.unwrap(), 400)
        .await
        .contains("not valid JSON"));
    assert!(problem(
        put(json!({"base64str": "!!!"}).to_string()).await.unwrap(),
        400
    )
    .await
    .contains("base64"));
    assert!(problem(
        put(json!({"threshold": 0.5}).to_string()).await.unwrap(),
        422
    )
    .await
    .contains("base64str"));
    assert!(problem(
        put(json!({"base64str": b64(b"x"), "threshold": 2.0}).to_string())
            .await
            .unwrap(),
        422
    )
    .await
    .contains("between 0 and 1"));
    assert!(problem(
        put(json!({"base64str": b64(b"just some text, no image")}).to_string())
            .await
            .unwrap(),
        415
    )
    .await
    .contains("not an image"));
    assert!(problem(
        put(json!({"base64str": b64(b"%PDF-1.4 ...")}).to_string())
            .await
            .unwrap(),
        415
    )
    .await
    .contains("PDF"));
    // An image over the side limit, and a body over the size limit.
    let wide = image::RgbImage::from_pixel(800, 10, image::Rgb([1, 2, 3]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    wide.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    assert!(problem(
        put(json!({"base64str": b64(bytes.get_ref())}).to_string())
            .await
            .unwrap(),
        413
    )
    .await
    .contains("700 pixels per side"));
    let huge = json!({"base64str": "A".repeat(400_000)}).to_string();
    assert!(problem(put(huge).await.unwrap(), 413)
        .await
        .contains("limit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_detect_takes_the_image_every_way() {
    let server = TestServer::start(&[]).await;
    let (png, truth) = shapes_image();
    let check = |body: serde_json::Value| {
        assert_eq!(body["model"]["name"], "shapes");
        assert!(body["image"]["width"].as_u64().unwrap() > 0);
        let detections = body["detections"].as_array().unwrap();
        assert_eq!(detections.len(), truth.len(), "{body}");
        for d in detections {
            assert!(d["label"].is_string() && d["class_id"].is_i64() && d["score"].is_f64());
            for k in ["x1", "y1", "x2", "y2"] {
                assert!(d["box"][k].is_f64());
            }
        }
        for k in ["decode", "inference", "total"] {
            assert!(body["timing_ms"][k].as_f64().unwrap() >= 0.0);
        }
    };
    let form = reqwest::multipart::Form::new().part(
        "image",
        reqwest::multipart::Part::bytes(png.clone()).file_name("x.png"),
    );
    let r = server
        .client
        .post(server.url("/v1/detect"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    check(r.json().await.unwrap());

    let r = common::post_png(&server, "/v1/detect", png.clone()).await;
    assert_eq!(r.status(), 200);
    check(r.json().await.unwrap());

    let r = server
        .client
        .post(server.url("/v1/detect"))
        .json(&json!({"image": b64(&png)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    check(r.json().await.unwrap());

    // Options from the query win; max_detections cuts the list.
    let r = common::post_png(
        &server,
        "/v1/detect?threshold=0.05&max_detections=1",
        png.clone(),
    )
    .await;
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["detections"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_detect_answers_an_annotated_picture_on_request() {
    let server = TestServer::start(&[]).await;
    let (png, _) = shapes_image();
    let source = image::load_from_memory(&png).unwrap();
    let r = common::post_png(&server, "/v1/detect?format=png", png.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    let drawn = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(
        (drawn.width(), drawn.height()),
        (source.width(), source.height())
    );
    assert_ne!(drawn.to_rgb8(), source.to_rgb8(), "boxes were drawn");

    let r = server
        .client
        .post(server.url("/v1/detect"))
        .header("content-type", "image/png")
        .header("accept", "image/jpeg")
        .body(png)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(&r.bytes().await.unwrap()[..3], b"\xff\xd8\xff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_detect_rejects_what_it_cannot_use() {
    let server = TestServer::start(&[]).await;
    let (png, _) = shapes_image();
    let post = |path: &str| server.client.post(server.url(path));
    let d = problem(
        post("/v1/detect?colour=red")
            .header("content-type", "image/png")
            .body(png.clone())
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(d.contains("colour"), "{d}");
    let d = problem(
        post("/v1/detect")
            .json(&json!({"image": b64(&png), "mode": "fast"}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(d.contains("mode"), "{d}");
    problem(
        post("/v1/detect?max_detections=0")
            .header("content-type", "image/png")
            .body(png.clone())
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    problem(
        post("/v1/detect?threshold=-0.1")
            .header("content-type", "image/png")
            .body(png.clone())
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    problem(
        post("/v1/detect").json(&json!({})).send().await.unwrap(),
        422,
    )
    .await;
    problem(
        post("/v1/detect")
            .json(&json!({"image": "x", "url": "http://example.com/"}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    let d = problem(
        post("/v1/detect")
            .header("content-type", "text/plain")
            .body("hello")
            .send()
            .await
            .unwrap(),
        415,
    )
    .await;
    assert!(d.contains("text/plain"), "{d}");
    let d = problem(
        post("/v1/detect")
            .header("content-type", "image/png")
            .body("not a png")
            .send()
            .await
            .unwrap(),
        415,
    )
    .await;
    assert!(d.contains("not an image"), "{d}");
    let truncated = png[..png.len() / 3].to_vec();
    problem(
        post("/v1/detect")
            .header("content-type", "image/png")
            .body(truncated)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    let form = reqwest::multipart::Form::new().text("threshold", "0.3");
    let d = problem(
        post("/v1/detect").multipart(form).send().await.unwrap(),
        422,
    )
    .await;
    assert!(d.contains("image"), "{d}");
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_server_rendered_with_the_upload_form() {
    let server = TestServer::start(&[]).await;
    let r = server.client.get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<form") && html.contains("enctype=\"multipart/form-data\""),
        "{html}"
    );
    assert!(html.contains("name=\"image\""));
    let missing = server
        .client
        .get(server.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_no_javascript_form_post_renders_the_result() {
    let server = TestServer::start(&[]).await;
    let (png, truth) = shapes_image();
    let form = reqwest::multipart::Form::new()
        .part(
            "image",
            reqwest::multipart::Part::bytes(png).file_name("shapes.png"),
        )
        .text("threshold", "0.5");
    let r = server
        .client
        .post(server.url("/detect"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("data:image/png;base64,"),
        "annotated image inline"
    );
    for (label, _) in &truth {
        assert!(html.contains(label.as_str()), "{label} listed");
    }
    let form = reqwest::multipart::Form::new().part(
        "image",
        reqwest::multipart::Part::bytes(b"plain text".to_vec()).file_name("a.png"),
    );
    let r = server
        .client
        .post(server.url("/detect"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert!(r.text().await.unwrap().contains("not an image"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_server_function_detects_and_survives_malformed_multipart() {
    let server = TestServer::start(&["--max-body-bytes", "2000000"]).await;
    let (png, truth) = shapes_image();
    let form = reqwest::multipart::Form::new().part(
        "image",
        reqwest::multipart::Part::bytes(png).file_name("s.png"),
    );
    let r = server
        .client
        .post(server.url("/api/detect_upload"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let above: Vec<_> = body["detections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["score"].as_f64().unwrap() >= 0.5)
        .collect();
    assert_eq!(above.len(), truth.len());

    for content_type in [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "text/plain",
    ] {
        let r = server
            .client
            .post(server.url("/api/detect_upload"))
            .header("content-type", content_type)
            .body("--x\r\nnonsense")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415, "{content_type}");
    }
    // A body past the limit is refused before it is read.
    let big = reqwest::multipart::Form::new().part(
        "image",
        reqwest::multipart::Part::bytes(vec![0u8; 3_000_000]).file_name("big.png"),
    );
    let r = server
        .client
        .post(server.url("/api/detect_upload"))
        .multipart(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // The server is still fine. (On a new connection: after refusing a body it did not read,
    // the server closes that connection, as HTTP/1.1 servers do.)
    let fresh = reqwest::Client::builder().no_proxy().build().unwrap();
    assert_eq!(
        fresh
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
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
