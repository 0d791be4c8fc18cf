//! What refuses a stream before the upgrade: the key, a foreign Origin, the stream limit, a
//! bad query; and the door in the API description.

use super::*;

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
    let doc = server.get_json("/openapi.json").await;
    let path = &doc["paths"]["/v1/detect/stream"]["get"];
    assert!(path["description"]
        .as_str()
        .unwrap()
        .contains("latest frame wins"));
    assert!(doc["components"]["schemas"]["StreamAnswer"].is_object());
}
