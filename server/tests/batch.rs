//! Dataset exports on `POST /v1/detect`, and `POST /v1/detect/batch`: every export read back
//! by an independent reader with the boxes of the JSON answer, a bad item among good ones,
//! the limits, the key, and the fairness rule (a single request is not starved by a batch).
//!
//! Needs the readers' venv: `LOOKOUT_PYREADERS=$(scripts/pyreaders/venv.sh) cargo test -p
//! server --test batch` (`make unit` sets it).

mod common;
mod pyreaders;

use std::io::Read;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use common::{fixture, gauge, problem, TestServer};

const FORMATS: [(&str, &str); 4] = [
    ("coco", "lookout-coco.json"),
    ("yolo", "lookout-yolo.zip"),
    ("voc", "lookout-voc.zip"),
    ("csv", "lookout-detections.csv"),
];

fn shapes(i: usize) -> Vec<u8> {
    fixture(&format!("detector/tests/fixtures/shapes/{i:04}.png"))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn png_of(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn image_part(bytes: Vec<u8>, name: &str) -> Part {
    Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str("image/png")
        .unwrap()
}

fn header_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Checks an export answer's headers and returns its bytes.
async fn download(response: reqwest::Response, file_name: &str) -> Vec<u8> {
    assert_eq!(response.status(), 200, "{file_name}");
    assert_eq!(
        header_of(&response, "content-disposition").as_deref(),
        Some(format!("attachment; filename=\"{file_name}\"").as_str())
    );
    response.bytes().await.unwrap().to_vec()
}

/// The entries of a ZIP: name and bytes.
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP");
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            (entry.name().unwrap().into_owned(), data)
        })
        .collect()
}

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

