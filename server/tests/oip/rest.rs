//! REST: metadata, health, JSON inference against `/v1/detect`, and every refusal.

use serde_json::{json, Value};

use super::common::TestServer;
use super::{as_tensors, error, image, infer, infer_json, output, v1_detections};

#[tokio::test]
async fn metadata_and_health() {
    let server = TestServer::start(&[]).await;
    let get = |path: &str| server.client.get(server.url(path)).send();

    let meta: Value = get("/v2").await.unwrap().json().await.unwrap();
    assert_eq!(meta["name"], "lookout");
    let extensions = meta["extensions"].as_array().unwrap();
    for ext in ["binary_tensor_data", "model_repository"] {
        assert!(extensions.iter().any(|e| e == ext), "{meta}");
    }
    let live = get("/v2/health/live").await.unwrap();
    assert_eq!(live.status(), 200);
    assert_eq!(live.json::<Value>().await.unwrap(), json!({"live": true}));
    let ready = get("/v2/health/ready").await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap(), json!({"ready": true}));

    for path in ["/v2/models/shapes", "/v2/models/shapes/versions/1"] {
        let model: Value = get(path).await.unwrap().json().await.unwrap();
        assert_eq!(model["name"], "shapes");
        assert_eq!(model["versions"], json!(["1"]));
        assert_eq!(
            model["inputs"],
            json!([{"name": "image", "datatype": "BYTES", "shape": [1]}])
        );
        assert_eq!(
            model["outputs"],
            json!([
                {"name": "boxes", "datatype": "FP32", "shape": [-1, 4]},
                {"name": "scores", "datatype": "FP32", "shape": [-1]},
                {"name": "labels", "datatype": "BYTES", "shape": [-1]},
                {"name": "class_ids", "datatype": "INT64", "shape": [-1]},
            ])
        );
    }
    for path in [
        "/v2/models/shapes/ready",
        "/v2/models/shapes/versions/1/ready",
    ] {
        let ready = get(path).await.unwrap();
        assert_eq!(ready.status(), 200);
        assert_eq!(
            ready.json::<Value>().await.unwrap(),
            json!({"name": "shapes", "ready": true})
        );
    }
    let words = error(get("/v2/models/nope").await.unwrap(), 404).await;
    assert!(
        words.contains("no model called `nope`") && words.contains("`shapes`"),
        "{words}"
    );
    error(get("/v2/models/nope/ready").await.unwrap(), 404).await;
    let words = error(get("/v2/models/shapes/versions/7").await.unwrap(), 404).await;
    assert!(words.contains("no version `7`"), "{words}");
    error(get("/v2/unknown/route").await.unwrap(), 404).await;
}

