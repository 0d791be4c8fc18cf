//! The page's own routes: its settings, the one-time picture of a URL detection, and the
//! page answering the plain form.

mod common;

use common::{image_server, shapes_image, TestServer};

const KEY: &str = "page-test-key";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_name_the_models_and_the_key() {
    let model = common::repo().join("models/shapes.onnx");
    let zoo = common::repo().join("models/shapes-zoo.onnx");
    let server = TestServer::start(&[
        "--model",
        &format!("shapes={}", model.display()),
        "--model",
        &format!("zoo={}", zoo.display()),
        "--api-key",
        KEY,
    ])
    .await;
    let r = server
        .client
        .post(server.url("/api/ui_config"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let settings: serde_json::Value = r.json().await.unwrap();
    assert_eq!(settings["key_required"], true);
    assert_eq!(
        settings["models"],
        serde_json::json!([{"name": "shapes", "classes": 3}, {"name": "zoo", "classes": 3}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_detection_keeps_its_bytes_for_one_keyed_fetch() {
    let server = TestServer::start(&["--allow-private-urls", "--api-key", KEY]).await;
    let images = image_server("127.0.0.1").await;
    let r = server
        .client
        .post(server.url("/api/detect_url"))
        .bearer_auth(KEY)
        .form(&[("url", format!("http://{images}/image.png"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(!body["detections"].as_array().unwrap().is_empty());
    let picture = body["picture"].as_str().unwrap().to_owned();
    assert!(picture.starts_with("/api/fetched/"), "{picture}");

    // The key is needed, as for the detection that fetched it; a refusal does not spend it.
    let refused = server
        .client
        .get(server.url(&picture))
        .send()
        .await
        .unwrap();
    common::problem(refused, 401).await;
    let r = server
        .client
        .get(server.url(&picture))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.bytes().await.unwrap().to_vec(), shapes_image().0);
    // Served once.
    let again = server
        .client
        .get(server.url(&picture))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let detail = common::problem(again, 404).await;
    assert!(detail.contains("no longer kept"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plain_form_answers_with_the_page_itself() {
    let server = TestServer::start(&[]).await;
    let (png, truth) = shapes_image();
    let form = reqwest::multipart::Form::new()
        .text("threshold", "0.5")
        .part(
            "image",
            reqwest::multipart::Part::bytes(png).file_name("shapes.png"),
        );
    let r = server
        .client
        .post(server.url("/detect"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let policy = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    let html = r.text().await.unwrap();
    // The app's own page: its form, its legend and table, the picture where the canvas goes,
    // and nothing that would start the app (a form's answer is a document to read).
    for part in [
        r#"id="upload-form""#,
        r#"id="legend""#,
        r#"id="detections""#,
        r#"<img id="annotated""#,
        "data:image/png;base64,",
    ] {
        assert!(html.contains(part), "{part} missing");
    }
    assert!(
        !html.contains(r#"type="module""#),
        "the plain page loads the app"
    );
    assert!(!html.contains(".wasm"), "the plain page loads the app");
    assert!(!html.contains("<canvas"));
    assert_eq!(
        html.matches("data-box=").count(),
        truth.len(),
        "one row per object"
    );
}
