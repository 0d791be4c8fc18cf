//! What every response and every log line can be trusted with: host names, request ids,
//! metric labels, headers, and errors that never echo a library's text.

mod common;

use common::TestServer;
use reqwest::header;

async fn get_with_host(server: &TestServer, path: &str, host: &str) -> reqwest::Response {
    server
        .client
        .get(server.url(path))
        .header(header::HOST, host)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_server_answers_only_to_loopback_names_unless_told() {
    let server = TestServer::start(&[]).await;
    for host in ["localhost:3000", "127.0.0.1", "[::1]:8080", "app.localhost"] {
        assert_eq!(
            get_with_host(&server, "/healthz", host).await.status(),
            200,
            "{host}"
        );
    }
    // A DNS-rebinding page reaches the server under its own name: refused, on every route.
    for path in ["/", "/healthz", "/v1/models", "/pkg/lookout.css"] {
        let r = get_with_host(&server, path, "attacker.example:3000").await;
        assert_eq!(r.status(), 403, "{path}");
        let detail = common::problem(r, 403).await;
        assert!(detail.contains("--allowed-host"), "{detail}");
    }
    let proxied = TestServer::start(&["--allowed-host", "lookout.example.com"]).await;
    assert_eq!(
        get_with_host(&proxied, "/healthz", "lookout.example.com")
            .await
            .status(),
        200
    );
    assert_eq!(
        get_with_host(&proxied, "/healthz", "other.example.com")
            .await
            .status(),
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_metric_labels_and_headers_are_bounded() {
    let server = TestServer::start(&[]).await;
    let id_of = |r: &reqwest::Response| {
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let kept = server
        .client
        .get(server.url("/healthz"))
        .header("x-request-id", "trace-42.a:b_c")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&kept), "trace-42.a:b_c", "a safe id is kept");
    for hostile in ["has spaces in it", &"x".repeat(200), "semi;colon"] {
        let r = server
            .client
            .get(server.url("/healthz"))
            .header("x-request-id", hostile)
            .send()
            .await
            .unwrap();
        let id = id_of(&r);
        assert_ne!(id, hostile);
        assert!(
            !id.is_empty() && id.len() <= 64,
            "replaced by a fresh id: {id}"
        );
    }

    // Methods a client invents fold into one label value.
    for method in ["FROBNICATE", "BREW", "X-CUSTOM"] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let _ = server
            .client
            .request(m, server.url("/healthz"))
            .send()
            .await
            .unwrap();
    }
    let metrics = common::metrics_text(&server).await;
    assert!(metrics.contains("method=\"other\""), "{metrics}");
    for method in ["FROBNICATE", "BREW", "X-CUSTOM"] {
        assert!(!metrics.contains(method), "{method} became a label");
    }

    // Every response, the page included, carries the same protective headers.
    for path in ["/", "/healthz", "/docs/", "/no/such/page"] {
        let r = server.client.get(server.url(path)).send().await.unwrap();
        let h = r.headers();
        assert_eq!(
            h.get("x-content-type-options").unwrap(),
            "nosniff",
            "{path}"
        );
        assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer", "{path}");
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{path}");
        let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_run_that_fails_says_nothing_of_the_library() {
    // An extreme image the shape check lets through would reach onnxruntime; the ones it
    // refuses are 422 with words for the person. Neither answer carries onnxruntime's text.
    let server = TestServer::start(&[]).await;
    for (w, h) in [(16_000u32, 1u32), (1, 9_000), (20, 20)] {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([128, 128, 128]));
        let mut png = std::io::Cursor::new(Vec::new());
        img.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let r = common::post_png(&server, "/v1/detect", png.into_inner()).await;
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert!(status == 200 || status == 422, "{w}x{h}: {status} {body}");
        for leak in [
            "onnxruntime",
            "Ort",
            "node",
            "ONNXRuntimeError",
            "Non-zero status",
        ] {
            assert!(!body.contains(leak), "{w}x{h} leaks `{leak}`: {body}");
        }
    }
}
