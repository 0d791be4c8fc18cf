//! How the server ends a stream: an oversized frame (1009), shutdown (1001), idleness (1000).

use super::*;

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
    let server = TestServer::start(&["--stream-idle-secs", "2"]).await;
    let (mut ws, _) = open(&server, "", &[]).await;
    // A frame keeps it alive; then silence closes it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    send(&mut ws, &camera_frame()).await;
    assert_eq!(next_answer(&mut ws).await["frame"], 1);
    let started = Instant::now();
    let (code, reason) = next_close(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(code, CloseCode::Normal);
    assert!(reason.contains("idle"), "{reason}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(8),
        "closed after {waited:?}"
    );
}
