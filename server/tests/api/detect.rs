//! `POST /v1/detect`: the image every way it can come, the annotated picture, and what the route
//! refuses.

use serde_json::json;

use crate::common::{self, b64, problem, shapes_image, TestServer};

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