#[tokio::test]
async fn json_inference_answers_what_v1_detect_answers() {
    let server = TestServer::start(&[]).await;
    let image = image();
    let reference = v1_detections(&server, &image).await;
    let (boxes, scores, labels, ids) = as_tensors(&reference);
    assert!(!labels.is_empty());

    for path in [
        "/v2/models/shapes/infer",
        "/v2/models/shapes/versions/1/infer",
    ] {
        let response = server
            .client
            .post(server.url(path))
            .json(&infer_json(&image, json!({"threshold": 0.5})))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["model_name"], "shapes");
        assert_eq!(answer["model_version"], "1");
        assert_eq!(answer["id"], "req-1");
        let n = labels.len() as i64;
        assert_eq!(output(&answer, "boxes")["shape"], json!([n, 4]));
        assert_eq!(output(&answer, "boxes")["datatype"], "FP32");
        let got: Vec<f64> =
            serde_json::from_value(output(&answer, "boxes")["data"].clone()).unwrap();
        assert!(
            got.iter().zip(&boxes).all(|(a, b)| (a - b).abs() < 1e-3),
            "{got:?} {boxes:?}"
        );
        let got: Vec<f64> =
            serde_json::from_value(output(&answer, "scores")["data"].clone()).unwrap();
        assert!(got.iter().zip(&scores).all(|(a, b)| (a - b).abs() < 1e-5));
        assert_eq!(output(&answer, "labels")["data"], json!(labels));
        assert_eq!(output(&answer, "labels")["datatype"], "BYTES");
        assert_eq!(output(&answer, "class_ids")["data"], json!(ids));
        assert_eq!(output(&answer, "class_ids")["datatype"], "INT64");
    }

    // Options as per-input parameters, outputs asked for by name (in that order).
    let mut body = infer_json(&image, json!({}));
    body["inputs"][0]["parameters"] = json!({"max_detections": 1, "tile": "off"});
    body["outputs"] = json!([{"name": "labels"}, {"name": "scores"}]);
    body.as_object_mut().unwrap().remove("id");
    let answer: Value = infer(&server, "shapes", &body).await.json().await.unwrap();
    let names: Vec<&str> = answer["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["labels", "scores"]);
    assert_eq!(output(&answer, "labels")["data"], json!([labels[0]]));
    // Without an id of its own, the answer carries the request's id (as the log does).
    assert!(
        answer["id"].as_str().is_some_and(|id| id.len() >= 32),
        "{answer}"
    );

    // A high threshold: no detections, empty tensors of the right shapes.
    let answer: Value = infer(
        &server,
        "shapes",
        &infer_json(&image, json!({"threshold": 1.0})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(output(&answer, "boxes")["shape"], json!([0, 4]));
    assert_eq!(output(&answer, "labels")["data"], json!([]));
}

#[tokio::test]
async fn refusals_speak_lookouts_words_and_statuses() {
    let server = TestServer::start(&["--max-body-bytes", "3000000"]).await;
    let image = image();
    let with_input = |input: Value| json!({"inputs": [input]});

    let words = error(
        infer(&server, "nope", &infer_json(&image, json!({}))).await,
        404,
    )
    .await;
    assert!(words.contains("no model called `nope`"), "{words}");

    let bad = with_input(
        json!({"name": "image", "datatype": "BYTES", "shape": [1], "data": ["@@not base64@@"]}),
    );
    let words = error(infer(&server, "shapes", &bad).await, 400).await;
    assert!(words.contains("base64"), "{words}");

    let words = error(infer(&server, "shapes", &json!({"inputs": []})).await, 400).await;
    assert!(words.contains("no input `image`"), "{words}");
    let other =
        with_input(json!({"name": "pixels", "datatype": "BYTES", "shape": [1], "data": ["AA=="]}));
    let words = error(infer(&server, "shapes", &other).await, 400).await;
    assert!(words.contains("unexpected input `pixels`"), "{words}");

    let fp32 =
        with_input(json!({"name": "image", "datatype": "FP32", "shape": [1], "data": [0.5]}));
    let words = error(infer(&server, "shapes", &fp32).await, 400).await;
    assert!(words.contains("must have datatype BYTES"), "{words}");

    let two = with_input(
        json!({"name": "image", "datatype": "BYTES", "shape": [2], "data": ["AA==", "AA=="]}),
    );
    let words = error(infer(&server, "shapes", &two).await, 400).await;
    assert!(words.contains("one image per request"), "{words}");
    let nodata = with_input(json!({"name": "image", "datatype": "BYTES", "shape": [1]}));
    error(infer(&server, "shapes", &nodata).await, 400).await;
    let number =
        with_input(json!({"name": "image", "datatype": "BYTES", "shape": [1], "data": [7]}));
    let words = error(infer(&server, "shapes", &number).await, 400).await;
    assert!(words.contains("not a number"), "{words}");

    // The options' validator is /v1/detect's: the same status and words.
    let v1 = server
        .client
        .post(server.url("/v1/detect?threshold=1.5"))
        .header("content-type", "image/png")
        .body(image.clone())
        .send()
        .await
        .unwrap();
    let v1_words = super::common::problem(v1, 422).await;
    let words = error(
        infer(
            &server,
            "shapes",
            &infer_json(&image, json!({"threshold": 1.5})),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(words, v1_words);
    let words = error(
        infer(
            &server,
            "shapes",
            &infer_json(&image, json!({"treshold": 0.5})),
        )
        .await,
        422,
    )
    .await;
    assert!(words.contains("unknown parameter `treshold`"), "{words}");
    let words = error(
        infer(&server, "shapes", &infer_json(&image, json!({"tile": [1]}))).await,
        400,
    )
    .await;
    assert!(
        words.contains("must be a boolean, a number or a string"),
        "{words}"
    );

    let mut unknown_output = infer_json(&image, json!({}));
    unknown_output["outputs"] = json!([{"name": "masks"}]);
    let words = error(infer(&server, "shapes", &unknown_output).await, 400).await;
    assert!(words.contains("unknown output `masks`"), "{words}");

    // Not an image, and a body over --max-body-bytes, as every door says them.
    let text = infer_json(b"hello, this is text", json!({}));
    error(infer(&server, "shapes", &text).await, 415).await;
    let big = infer_json(&vec![7u8; 4_000_000], json!({}));
    let words = error(infer(&server, "shapes", &big).await, 413).await;
    assert!(words.contains("larger than"), "{words}");
    let words = error(
        server
            .client
            .post(server.url("/v2/models/shapes/infer"))
            .body("{not json")
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(words.contains("not valid JSON"), "{words}");
}

#[tokio::test]
async fn the_key_guards_inference_and_metadata_not_health() {
    let server = TestServer::start(&["--api-key", "s3cret"]).await;
    let image = image();
    let words = error(
        infer(&server, "shapes", &infer_json(&image, json!({}))).await,
        401,
    )
    .await;
    assert!(words.contains("API key"), "{words}");
    let wrong = server
        .client
        .post(server.url("/v2/models/shapes/infer"))
        .bearer_auth("guess")
        .json(&infer_json(&image, json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.headers()["www-authenticate"], "Bearer");
    error(wrong, 401).await;
    let right = server
        .client
        .post(server.url("/v2/models/shapes/infer"))
        .bearer_auth("s3cret")
        .json(&infer_json(&image, json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    let meta = server
        .client
        .get(server.url("/v2/models/shapes"))
        .send()
        .await
        .unwrap();
    error(meta, 401).await;
    for open in [
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/shapes/ready",
    ] {
        let r = server.client.get(server.url(open)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{open}");
    }
}
