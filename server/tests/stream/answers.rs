//! What a stream answers: the same detections as `/v1/detect`, a burst without a backlog, and
//! a problem for a bad frame without the stream ending.

use super::*;

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

    // The newest frame waits for at most the frame in the model, then runs: two runs, and a
    // margin for scheduling. A backlog would be the other 98 frames' runs. On a machine shared
    // with other work one burst can be descheduled, so the best of up to three counts.
    let bound = run * 2 + run / 2 + Duration::from_millis(100);
    let (mut ws, _) = open(&server, "", &[]).await;
    let mut lags = Vec::new();
    let mut last = 0;
    while lags.len() < 3 {
        last += 100;
        let (next, answers, sent) = burst(ws, &frame, 100, last).await;
        ws = next;
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
            Some(&last),
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
        lags.push(lag);
        if lag <= bound {
            break;
        }
    }
    let best = lags.iter().min().copied().unwrap_or_default();
    assert!(
        best <= bound,
        "the last answer came {lags:?} after the last send; one run takes {run:?}"
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
    let (mut ws, answers, _) = burst(ws, &frame, 100, last + 100).await;
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
