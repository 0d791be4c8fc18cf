//! The Open Inference Protocol (KServe v2) over real sockets: REST (`rest`), the binary
//! tensor data extension (`binary`), the model repository with reloads under load
//! (`repository`), changed model files reloaded on their own (`watch`), gRPC with a tonic
//! client (`grpc`), and their API description (`openapi`). The Python interoperability test
//! with tritonclient is `interop`.

#[path = "../common/mod.rs"]
mod common;

mod binary;
mod grpc;
mod interop;
mod openapi;
mod repository;
mod rest;
mod watch;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use common::{b64, shapes_image, TestServer};

/// A JSON inference request for `image` with `parameters`.
pub fn infer_json(image: &[u8], parameters: Value) -> Value {
    json!({
        "id": "req-1",
        "parameters": parameters,
        "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [b64(image)]}],
    })
}

/// POSTs a JSON inference request to `/v2/models/{model}/infer`.
pub async fn infer(server: &TestServer, model: &str, body: &Value) -> reqwest::Response {
    server
        .client
        .post(server.url(&format!("/v2/models/{model}/infer")))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Checks an `{"error": ...}` answer and returns the words.
pub async fn error(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status().as_u16(), status, "status");
    let body: Value = response.json().await.unwrap();
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("an error answer: {body}"))
        .to_owned()
}

/// The output called `name` of a JSON answer.
pub fn output<'a>(answer: &'a Value, name: &str) -> &'a Value {
    answer["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no output {name} in {answer}"))
}

/// The shapes fixture's detections through `POST /v1/detect` (the reference answer).
pub async fn v1_detections(server: &TestServer, image: &[u8]) -> Value {
    let response = common::post_png(server, "/v1/detect", image.to_vec()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["detections"].clone()
}

/// The detections of a v1 answer as the four OIP tensors' data.
pub fn as_tensors(detections: &Value) -> (Vec<f64>, Vec<f64>, Vec<String>, Vec<i64>) {
    let list = detections.as_array().unwrap();
    let boxes = list
        .iter()
        .flat_map(|d| ["x1", "y1", "x2", "y2"].map(|k| d["box"][k].as_f64().unwrap()))
        .collect();
    let scores = list.iter().map(|d| d["score"].as_f64().unwrap()).collect();
    let labels = list
        .iter()
        .map(|d| d["label"].as_str().unwrap().to_owned())
        .collect();
    let ids = list
        .iter()
        .map(|d| d["class_id"].as_i64().unwrap())
        .collect();
    (boxes, scores, labels, ids)
}

/// Clients that keep asking `model` for an inference until stopped; every answer must be a
/// full success (a reload must never fail a request).
pub struct Busy {
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<usize>>,
}

impl Busy {
    pub fn start(
        server: &Arc<TestServer>,
        image: &Arc<Vec<u8>>,
        model: &str,
        clients: usize,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..clients)
            .map(|_| {
                let (server, image, stop) =
                    (Arc::clone(server), Arc::clone(image), Arc::clone(&stop));
                let model = model.to_owned();
                tokio::spawn(async move {
                    let mut answered = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let response = infer(&server, &model, &infer_json(&image, json!({}))).await;
                        let status = response.status();
                        let body: Value = response.json().await.unwrap();
                        assert_eq!(status, 200, "a request during a reload failed: {body}");
                        answered += 1;
                    }
                    answered
                })
            })
            .collect();
        Self { stop, clients }
    }

    /// Stops the clients; how many answers they got in all.
    pub async fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = 0;
        for client in self.clients {
            total += client.await.unwrap();
        }
        total
    }
}

/// A fresh `--models-dir` holding the demo model as `shapes.onnx` and `spare.onnx`.
pub fn models_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let model = common::repo().join("models/shapes.onnx");
    for file in ["shapes.onnx", "spare.onnx"] {
        std::fs::copy(&model, dir.join(file)).unwrap();
    }
    dir
}

pub fn image() -> Vec<u8> {
    shapes_image().0
}
