//! URL ingestion: works against a trusted loopback server when allowed, and refuses every
//! way of pointing the server at its own network when not.

mod common;

use common::{image_server, problem, TestServer};
use serde_json::json;

async fn detect_url(server: &TestServer, url: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/v1/detect"))
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_and_detects_when_private_urls_are_allowed() {
    let server = TestServer::start(&["--allow-private-urls"]).await;
    let images = image_server("127.0.0.1").await;
    // Served as application/octet-stream: the bytes decide, not the Content-Type.
    let r = detect_url(&server, &format!("http://{images}/image.png")).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(!body["detections"].as_array().unwrap().is_empty());
    // Three redirects (redirect/2 -> /1 -> /0 -> image) are followed...
    assert_eq!(
        detect_url(&server, &format!("http://{images}/redirect/2"))
            .await
            .status(),
        200
    );
    // ...a fourth is not.
    let d = problem(
        detect_url(&server, &format!("http://{images}/redirect/3")).await,
        400,
    )
    .await;
    assert!(d.contains("redirected more than 3 times"), "{d}");
    let d = problem(
        detect_url(&server, &format!("http://{images}/missing")).await,
        502,
    )
    .await;
    assert!(d.contains("404"), "{d}");
    // Nothing listens on port 9 of 127.0.0.1 here.
    problem(detect_url(&server, "http://127.0.0.1:9/x.png").await, 502).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_slow_bodies_are_cut_off() {
    let server = TestServer::start(&[
        "--allow-private-urls",
        "--url-max-bytes",
        "1000000",
        "--url-timeout-secs",
        "1",
    ])
    .await;
    let images = image_server("127.0.0.1").await;
    let d = problem(
        detect_url(&server, &format!("http://{images}/big")).await,
        413,
    )
    .await;
    assert!(d.contains("larger than"), "{d}");
    let started = std::time::Instant::now();
    let d = problem(
        detect_url(&server, &format!("http://{images}/slow")).await,
        504,
    )
    .await;
    assert!(d.contains("1 seconds"), "{d}");
    assert!(started.elapsed().as_secs() < 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_private_address_form_is_refused_by_default() {
    let server = TestServer::start(&[]).await;
    let images = image_server("127.0.0.1").await;
    let port = images.port();
    for (url, why) in [
        (format!("http://127.0.0.1:{port}/image.png"), "loopback"),
        // A name is refused without saying what it resolves to (no DNS oracle).
        (
            format!("http://localhost:{port}/image.png"),
            "not a public address",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "link-local",
        ),
        ("http://10.0.0.1/".to_owned(), "private"),
        ("http://192.168.1.1/".to_owned(), "private"),
        ("http://172.16.5.4/".to_owned(), "private"),
        ("http://100.64.0.1/".to_owned(), "carrier-grade NAT"),
        ("http://0.0.0.0/".to_owned(), "unspecified"),
        ("http://224.0.0.1/".to_owned(), "multicast"),
        ("http://[::1]/".to_owned(), "loopback"),
        ("http://[::ffff:127.0.0.1]/".to_owned(), "IPv4-mapped"),
        ("http://[64:ff9b::a9fe:a9fe]/".to_owned(), "NAT64"),
        ("http://[fe80::1]/".to_owned(), "link-local"),
        ("http://[fd00::1]/".to_owned(), "unique-local"),
        (format!("http://2130706433:{port}/image.png"), "loopback"),
        (format!("http://0x7f.0.0.1:{port}/image.png"), "loopback"),
        (format!("http://0177.0.0.1:{port}/image.png"), "loopback"),
        (format!("http://127.1:{port}/image.png"), "loopback"),
        ("ftp://example.com/a.png".to_owned(), "only http and https"),
        ("file:///etc/passwd".to_owned(), "only http and https"),
        ("not a url".to_owned(), "not a valid URL"),
    ] {
        let d = problem(detect_url(&server, &url).await, 400).await;
        assert!(d.contains(why), "{url}: {d}");
        if url.contains("localhost") {
            assert!(!d.contains("127.0.0.1"), "{url}: {d}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_into_private_space_is_refused_at_the_hop() {
    // 127.0.0.2 plays a trusted network (allow-listed); 127.0.0.1 stays forbidden.
    let server = TestServer::start(&["--allow-cidr", "127.0.0.2/32"]).await;
    let trusted = image_server("127.0.0.2").await;
    let inside = image_server("127.0.0.1").await;
    let ok = detect_url(&server, &format!("http://{trusted}/image.png")).await;
    assert_eq!(
        ok.status(),
        200,
        "the allow-list lets the trusted network through"
    );
    let hop = format!("http://{trusted}/to/http://{inside}/image.png");
    let d = problem(detect_url(&server, &hop).await, 400).await;
    assert!(d.contains("loopback"), "{d}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_url_server_function_uses_the_same_rules() {
    let server = TestServer::start(&[]).await;
    let r = server
        .client
        .post(server.url("/api/detect_url"))
        .form(&[("url", "http://169.254.169.254/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("link-local"),
        "{body}"
    );
}
