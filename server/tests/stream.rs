//! `GET /v1/detect/stream` over a real socket with the real demo model: the answers, the
//! latest frame winning under a burst, bad frames, the key, the Origin, the limits, idle
//! streams and shutdown.
//!
//! The tests take turns (one lock): the burst test measures time, and a server next door
//! running its own model would make that measurement meaningless.

mod common;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_gets_the_same_detections_as_v1_detect() {
    let _turn = SERIAL.lock().await;
    // A stream outlives the body and header timeouts of an HTTP request.
    let server =
        TestServer::start(&["--body-timeout-secs", "1", "--header-timeout-secs", "1"]).await;
    let (png, truth) = shapes_image();
    let jpeg = camera_frame();
    let (mut ws, protocol) = open(&server, "?threshold=0.3", &[]).await;
    assert_eq!(protocol, None, "no subprotocol offered, none selected");
    assert_eq!(gauge(&server, "lookout_streams_open").await, 1.0);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    for (number, frame) in [(1, &png), (2, &jpeg)] {
        send(&mut ws, frame).await;
        let answer = next_answer(&mut ws).await;
        assert_eq!(answer["frame"], number, "{answer}");
        assert_eq!(answer["dropped"], 0, "{answer}");
        assert!(answer.get("problem").is_none(), "{answer}");
        assert_eq!(answer["model"]["name"], "shapes");
        assert!(answer["timing_ms"]["total"].as_f64().unwrap() > 0.0);
        let expected: Value = post_detect(&server, "?threshold=0.3", frame)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(answer["image"], expected["image"]);
        assert_eq!(detections(&answer), detections(&expected), "frame {number}");
    }
    let first = {
        send(&mut ws, &png).await;
        next_answer(&mut ws).await
    };
    assert_eq!(first["frame"], 3);
    assert_eq!(detections(&first).len(), truth.len(), "{first}");

