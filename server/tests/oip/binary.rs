//! The binary tensor data extension: a JSON header of `Inference-Header-Content-Length`
//! bytes followed by the inputs' raw data; binary outputs (BYTES among them) after the
//! answer's JSON header.

use serde_json::{json, Value};

use super::common::TestServer;
use super::{as_tensors, error, image, output, v1_detections};

/// One BYTES element: its length (4 bytes, little-endian), then its bytes.
fn bytes_element(data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(data);
    out
}

/// A binary request: the JSON header, then `binary`.
async fn post_binary(server: &TestServer, header: &Value, binary: &[u8]) -> reqwest::Response {
    let header = serde_json::to_vec(header).unwrap();
    let mut body = header.clone();
    body.extend_from_slice(binary);
    server
        .client
        .post(server.url("/v2/models/shapes/infer"))
        .header("inference-header-content-length", header.len())
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Splits a binary answer into its JSON header and each binary output's bytes, by name.
async fn split_answer(response: reqwest::Response) -> (Value, Vec<(String, Vec<u8>)>) {
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    let length: usize = response.headers()["inference-header-content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = response.bytes().await.unwrap();
    let header: Value = serde_json::from_slice(&body[..length]).unwrap();
    let mut at = length;
    let mut parts = Vec::new();
    for o in header["outputs"].as_array().unwrap() {
        if let Some(size) = o["parameters"]["binary_data_size"].as_u64() {
            assert!(
                o.get("data").is_none(),
                "a binary output has no JSON data: {o}"
            );
            parts.push((
                o["name"].as_str().unwrap().to_owned(),
                body[at..at + size as usize].to_vec(),
            ));
            at += size as usize;
        }
    }
    assert_eq!(
        at,
        body.len(),
        "the binary outputs fill the rest of the answer"
    );
    (header, parts)
}

fn f32s(raw: &[u8]) -> Vec<f64> {
    raw.chunks_exact(4)
        .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect()
}

fn strings(raw: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < raw.len() {
        let n = u32::from_le_bytes(raw[at..at + 4].try_into().unwrap()) as usize;
        out.push(String::from_utf8(raw[at + 4..at + 4 + n].to_vec()).unwrap());
        at += 4 + n;
    }
    out
}

#[tokio::test]
async fn binary_inputs_and_outputs_as_tritonclient_sends_them() {
    let server = TestServer::start(&[]).await;
    let image = image();
    let (boxes, scores, labels, ids) = as_tensors(&v1_detections(&server, &image).await);
    let element = bytes_element(&image);

    // Every output binary (`binary_data_output`, as tritonclient asks when it names none).
    let header = json!({
        "parameters": {"binary_data_output": true},
        "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                    "parameters": {"binary_data_size": element.len()}}],
    });
    let (head, parts) = split_answer(post_binary(&server, &header, &element).await).await;
    assert_eq!(head["model_name"], "shapes");
    let part = |name: &str| &parts.iter().find(|(n, _)| n == name).unwrap().1;
    let got = f32s(part("boxes"));
    assert_eq!(got.len(), boxes.len());
    assert!(got.iter().zip(&boxes).all(|(a, b)| (a - b).abs() < 1e-3));
    let got = f32s(part("scores"));
    assert!(got.iter().zip(&scores).all(|(a, b)| (a - b).abs() < 1e-5));
    assert_eq!(strings(part("labels")), labels, "the BYTES output, binary");
    let got: Vec<i64> = part("class_ids")
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(got, ids);

    // Per output: only the labels binary, the scores in JSON.
    let header = json!({
        "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                    "parameters": {"binary_data_size": element.len()}}],
        "outputs": [{"name": "labels", "parameters": {"binary_data": true}},
                    {"name": "scores", "parameters": {"binary_data": false}}],
    });
    let (head, parts) = split_answer(post_binary(&server, &header, &element).await).await;
    assert_eq!(parts.len(), 1);
    assert_eq!(strings(&parts[0].1), labels);
    assert_eq!(
        output(&head, "scores")["data"].as_array().unwrap().len(),
        labels.len()
    );

    // A binary request may still ask for a JSON answer.
    let header = json!({
        "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                    "parameters": {"binary_data_size": element.len()}}],
    });
    let response = post_binary(&server, &header, &element).await;
    assert_eq!(response.headers()["content-type"], "application/json");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(output(&answer, "labels")["data"], json!(labels));
}

#[tokio::test]
async fn broken_binary_requests_are_400s_in_words() {
    let server = TestServer::start(&[]).await;
    let element = bytes_element(&image());
    let input = |size: usize| {
        json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                           "parameters": {"binary_data_size": size}}]})
    };
    // More binary data than the inputs account for, and less.
    let words = error(
        post_binary(&server, &input(element.len() - 10), &element).await,
        400,
    )
    .await;
    assert!(
        words.contains("no input's binary_data_size accounts for"),
        "{words}"
    );
    let words = error(
        post_binary(&server, &input(element.len() + 10), &element).await,
        400,
    )
    .await;
    assert!(words.contains("bytes of binary data are left"), "{words}");
    // An element whose length runs past the data.
    let mut short = element.clone();
    short.truncate(element.len() - 5);
    let words = error(post_binary(&server, &input(short.len()), &short).await, 400).await;
    assert!(words.contains("but only"), "{words}");
    // A header length longer than the body.
    let response = server
        .client
        .post(server.url("/v2/models/shapes/infer"))
        .header("inference-header-content-length", "999999")
        .body("{}")
        .send()
        .await
        .unwrap();
    let words = error(response, 400).await;
    assert!(words.contains("Inference-Header-Content-Length"), "{words}");
}
