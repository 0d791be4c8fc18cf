//! Dataset exports on `POST /v1/detect`: every format of a single image, read back by an
//! independent reader with the boxes of the JSON answer.

use reqwest::header;
use reqwest::multipart::Form;
use serde_json::{json, Value};

use crate::common::{b64, problem, TestServer};
use crate::pyreaders;
use crate::{download, header_of, image_part, shapes, unzip, FORMATS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_export_of_a_single_image_reads_back_with_the_json_boxes() {
    let server = TestServer::start(&[]).await;
    let threshold = 0.6;
    let send = |format: &'static str, bytes: Vec<u8>, name: &'static str| {
        let form = Form::new()
            .part("image", image_part(bytes, name))
            .text("format", format);
        server
            .client
            .post(server.url(&format!("/v1/detect?threshold={threshold}")))
            .multipart(form)
            .send()
    };
    let png = shapes(1);
    let answer: Value = send("json", png.clone(), "dir/shot 1.png")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!answer["detections"].as_array().unwrap().is_empty());

    let dir = pyreaders::fresh_dir("v1_single_exports");
    let mut files = serde_json::Map::new();
    for (format, file_name) in FORMATS {
        let response = send(format, png.clone(), "dir/shot 1.png").await.unwrap();
        let bytes = download(response, file_name).await;
        std::fs::write(dir.join(file_name), bytes).unwrap();
        files.insert(format.to_owned(), json!(file_name));
    }
    let image = pyreaders::expected_image(
        "shot 1.png",
        answer["image"]["width"].as_u64().unwrap(),
        answer["image"]["height"].as_u64().unwrap(),
        &answer["detections"],
        threshold,
    );
    pyreaders::check(
        &dir,
        Value::Object(files),
        pyreaders::shapes_classes(),
        vec![image],
    );

    // Without a file name (a raw body): `image.<ext>` after the sniffed format.
    let csv = server
        .client
        .post(server.url("/v1/detect?format=csv"))
        .header(header::CONTENT_TYPE, "image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        header_of(&csv, "content-type").unwrap(),
        "text/csv; charset=utf-8"
    );
    let text = csv.text().await.unwrap();
    assert!(
        text.lines().nth(1).unwrap().starts_with("image.png,"),
        "{text}"
    );

    // format=zip: the annotated image as PNG, named after the upload.
    let response = send("zip", png.clone(), "shot.jpg").await.unwrap();
    assert_eq!(
        header_of(&response, "content-type").unwrap(),
        "application/zip"
    );
    let entries = unzip(&download(response, "lookout-annotated.zip").await);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0, "shot.png");
    let drawn = image::load_from_memory(&entries[0].1).unwrap();
    assert_eq!(
        (u64::from(drawn.width()), u64::from(drawn.height())),
        (
            answer["image"]["width"].as_u64().unwrap(),
            answer["image"]["height"].as_u64().unwrap()
        )
    );

    // JSON bodies take the format too (and a name).
    let coco: Value = server
        .client
        .post(server.url("/v1/detect"))
        .json(&json!({"image": b64(&png), "format": "coco", "name": "from-json.png"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(coco["images"][0]["file_name"], "from-json.png");
    let d = problem(
        server
            .client
            .post(server.url("/v1/detect?format=tiff"))
            .header(header::CONTENT_TYPE, "image/png")
            .body(png)
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(d.contains("coco, yolo, voc, csv, zip"), "{d}");
}
