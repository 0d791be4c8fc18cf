//! `PUT /predict`: the Python service's contract, kept for its old clients.

use serde_json::json;

use crate::common::{b64, close, problem, shapes_image, TestServer};

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
