//! The page's own routes: its settings, the one-time picture of a URL detection, and the
//! page answering the plain form.

mod common;

use common::{image_server, shapes_image, TestServer};

const KEY: &str = "page-test-key";
/// The demo model's classes, in class-id order.
const DEMO: [&str; 3] = ["red_rectangle", "green_ellipse", "blue_triangle"];

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
        serde_json::json!([
            {"name": "shapes", "classes": 3, "labels": DEMO},
            {"name": "zoo", "classes": 3, "labels": DEMO},
        ])
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
    // The same result as every door's, beside the picture's path.
    assert!(!body["result"]["detections"].as_array().unwrap().is_empty());
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

/// The element `id="{id}"` of the page, from its start tag to the end tag `</{tag}>`.
fn element<'a>(html: &'a str, id: &str, tag: &str) -> &'a str {
    let at = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find(&format!("</{tag}>")).unwrap();
    &html[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_page_names_the_demo_models_classes_and_how_to_serve_coco() {
    let server = TestServer::start(&[]).await;
    let r = server.client.get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let finds = element(&html, "model-finds", "p");
    assert!(finds.contains(r#"data-classes="3""#), "{finds}");
    assert!(finds.contains("finds 3 classes"), "{finds}");
    assert!(finds.contains(&DEMO.join(", ")), "{finds}");
    let hint = element(&html, "coco-hint", "p");
    for part in [
        "<code>make run-coco</code>",
        "<code>lookout pull-model coco-zoo</code>",
        "<code>lookout --model coco=models/FasterRCNN-12.onnx</code>",
    ] {
        assert!(hint.contains(part), "{part} missing from {hint}");
    }
}

/// An ONNX model without its metadata (`ModelProto` field 14, `metadata_props`): what the
/// ONNX model zoo's own files look like to Lookout.
fn without_metadata(onnx: &[u8]) -> Vec<u8> {
    fn varint(bytes: &[u8], at: &mut usize) -> u64 {
        let mut value = 0;
        for shift in (0..64).step_by(7) {
            let byte = bytes[*at];
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                break;
            }
        }
        value
    }
    let mut out = Vec::with_capacity(onnx.len());
    let mut at = 0;
    while at < onnx.len() {
        let start = at;
        let key = varint(onnx, &mut at);
        match key & 7 {
            0 => {
                varint(onnx, &mut at);
            }
            1 => at += 8,
            2 => {
                let len = varint(onnx, &mut at) as usize;
                at += len;
            }
            5 => at += 4,
            wire => panic!("wire type {wire} in a ModelProto"),
        }
        if key >> 3 != 14 {
            out.extend_from_slice(&onnx[start..at]);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coco_model_is_counted_with_its_first_classes_and_all_of_them_behind_details() {
    // The demo's zoo-layout twin without its metadata: a zoo model whose labels are COCO's 80.
    let dir = std::env::temp_dir().join(format!("lookout-page-coco-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let coco = dir.join("coco.onnx");
    std::fs::write(
        &coco,
        without_metadata(&common::fixture("models/shapes-zoo.onnx")),
    )
    .unwrap();
    let shapes = common::repo().join("models/shapes.onnx");
    let server = TestServer::start(&[
        "--model",
        &format!("coco={}", coco.display()),
        "--model",
        &format!("shapes={}", shapes.display()),
    ])
    .await;
    let html = server
        .client
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let finds = element(&html, "model-finds", "details");
    assert!(finds.starts_with("<details "), "{finds}");
    for part in [
        r#"class="model-finds""#,
        r#"data-model="coco""#,
        r#"data-classes="80""#,
    ] {
        assert!(finds.contains(part), "{part} missing from {finds}");
    }
    assert!(
        finds.contains("finds 80 classes: ")
            && finds.contains("person, bicycle, car, motorcycle, airplane, …"),
        "{finds}"
    );
    let all = &finds[finds.find(r#"<ul class="class-list">"#).unwrap()..];
    assert_eq!(all.matches("<li>").count(), 80, "{all}");
    assert!(all.contains("<li>person</li>") && all.contains("<li>toothbrush</li>"));
    // A real model is served: no line about serving one.
    assert!(!html.contains(r#"id="coco-hint""#));
}