/// A multipart batch: good images with awkward names and a non-image in the middle.
fn mixed_batch(format: &str) -> Form {
    Form::new()
        .part("image", image_part(shapes(0), "a/photo.png"))
        .part("image", image_part(shapes(1), "photo.png"))
        .part(
            "image",
            Part::bytes(b"just some notes".to_vec())
                .file_name("notes.txt")
                .mime_str("text/plain")
                .unwrap(),
        )
        .part("image", image_part(shapes(2), "../c.png"))
        .text("format", format.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answers_every_image_in_order_and_exports_the_good_ones() {
    let server = TestServer::start(&[]).await;
    let url = server.url("/v1/detect/batch");
    let answer: Value = server
        .client
        .post(&url)
        .multipart(mixed_batch("json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(
        (answer["succeeded"].as_u64(), answer["failed"].as_u64()),
        (Some(3), Some(1))
    );
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a/photo.png", "photo.png", "notes.txt", "../c.png"]);
    // The bad item has exactly the problem a single request for it gets.
    let single = server
        .client
        .post(server.url("/v1/detect"))
        .multipart(Form::new().part(
            "image",
            Part::bytes(b"just some notes".to_vec()).file_name("notes.txt"),
        ))
        .send()
        .await
        .unwrap();
    let status = single.status().as_u16();
    let single: Value = single.json().await.unwrap();
    assert_eq!(results[2]["status"], status);
    assert_eq!(results[2]["problem"]["type"], single["type"]);
    assert_eq!(results[2]["problem"]["status"], status);
    assert!(results[2].get("result").is_none());
    // The good ones are what single requests answer.
    for (i, r) in [(0, &results[0]), (1, &results[1]), (2, &results[3])] {
        assert_eq!(r["status"], 200);
        let alone: Value = common::post_png(&server, "/v1/detect", shapes(i))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(r["result"]["detections"], alone["detections"], "item {i}");
        assert_eq!(r["result"]["image"], alone["image"]);
    }

    // Every export over the good items, read back; the failed one is named in a header.
    let exported = ["photo.png", "photo-2.png", "c.png"];
    let dir = pyreaders::fresh_dir("v1_batch_exports");
    let mut files = serde_json::Map::new();
    for (format, file_name) in FORMATS {
        let response = server
            .client
            .post(&url)
            .multipart(mixed_batch(format))
            .send()
            .await
            .unwrap();
        assert_eq!(
            header_of(&response, "lookout-failed-items").as_deref(),
            Some("2")
        );
        let bytes = download(response, file_name).await;
        std::fs::write(dir.join(file_name), bytes).unwrap();
        files.insert(format.to_owned(), json!(file_name));
    }
    let images = [&results[0], &results[1], &results[3]]
        .iter()
        .zip(exported)
        .map(|(r, name)| {
            pyreaders::expected_image(
                name,
                r["result"]["image"]["width"].as_u64().unwrap(),
                r["result"]["image"]["height"].as_u64().unwrap(),
                &r["result"]["detections"],
                0.5,
            )
        })
        .collect();
    pyreaders::check(
        &dir,
        Value::Object(files),
        pyreaders::shapes_classes(),
        images,
    );

    let response = server
        .client
        .post(&url)
        .multipart(mixed_batch("zip"))
        .send()
        .await
        .unwrap();
    let entries = unzip(&download(response, "lookout-annotated.zip").await);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["photo.png", "photo-2.png", "c.png"]);
    for (_, png) in &entries {
        image::load_from_memory(png).expect("an annotated PNG");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_batch_mixes_base64_and_urls_and_isolates_bad_items() {
    let images = common::image_server("127.0.0.1").await;
    let server = TestServer::start(&["--allow-private-urls"]).await;
    let good = shapes(3);
    let body = json!({
        "images": [
            {"image": b64(&good), "name": "first.png"},
            {"image": "this is not base64 !!!"},
            {"url": format!("http://{images}/image.png")},
            {"image": b64(&good), "url": format!("http://{images}/image.png")},
            {"url": format!("http://{images}/missing")},
            {},
            {"image": b64(&shapes(2)[..5000])},
            {"image": b64(&good)},
        ],
        "threshold": 0.3,
        "max_detections": 2,
    });
    let response = server
        .client
        .post(server.url("/v1/detect/batch"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let results = answer["results"].as_array().unwrap();
    let statuses: Vec<u64> = results
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 400, 200, 422, 502, 422, 400, 200]);
    let kinds: Vec<&str> = results
        .iter()
        .map(|r| r["problem"]["type"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        kinds,
        [
            "-",
            "urn:lookout:problem:bad-request",
            "-",
            "urn:lookout:problem:invalid-value",
            "urn:lookout:problem:url-fetch-failed",
            "urn:lookout:problem:missing-image",
            "urn:lookout:problem:corrupt-image",
            "-"
        ]
    );
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(names[0], "first.png");
    assert_eq!(names[2], "image.png", "a URL item is named after its file");
    assert_eq!(
        names[7], "image.png",
        "no name: image.<ext> after the format"
    );
    for i in [0, 2, 7] {
        let detections = results[i]["result"]["detections"].as_array().unwrap();
        assert_eq!(detections.len(), 2, "max_detections applies to every item");
        assert!(detections
            .iter()
            .all(|d| d["score"].as_f64().unwrap() >= 0.3));
    }
    // The same bad inputs as single requests give the same problems.
    for (i, single) in [
        (1, json!({"image": "this is not base64 !!!"})),
        (6, json!({"image": b64(&shapes(2)[..5000])})),
    ] {
        let r = server
            .client
            .post(server.url("/v1/detect"))
            .json(&single)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16() as u64, statuses[i]);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["type"], results[i]["problem"]["type"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_limits_and_refusals() {
    let server = TestServer::start(&[
        "--max-batch-images",
        "2",
        "--max-body-bytes",
        "600000",
        "--max-batch-body-bytes",
        "1500000",
    ])
    .await;
    let url = server.url("/v1/detect/batch");
    let small = png_of(64, 64);
    let three = || {
        Form::new()
            .part("image", image_part(small.clone(), "a.png"))
            .part("image", image_part(small.clone(), "b.png"))
            .part("image", image_part(small.clone(), "c.png"))
    };
    let d = problem(
        server
            .client
            .post(&url)
            .multipart(three())
            .send()
            .await
            .unwrap(),
        413,
    )
    .await;
    assert!(d.contains("more than 2 images"), "{d}");
    let json_three = json!({"images": [{"image": "AA"}, {"image": "AA"}, {"image": "AA"}]});
    problem(
        server
            .client
            .post(&url)
            .json(&json_three)
            .send()
            .await
            .unwrap(),
        413,
    )
    .await;
    // Two fit, although together they are over the single-image body limit: a batch has
    // its own (--max-batch-body-bytes).
    let two = Form::new()
        .part("image", image_part(shapes(1), "a.png"))
        .part("image", image_part(shapes(3), "b.png"));
    let r = server
        .client
        .post(&url)
        .multipart(two)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A 1 MB image: too large alone on /v1/detect, taken in a batch.
    let one_mb = shapes(0);
    let d = problem(
        server
            .client
            .post(server.url("/v1/detect"))
            .header("content-type", "image/png")
            .body(one_mb.clone())
            .send()
            .await
            .unwrap(),
        413,
    )
    .await;
    assert!(d.contains("body"), "{d}");
    let r = server
        .client
        .post(&url)
        .multipart(Form::new().part("image", image_part(one_mb, "a.png")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The batch limit applies to the whole batch: two images of about 1 MB each are too much.
    let big = Form::new()
        .part("image", image_part(shapes(0), "a.png"))
        .part("image", image_part(shapes(4), "b.png"));
    let d = problem(
        server
            .client
            .post(&url)
            .multipart(big)
            .send()
            .await
            .unwrap(),
        413,
    )
    .await;
    assert!(d.contains("body"), "{d}");
    // No images, a picture format, an unknown option, an unknown model, a raw image body.
    let d = problem(
        server
            .client
            .post(&url)
            .json(&json!({"images": []}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(d.contains("no images"), "{d}");
    let one = || Form::new().part("image", image_part(shapes(0), "a.png"));
    let d = problem(
        server
            .client
            .post(format!("{url}?format=png"))
            .multipart(one())
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(d.contains("format=zip"), "{d}");
    problem(
        server
            .client
            .post(format!("{url}?colour=red"))
            .multipart(one())
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    problem(
        server
            .client
            .post(format!("{url}?model=nope"))
            .multipart(one())
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    problem(
        server
            .client
            .post(&url)
            .header(header::CONTENT_TYPE, "image/png")
            .body(shapes(0))
            .send()
            .await
            .unwrap(),
        415,
    )
    .await;
    problem(
        server
            .client
            .post(&url)
            .json(&json!({"images": [{"image": "AA", "colour": "red"}]}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_needs_the_key() {
    let server = TestServer::start(&["--api-key", "s3cret"]).await;
    let url = server.url("/v1/detect/batch");
    let one = || Form::new().part("image", image_part(shapes(0), "a.png"));
    problem(
        server
            .client
            .post(&url)
            .multipart(one())
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(
        server
            .client
            .post(&url)
            .json(&json!({"images": [{"image": b64(&shapes(0))}]}))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(
        server
            .client
            .post(&url)
            .bearer_auth("wrong")
            .multipart(one())
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    let r = server
        .client
        .post(&url)
        .bearer_auth("s3cret")
        .multipart(one())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A form may carry the key as a field, before the images.
    let form = Form::new()
        .text("api_key", "s3cret")
        .part("image", image_part(shapes(0), "a.png"));
    let r = server
        .client
        .post(&url)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn wait_until_running(server: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while gauge(server, "lookout_inferences_in_flight").await < 1.0 {
        assert!(Instant::now() < deadline, "nothing started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_request_is_answered_while_a_big_batch_runs() {
    let server = TestServer::start(&["--threads", "1", "--sessions", "1"]).await;
    let big = png_of(1333, 1000);
    let mut form = Form::new();
    for i in 0..10 {
        form = form.part("image", image_part(big.clone(), &format!("{i}.png")));
    }
    let batch = {
        let request = server
            .client
            .post(server.url("/v1/detect/batch"))
            .multipart(form);
        tokio::spawn(async move {
            let answer: Value = request.send().await.unwrap().json().await.unwrap();
            answer
        })
    };
    wait_until_running(&server).await;
    let single = common::post_png(&server, "/v1/detect", shapes(0)).await;
    assert_eq!(single.status(), 200);
    assert!(
        !batch.is_finished(),
        "the single request waited for the whole batch"
    );
    let answer = batch.await.unwrap();
    assert_eq!(answer["succeeded"], 10, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_items_wait_for_a_place_instead_of_failing() {
    // One place in all: a single request holds it, and the batch waits rather than failing.
    let server =
        TestServer::start(&["--threads", "1", "--sessions", "1", "--queue-depth", "0"]).await;
    let single = {
        let client = server.client.clone();
        let url = server.url("/v1/detect");
        let png = png_of(1333, 1333);
        tokio::spawn(async move {
            client
                .post(url)
                .header(header::CONTENT_TYPE, "image/png")
                .body(png)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    wait_until_running(&server).await;
    // A single request now is refused at once: the engine is full.
    let refused = common::post_png(&server, "/v1/detect", shapes(0)).await;
    assert_eq!(refused.status(), 503);
    let form = Form::new()
        .part("image", image_part(shapes(0), "a.png"))
        .part("image", image_part(shapes(1), "b.png"));
    let answer: Value = server
        .client
        .post(server.url("/v1/detect/batch"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["succeeded"], 2, "{answer}");
    assert_eq!(single.await.unwrap(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_route_is_documented() {
    let server = TestServer::start(&[]).await;
    let doc: Value = server
        .client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let batch = &doc["paths"]["/v1/detect/batch"]["post"];
    let description = batch["description"].as_str().unwrap();
    assert!(description.contains("Fairness"), "{description}");
    assert!(
        description.contains("Lookout-Failed-Items"),
        "{description}"
    );
    assert!(doc["components"]["schemas"]["BatchResponse"].is_object());
}
