//! Big photos through the server: a 12-megapixel JPEG is answered in its own pixels from a
//! reduced decode, drawn on at full size, and (`tile=auto`) looked at tile by tile on every
//! door, with the tile options validated like the others.

mod common;

use axum::http::header;
use base64::Engine as _;
use common::TestServer;
use serde_json::Value;

/// A `width` x `height` grey JPEG with the first shapes fixture (640x480, objects 32-200 px)
/// pasted at its own scale in several places; its objects' (label, box).
fn scene(width: u32, height: u32) -> (Vec<u8>, Vec<(String, [f32; 4])>) {
    let (png, objects) = common::shapes_image();
    let small = image::load_from_memory(&png).unwrap().to_rgb8();
    let mut big = image::RgbImage::from_pixel(width, height, image::Rgb([128, 128, 128]));
    let mut truth = Vec::new();
    let spots = [
        (0.02, 0.03),
        (0.7, 0.05),
        (0.3, 0.45),
        (0.6, 0.7),
        (0.05, 0.75),
    ];
    for (fx, fy) in spots {
        let (ox, oy) = ((fx * width as f32) as u32, (fy * height as f32) as u32);
        if ox + 640 > width || oy + 480 > height {
            continue;
        }
        image::imageops::replace(&mut big, &small, i64::from(ox), i64::from(oy));
        for (label, b) in &objects {
            truth.push((
                label.clone(),
                [
                    b[0] + ox as f32,
                    b[1] + oy as f32,
                    b[2] + ox as f32,
                    b[3] + oy as f32,
                ],
            ));
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(&big)
        .unwrap();
    (out.into_inner(), truth)
}

fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let ix = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let iy = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// The share of `truth` found (right label, IoU >= 0.5) in a `DetectResponse`.
fn recall(response: &serde_json::Value, truth: &[(String, [f32; 4])]) -> f64 {
    let found: Vec<(String, [f32; 4])> = response["detections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let b = &d["box"];
            let v = |k: &str| b[k].as_f64().unwrap() as f32;
            (
                d["label"].as_str().unwrap().to_owned(),
                [v("x1"), v("y1"), v("x2"), v("y2")],
            )
        })
        .collect();
    let hits = truth
        .iter()
        .filter(|(label, b)| found.iter().any(|(l, f)| l == label && iou(*f, *b) >= 0.5))
        .count();
    hits as f64 / truth.len() as f64
}

async fn json(response: reqwest::Response) -> serde_json::Value {
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tile_auto_finds_small_objects_on_every_door() {
    let server = TestServer::start(&["--allow-private-urls"]).await;
    let (jpeg, truth) = scene(2666, 2000);
    let raw = |query: &str| {
        server
            .client
            .post(server.url(&format!("/v1/detect{query}")))
            .header(header::CONTENT_TYPE, "image/jpeg")
            .body(jpeg.clone())
            .send()
    };
    let plain = json(raw("").await.unwrap()).await;
    assert_eq!(
        (
            plain["image"]["width"].as_u64(),
            plain["image"]["height"].as_u64()
        ),
        (Some(2666), Some(2000))
    );
    let tiled = json(raw("?tile=auto").await.unwrap()).await;
    // The answer says what ran: no `tiles` unless asked; the tiles' number and size when so.
    assert!(plain.get("tiles").is_none(), "{plain}");
    assert!(tiles_ran(&tiled) >= 4, "{}", tiled["tiles"]);
    assert_eq!(tiled["tiles"]["skipped"], 0);
    assert!(tiled["tiles"]["width"].as_u64().unwrap() < 2666);
    let (r_plain, r_tiled) = (recall(&plain, &truth), recall(&tiled, &truth));
    assert!(
        r_tiled >= 0.9 && r_tiled > r_plain,
        "recall {r_plain} -> {r_tiled}"
    );
    // tile=off is the default; the overlap is accepted with tiling on.
    assert_eq!(
        recall(&json(raw("?tile=off").await.unwrap()).await, &truth),
        r_plain
    );
    let tiled_overlap = json(raw("?tile=auto&tile_overlap=0.3").await.unwrap()).await;
    assert!(recall(&tiled_overlap, &truth) >= 0.9);

    let part = || {
        reqwest::multipart::Part::bytes(jpeg.clone())
            .file_name("photo.jpg")
            .mime_str("image/jpeg")
            .unwrap()
    };
    for path in ["/v1/detect", "/api/detect_upload"] {
        let form = reqwest::multipart::Form::new()
            .text("tile", "auto")
            .text("tile_overlap", "0.25")
            .part("image", part());
        let body = json(
            server
                .client
                .post(server.url(path))
                .multipart(form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(recall(&body, &truth) >= 0.9, "{path}");
        assert!(tiles_ran(&body) >= 4, "{path}: {}", body["tiles"]);
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&jpeg);
    let body = json(
        server
            .client
            .post(server.url("/v1/detect"))
            .json(&serde_json::json!({ "image": b64, "tile": "auto", "tile_overlap": 0.2 }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(recall(&body, &truth) >= 0.9, "JSON");
    assert!(tiles_ran(&body) >= 4, "JSON: {}", body["tiles"]);
    let batch = json(
        server
            .client
            .post(server.url("/v1/detect/batch"))
            .json(&serde_json::json!({ "images": [{ "image": b64 }], "tile": "auto" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let item = &batch["results"][0];
    assert_eq!(item["status"], 200, "{batch}");
    assert!(recall(&item["result"], &truth) >= 0.9, "batch: {item}");
    assert!(tiles_ran(&item["result"]) >= 4, "batch: {item}");

    // The URL doors: the API's JSON `url` and the page's server function (a form, as the
    // browser sends it), both fetching the same photo from a loopback host.
    let images = common::bytes_server(jpeg.clone()).await;
    let url = format!("http://{images}/photo.jpg");
    let by_api = server
        .client
        .post(server.url("/v1/detect"))
        .json(&serde_json::json!({ "url": url, "tile": "auto" }));
    let by_page = server
        .client
        .post(server.url("/api/detect_url"))
        .form(&[("url", url.as_str()), ("tile", "auto")]);
    for (door, request) in [("/v1/detect url", by_api), ("/api/detect_url", by_page)] {
        let answer = json(request.send().await.unwrap()).await;
        // The page's URL door carries the same result beside the fetched picture's path.
        let body = answer.get("result").cloned().unwrap_or(answer);
        assert!(
            recall(&body, &truth) >= 0.9 && recall(&body, &truth) > r_plain,
            "{door}: {}",
            recall(&body, &truth)
        );
        assert!(tiles_ran(&body) >= 4, "{door}: {}", body["tiles"]);
    }
}

/// How many tiles an answer says ran.
fn tiles_ran(body: &Value) -> u64 {
    body["tiles"]["count"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tile_options_are_validated_on_every_door() {
    let server = TestServer::start(&[]).await;
    let (jpeg, _) = scene(700, 500);
    for query in [
        "?tile=maybe",
        "?tile_overlap=0.9",
        "?tile=auto&tile_overlap=-1",
        "?tile_overlap=lots",
    ] {
        let response = server
            .client
            .post(server.url(&format!("/v1/detect{query}")))
            .header(header::CONTENT_TYPE, "image/jpeg")
            .body(jpeg.clone())
            .send()
            .await
            .unwrap();
        let detail = common::problem(response, 422).await;
        assert!(detail.contains("tile"), "{query}: {detail}");
    }
    let form = reqwest::multipart::Form::new()
        .text("tile", "sometimes")
        .part(
            "image",
            reqwest::multipart::Part::bytes(jpeg.clone())
                .mime_str("image/jpeg")
                .unwrap(),
        );
    let response = server
        .client
        .post(server.url("/v1/detect"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(common::problem(response, 422).await.contains("tile"));
    let response = server
        .client
        .post(server.url("/v1/detect"))
        .json(&serde_json::json!({ "image": base64::engine::general_purpose::STANDARD.encode(&jpeg), "tile_overlap": 0.75 }))
        .send()
        .await
        .unwrap();
    assert!(common::problem(response, 422)
        .await
        .contains("tile_overlap"));
}

/// A 12 MP JPEG answered in JSON is decoded at half scale, yet the answer is in the
/// original's pixels; asked for a PNG, the picture is drawn at full size.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_twelve_megapixel_jpeg_is_answered_in_its_own_pixels() {
    let server = TestServer::start(&[]).await;
    let (jpeg, truth) = scene(4000, 3000);
    let send = |query: &'static str| {
        server
            .client
            .post(server.url(&format!("/v1/detect{query}")))
            .header(header::CONTENT_TYPE, "image/jpeg")
            .body(jpeg.clone())
            .send()
    };
    let body = json(send("").await.unwrap()).await;
    assert_eq!(
        (
            body["image"]["width"].as_u64(),
            body["image"]["height"].as_u64()
        ),
        (Some(4000), Some(3000))
    );
    // The large objects survive the model's 3x shrink; they come back where they are.
    let large: Vec<(String, [f32; 4])> = truth
        .iter()
        .filter(|(_, b)| (b[2] - b[0]).min(b[3] - b[1]) >= 100.0)
        .cloned()
        .collect();
    assert!(!large.is_empty());
    assert!(recall(&body, &large) >= 0.8, "{body}");
    let png = send("?format=png").await.unwrap();
    assert_eq!(png.status(), 200);
    let picture = image::load_from_memory(&png.bytes().await.unwrap()).unwrap();
    assert_eq!((picture.width(), picture.height()), (4000, 3000));
}
