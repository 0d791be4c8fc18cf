//! Slow, idle and too many connections: each is cut or refused while others are served.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(server: &TestServer) -> TcpStream {
    let addr = server.running.as_ref().unwrap().addr;
    TcpStream::connect(addr).await.unwrap()
}

/// Reads what the server sends until it closes the connection (or `limit` passes).
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&received).into_owned(), closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_dripping_its_headers_is_cut_while_others_are_served() {
    let server = TestServer::start(&["--header-timeout-secs", "1"]).await;
    let mut slow = connect(&server).await;
    let started = Instant::now();
    let drip = async {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: " {
            if slow.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Keep dripping header bytes that never end the head.
        loop {
            if slow.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let others = async {
        for _ in 0..5 {
            let r = server
                .client
                .get(server.url("/healthz"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "other clients are served meanwhile");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let cut = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(drip, others);
    })
    .await;
    assert!(cut.is_ok(), "the dripping client was never cut");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "cut at the header timeout, not before: {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let server = TestServer::start(&["--header-timeout-secs", "1"]).await;
    let mut stream = connect(&server).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        closed,
        "the idle connection is closed after the header timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_dripping_in_is_cut_with_408() {
    let server = TestServer::start(&["--body-timeout-secs", "1"]).await;
    let mut stream = connect(&server).await;
    stream
        .write_all(
            b"POST /v1/detect HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n\x89PNG",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        loop {
            if stream.write_all(b"x").await.is_err() {
                return stream;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            if started.elapsed() > Duration::from_secs(8) {
                return stream;
            }
        }
    });
    // The answer arrives while the client is still (slowly) sending.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut stream = writer.await.unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("urn:lookout:problem:body-timeout"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_answered_503_and_closed() {
    let server = TestServer::start(&["--max-connections", "3"]).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(&server).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = connect(&server).await;
    let (answer, closed) = read_until_closed(&mut extra, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(closed);
    drop(held);
    // Once the held connections go away, new ones are served again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ok = server
            .client
            .get(server.url("/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "never served again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A request whose client goes away stops: its place is freed for the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_for_a_client_that_went_away_stops() {
    let server = TestServer::start(&[
        "--sessions",
        "1",
        "--queue-depth",
        "0",
        "--allow-private-urls",
        "--url-timeout-secs",
        "30",
    ])
    .await;
    // A URL request to a server that never answers holds the only place...
    let stall = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stall_addr = stall.local_addr().unwrap();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = stall.accept().await {
            open.push(s);
        }
    });
    let mut client = connect(&server).await;
    let body = format!("{{\"url\": \"http://{stall_addr}/x.png\"}}");
    client
        .write_all(
            format!(
                "POST /v1/detect HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let (png, _) = common::shapes_image();
    let busy = || async {
        server
            .client
            .post(server.url("/v1/detect"))
            .header("content-type", "image/png")
            .body(png.clone())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while busy().await != 503 {
        assert!(
            Instant::now() < deadline,
            "the held request never took its place"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...until its client hangs up: then the place is free again.
    drop(client);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = busy().await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(
            Instant::now() < deadline,
            "the abandoned request kept its place"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
