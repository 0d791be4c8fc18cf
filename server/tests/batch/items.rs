//! `POST /v1/detect/batch`: every image answered in order, a bad item among good ones isolated,
//! the good ones exported; multipart and JSON (base64 and URLs).

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::common::{self, b64, TestServer};
use crate::pyreaders;
use crate::{download, header_of, image_part, shapes, unzip, FORMATS};

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