    let metrics = common::metrics_text(&server).await;
    for (name, at_least) in [
        ("lookout_stream_frames_total", 3.0),
        ("lookout_stream_frames_answered_total", 3.0),
    ] {
        let value: f64 = metrics
            .lines()
            .find(|l| l.starts_with(name) && l.contains("model=\"shapes\""))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in\n{metrics}"));
        assert!(value >= at_least, "{name} = {value}");
    }
    ws.close(None).await.unwrap();
    // The client's close is confirmed, and the stream's place is given back.
    while let Some(Ok(_)) = ws.next().await {}
    let deadline = Instant::now() + Duration::from_secs(5);
    while gauge(&server, "lookout_streams_open").await != 0.0 {
        assert!(
            Instant::now() < deadline,
            "the stream is still counted open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `count` frames as fast as the socket takes them while a reader collects the
/// answers until the one for frame `last`; returns the answers with their arrival times and
/// when the last frame went out.
async fn burst(
    ws: Ws,
    frame: &[u8],
    count: u64,
    last: u64,
) -> (Ws, Vec<(Value, Instant)>, Instant) {
    let (mut sink, mut incoming) = ws.split();
    let reader = tokio::spawn(async move {
        let mut answers = Vec::new();
        loop {
            let message = tokio::time::timeout(Duration::from_secs(30), incoming.next())
                .await
                .expect("answers keep coming")
                .expect("open")
                .expect("a message");
            if let Message::Text(text) = message {
                let answer: Value = serde_json::from_str(&text).unwrap();
                let done = answer["frame"] == last;
                answers.push((answer, Instant::now()));
                if done {
                    return (incoming, answers);
                }
            }
        }
    });
    for _ in 0..count {
        sink.send(Message::binary(frame.to_vec())).await.unwrap();
    }
    let sent = Instant::now();
    let (incoming, answers) = reader.await.unwrap();
    (sink.reunite(incoming).unwrap(), answers, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_is_answered_without_a_backlog() {
    let _turn = SERIAL.lock().await;
    let server = TestServer::start(&[]).await;
    let frame = camera_frame();
    // One model run on this machine, now: the median of a few requests after a warm-up.
    for _ in 0..3 {
        assert_eq!(post_detect(&server, "", &frame).await.status(), 200);
    }
    let mut runs = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        assert_eq!(post_detect(&server, "", &frame).await.status(), 200);
        runs.push(started.elapsed());
    }
    runs.sort();
    let run = runs[runs.len() / 2];

    let (ws, _) = open(&server, "", &[]).await;
    let (ws, answers, sent) = burst(ws, &frame, 100, 100).await;
    let frames: Vec<u64> = answers
        .iter()
        .map(|(a, _)| a["frame"].as_u64().unwrap())
        .collect();
    assert!(
        frames.windows(2).all(|w| w[0] < w[1]),
        "answers in frame order: {frames:?}"
    );
    assert_eq!(
        frames.last(),
        Some(&100),
        "the newest frame is answered last"
    );
    let dropped: u64 = answers
        .iter()
        .map(|(a, _)| a["dropped"].as_u64().unwrap())
        .sum();
    assert_eq!(
        answers.len() as u64 + dropped,
        100,
        "answered + dropped: {frames:?}"
    );
    assert!(dropped > 0, "a burst faster than the model drops frames");
    for (answer, _) in &answers {
        assert!(answer["detections"].is_array(), "{answer}");
    }
    let lag = answers.last().unwrap().1 - sent;
    eprintln!(
        "one run {run:?}; 100 frames: {} answered, {dropped} dropped; last answer {lag:?} after the last send",
        answers.len()
    );
    // The newest frame waits for at most the frame in the model, then runs: two runs, and a
    // margin for a shared machine's scheduling.
    assert!(
        lag <= run * 2 + run / 2 + Duration::from_millis(100),
        "the last answer came {lag:?} after the last send; one run takes {run:?}"
    );

    // Another client is served during a burst.
    let plain = {
        let client = server.client.clone();
        let url = server.url("/v1/detect");
        let body = frame.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            client
                .post(url)
                .header(header::CONTENT_TYPE, "image/jpeg")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    let (mut ws, answers, _) = burst(ws, &frame, 100, 200).await;
    assert_eq!(plain.await.unwrap(), 200, "a plain request during a burst");
    let dropped: u64 = answers
        .iter()
        .map(|(a, _)| a["dropped"].as_u64().unwrap())
        .sum();
    assert_eq!(answers.len() as u64 + dropped, 100);
    assert!(gauge(&server, "lookout_stream_frames_dropped_total").await >= 1.0);
    ws.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_frame_gets_a_problem_and_the_stream_goes_on() {
    let _turn = SERIAL.lock().await;
    let server = TestServer::start(&["--max-image-side", "700"]).await;
    let (png, _) = shapes_image();
    let (mut ws, _) = open(&server, "", &[]).await;

    send(&mut ws, b"this is not an image").await;
    let answer = next_answer(&mut ws).await;
    assert_eq!(answer["frame"], 1);
    assert_eq!(answer["problem"]["status"], 415, "{answer}");
    assert_eq!(
        answer["problem"]["type"],
        "urn:lookout:problem:not-an-image"
    );
    assert!(answer.get("detections").is_none());

    // Over a pixel limit (755 px wide, the limit is 700): that frame's problem only.
    send(&mut ws, &png).await;
    let answer = next_answer(&mut ws).await;
    assert_eq!(answer["frame"], 2);
    assert_eq!(answer["problem"]["status"], 413, "{answer}");
    assert_eq!(
        answer["problem"]["type"],
        "urn:lookout:problem:image-too-large"
    );

    // A text message is no frame: a problem without a frame number.
    ws.send(Message::text("hello")).await.unwrap();
    let answer = next_answer(&mut ws).await;
    assert!(answer.get("frame").is_none(), "{answer}");
    assert_eq!(answer["problem"]["status"], 415, "{answer}");

    send(&mut ws, &camera_frame()).await;
    let answer = next_answer(&mut ws).await;
    assert_eq!(answer["frame"], 3);
    assert!(!detections(&answer).is_empty(), "{answer}");
    ws.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_is_checked_before_the_upgrade() {
    let _turn = SERIAL.lock().await;
    let server = TestServer::start(&["--api-key", "s3cret key"]).await;
    let frame = camera_frame();

    let d = problem(upgrade(&server, "", &[]).await, 401).await;
    assert!(d.contains("needs an API key"), "{d}");
    let r = upgrade(&server, "", &[("authorization", "Bearer wrong")]).await;
    assert!(problem(r, 401).await.contains("not valid"));
    // base64url("wrong"), and something that is not base64url at all.
    for offered in [
        "lookout, lookout.bearer.d3Jvbmc",
        "lookout, lookout.bearer.*",
    ] {
        let r = upgrade(&server, "", &[("sec-websocket-protocol", offered)]).await;
        assert!(problem(r, 401).await.contains("not valid"), "{offered}");
    }

    // Programs: the Authorization header.
    let (mut ws, _) = open(&server, "", &[("authorization", "Bearer s3cret key")]).await;
    send(&mut ws, &frame).await;
    assert_eq!(next_answer(&mut ws).await["frame"], 1);
    ws.close(None).await.unwrap();

    // Browsers: the key as a subprotocol beside `lookout`, which the server selects.
    let key64 = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        "s3cret key",
    );
    let offered = format!("lookout, lookout.bearer.{key64}");
    let (mut ws, protocol) = open(&server, "", &[("sec-websocket-protocol", &offered)]).await;
    assert_eq!(
        protocol.as_deref(),
        Some("lookout"),
        "never the key's protocol"
    );
    send(&mut ws, &frame).await;
    assert_eq!(next_answer(&mut ws).await["frame"], 1);
    ws.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_site_cannot_open_a_stream() {
    let _turn = SERIAL.lock().await;
    let server = TestServer::start(&[]).await;
    for origin in [
        "https://evil.example",
        "null",
        "http://127.0.0.1.evil.example",
    ] {
        let r = upgrade(&server, "", &[("origin", origin)]).await;
        let d = problem(r, 403).await;
        assert!(d.contains("another site"), "{origin}: {d}");
    }
    // The page's own origin (and any program, which sends none) is welcome.
    let own = server.base.clone();
    let (mut ws, _) = open(&server, "", &[("origin", &own)]).await;
    send(&mut ws, &camera_frame()).await;
    assert_eq!(next_answer(&mut ws).await["frame"], 1);
    ws.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_frame_closes_the_stream_with_1009() {
    let _turn = SERIAL.lock().await;
    let server = TestServer::start(&["--max-body-bytes", "262144"]).await;
    let (mut ws, _) = open(&server, "", &[]).await;
    send(&mut ws, &camera_frame()).await;
    assert_eq!(next_answer(&mut ws).await["frame"], 1);
    send(&mut ws, &vec![0u8; 300_000]).await;
    let (code, reason) = next_close(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(code, CloseCode::Size);
    assert!(
        reason.contains("256 KiB"),
        "the reason names the limit: {reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_limit_refuses_one_more_before_the_upgrade() {
    let _turn = SERIAL.lock().await;
    let server = TestServer::start(&["--max-streams", "1"]).await;
    let (mut ws, _) = open(&server, "", &[]).await;
    let r = upgrade(&server, "", &[]).await;
    assert_eq!(r.headers()["retry-after"], "1");
    let d = problem(r, 503).await;
    assert!(d.contains("streams"), "{d}");
    // The open one still works, and once it closes its place is free again.
    send(&mut ws, &camera_frame()).await;
    assert_eq!(next_answer(&mut ws).await["frame"], 1);
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = ws.next().await {}
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = upgrade(&server, "", &[]).await;
        if r.status() == 101 {
            break;
        }
        assert!(Instant::now() < deadline, "the place was not given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_query_gets_the_same_problem_as_v1_detect() {
    let _turn = SERIAL.lock().await;
    let server = TestServer::start(&[]).await;
    let frame = camera_frame();
    for (query, status) in [
        ("?threshold=2", 422),
        ("?threshold=abc", 422),
        ("?max_detections=0", 422),
        ("?tile=sometimes", 422),
        ("?colour=red", 422),
        ("?model=nope", 404),
    ] {
        let streamed: Value = {
            let r = upgrade(&server, query, &[]).await;
            assert_eq!(r.status(), status, "{query}");
            r.json().await.unwrap()
        };
        let posted: Value = post_detect(&server, query, &frame)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(streamed, posted, "{query}");
    }
    let d = problem(upgrade(&server, "?format=png", &[]).await, 422).await;
    assert!(d.contains("JSON"), "{d}");
    // Not an upgrade at all.
    let r = server
        .client
        .get(server.url("/v1/detect/stream"))
        .send()
        .await
        .unwrap();
    assert!(problem(r, 400).await.contains("WebSocket"));
    // The door is in the API description.
    let doc: Value = server
        .client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = &doc["paths"]["/v1/detect/stream"]["get"];
    assert!(path["description"]
        .as_str()
        .unwrap()
        .contains("latest frame wins"));
    assert!(doc["components"]["schemas"]["StreamAnswer"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_streams_with_1001() {
    let _turn = SERIAL.lock().await;
    let mut server = TestServer::start(&[]).await;
    let (mut ws, _) = open(&server, "", &[]).await;
    send(&mut ws, &camera_frame()).await;
    assert_eq!(next_answer(&mut ws).await["frame"], 1);
    // A frame in the model when the server stops is answered before the goodbye.
    send(&mut ws, &camera_frame()).await;
    let running = server.running.take().unwrap();
    let stopping = tokio::spawn(running.shutdown(Duration::from_secs(20)));
    let mut answered = Vec::new();
    let (code, reason) = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                answered.push(serde_json::from_str::<Value>(&text).unwrap())
            }
            Ok(Some(Ok(Message::Close(Some(frame))))) => {
                break (frame.code, frame.reason.to_string())
            }
            other => panic!("expected answers then a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, CloseCode::Away, "{reason}");
    assert!(reason.contains("shutting down"), "{reason}");
    assert!(answered.len() <= 1, "{answered:?}");
    let started = Instant::now();
    stopping.await.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the shutdown did not wait out its grace"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_stream_is_closed() {
    let _turn = SERIAL.lock().await;
    let server = TestServer::start(&["--stream-idle-secs", "1"]).await;
    let (mut ws, _) = open(&server, "", &[]).await;
    // A frame keeps it alive; then silence closes it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    send(&mut ws, &camera_frame()).await;
    assert_eq!(next_answer(&mut ws).await["frame"], 1);
    let started = Instant::now();
    let (code, reason) = next_close(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(code, CloseCode::Normal);
    assert!(reason.contains("idle"), "{reason}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(700) && waited < Duration::from_secs(5),
        "closed after {waited:?}"
    );
}
