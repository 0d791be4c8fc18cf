//! `GET /v1/detect/stream` over a real socket with the real demo model: the answers, the
//! latest frame winning under a burst, bad frames, the key, the Origin, the limits, idle
//! streams and shutdown.
//!
//! In files by concern: `answers` (detections, the burst, bad frames), `refusals` (what is
//! checked before the upgrade: the key, the Origin, the stream limit, the query) and `closing`
//! (an oversized frame, shutdown, an idle stream).
//!
//! The tests take turns (one lock): the burst test measures time, and a server next door
//! running its own model would make that measurement meaningless.

#[path = "../common/mod.rs"]
mod common;

mod answers;
mod closing;
mod refusals;

use std::time::{Duration, Instant};

use axum::http::header;
use common::{gauge, problem, shapes_image, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The shapes fixture at 640x480 as a JPEG: a camera-sized frame.
fn camera_frame() -> Vec<u8> {
    let (png, _) = shapes_image();
    let picture = image::load_from_memory(&png).unwrap().to_rgb8();
    let small = image::imageops::resize(&picture, 640, 480, image::imageops::FilterType::Triangle);
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&small)
        .unwrap();
    out.into_inner()
}

fn ws_url(server: &TestServer, query: &str) -> String {
    format!(
        "{}/v1/detect/stream{query}",
        server.base.replace("http://", "ws://")
    )
}

/// Opens a stream with these extra headers; panics if it is refused.
async fn open(server: &TestServer, query: &str, headers: &[(&str, &str)]) -> (Ws, Option<String>) {
    let mut request = ws_url(server, query).into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let (ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the stream opens");
    let protocol = response
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .map(|v| v.to_str().unwrap().to_owned());
    (ws, protocol)
}

/// An upgrade request sent as plain HTTP, for the answers that refuse it.
async fn upgrade(server: &TestServer, query: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = server
        .client
        .get(server.url(&format!("/v1/detect/stream{query}")))
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// The next text answer (skipping control frames), as JSON.
async fn next_answer(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("an answer within 30 s")
            .expect("the stream is open")
            .expect("a message");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

/// The close frame the server ends the stream with: (code, reason).
async fn next_close(ws: &mut Ws, within: Duration) -> (CloseCode, String) {
    loop {
        let message = tokio::time::timeout(within, ws.next())
            .await
            .expect("closed in time")
            .expect("a close frame before the end")
            .expect("a message");
        if let Message::Close(frame) = message {
            let frame = frame.expect("a close code");
            return (frame.code, frame.reason.to_string());
        }
    }
}

async fn send(ws: &mut Ws, bytes: &[u8]) {
    ws.send(Message::binary(bytes.to_vec())).await.unwrap();
}

/// (label, box, score) of every detection in an answer.
fn detections(answer: &Value) -> Vec<(String, [f64; 4], f64)> {
    answer["detections"]
        .as_array()
        .unwrap_or_else(|| panic!("no detections in {answer}"))
        .iter()
        .map(|d| {
            let b = &d["box"];
            let c = |k: &str| b[k].as_f64().unwrap();
            (
                d["label"].as_str().unwrap().to_owned(),
                [c("x1"), c("y1"), c("x2"), c("y2")],
                d["score"].as_f64().unwrap(),
            )
        })
        .collect()
}

async fn post_detect(server: &TestServer, query: &str, bytes: &[u8]) -> reqwest::Response {
    server
        .client
        .post(server.url(&format!("/v1/detect{query}")))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap()
}
