//! The page as the server renders it: the upload form, its no-JavaScript post, and the upload
//! server function.

use crate::common::{shapes_image, TestServer};

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
