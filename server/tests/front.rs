//! Every door onto the detector x every case a person can send: the same status and the same
//! problem type on every door, because every door is the same front.
//!
//! A door added later without being wired into this table fails
//! `every_door_that_takes_an_image_is_in_the_matrix`.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path as UrlPath;
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine as _;
use common::{phone_photo, TestServer};
use reqwest::header;

const LIMIT: usize = 12 * 1024 * 1024;
const KEY: &str = "k3y-for-tests";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Door {
    Predict,
    ApiRaw,
    ApiMultipart,
    ApiJson,
    PageUpload,
    PageUrl,
    Form,
    /// `POST /v1/detect/batch` with one image: request-level cases are the batch's own
    /// answer, image-level ones are its one item's `status` and `problem`.
    BatchMultipart,
    BatchJson,
}

const DOORS: [Door; 9] = [
    Door::Predict,
    Door::ApiRaw,
    Door::ApiMultipart,
    Door::ApiJson,
    Door::PageUpload,
    Door::PageUrl,
    Door::Form,
    Door::BatchMultipart,
    Door::BatchJson,
];

impl Door {
    fn route(self) -> (&'static str, &'static str) {
        match self {
            Door::Predict => ("PUT", "/predict"),
            Door::ApiRaw | Door::ApiMultipart | Door::ApiJson => ("POST", "/v1/detect"),
            Door::PageUpload => ("POST", "/api/detect_upload"),
            Door::PageUrl => ("POST", "/api/detect_url"),
            Door::Form => ("POST", "/detect"),
            Door::BatchMultipart | Door::BatchJson => ("POST", "/v1/detect/batch"),
        }
    }

    fn is_batch(self) -> bool {
        matches!(self, Door::BatchMultipart | Door::BatchJson)
    }

    fn answers_html(self) -> bool {
        self == Door::Form
    }
}

/// What a case sends, whatever the door's encoding.
#[derive(Clone, Default)]
struct Input {
    /// The image (for the URL door: served by the test's image server).
    image: Option<Vec<u8>>,
    threshold: Option<&'static str>,
    /// `Some(key)`: send it the door's way (header, or form field for the form).
    key: Option<&'static str>,
    /// Pad the body past the limit (a field the door does not read, or a huge image).
    oversize: bool,
}

struct Images {
    addr: SocketAddr,
    served: Arc<std::sync::Mutex<HashMap<String, Vec<u8>>>>,
}

impl Images {
    async fn start() -> Self {
        let served: Arc<std::sync::Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let shared = Arc::clone(&served);
        let app = axum::Router::new()
            .route(
                "/img/{name}",
                get(move |UrlPath(name): UrlPath<String>| {
                    let bytes = shared.lock().unwrap().get(&name).cloned();
                    async move {
                        match bytes {
                            Some(b) => b.into_response(),
                            None => axum::http::StatusCode::NOT_FOUND.into_response(),
                        }
                    }
                }),
            )
            .route(
                "/stall",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "too late"
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, served }
    }

    fn url_for(&self, bytes: &[u8]) -> String {
        let name = format!("{:016x}", fxhash(bytes));
        self.served
            .lock()
            .unwrap()
            .insert(name.clone(), bytes.to_vec());
        format!("http://127.0.0.1:{}/img/{name}", self.addr.port())
    }
}

fn fxhash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn send(
    server: &TestServer,
    images: &Images,
    door: Door,
    input: &Input,
) -> reqwest::Response {
    let (method, path) = door.route();
    let mut url = server.url(path);
    let client = &server.client;
    let mut request = match method {
        "PUT" => client.put(&url),
        _ => client.post(&url),
    };
    let header_key = input.key.filter(|_| door != Door::Form);
    if let Some(key) = header_key {
        request = request.bearer_auth(key);
    }
    let padding = if input.oversize {
        "x".repeat(LIMIT + 1024)
    } else {
        String::new()
    };
    let threshold_number = |t: &str| serde_json::Value::from(t.parse::<f64>().unwrap());
    match door {
        Door::Predict => {
            let mut body = serde_json::json!({});
            if let Some(image) = &input.image {
                body["base64str"] = b64(image).into();
            }
            if let Some(t) = input.threshold {
                body["threshold"] = threshold_number(t);
            }
            if input.oversize {
                body["padding"] = padding.into();
            }
            request.json(&body)
        }
        Door::ApiRaw => {
            if let Some(t) = input.threshold {
                url = format!("{url}?threshold={t}");
                request = client.post(&url);
                if let Some(key) = header_key {
                    request = request.bearer_auth(key);
                }
            }
            let mut body = input.image.clone().unwrap_or_default();
            if input.oversize {
                body.extend_from_slice(padding.as_bytes());
            }
            request
                .header(header::CONTENT_TYPE, "image/jpeg")
                .body(body)
        }
        Door::ApiJson => {
            let mut body = serde_json::json!({});
            if let Some(image) = &input.image {
                body["image"] = (b64(image) + &padding).into();
            } else if input.oversize {
                body["image"] = padding.into();
            }
            if let Some(t) = input.threshold {
                body["threshold"] = threshold_number(t);
            }
            request.json(&body)
        }
        Door::BatchJson => {
            let mut images = Vec::new();
            if let Some(image) = &input.image {
                images.push(serde_json::json!({ "image": b64(image) + &padding }));
            } else if input.oversize {
                images.push(serde_json::json!({ "image": padding }));
            }
            let mut body = serde_json::json!({ "images": images });
            if let Some(t) = input.threshold {
                body["threshold"] = threshold_number(t);
            }
            request.json(&body)
        }
        Door::ApiMultipart | Door::PageUpload | Door::Form | Door::BatchMultipart => {
            let mut form = reqwest::multipart::Form::new();
            if door == Door::Form {
                if let Some(key) = input.key {
                    form = form.text("api_key", key);
                }
            }
            if let Some(t) = input.threshold {
                form = form.text("threshold", t);
            }
            let mut image = input.image.clone().unwrap_or_default();
            if input.oversize {
                image.extend_from_slice(padding.as_bytes());
            }
            if input.image.is_some() || input.oversize {
                form = form.part(
                    "image",
                    reqwest::multipart::Part::bytes(image)
                        .file_name("photo.jpg")
                        .mime_str("image/jpeg")
                        .unwrap(),
                );
            }
            request.multipart(form)
        }
        Door::PageUrl => {
            let mut fields: Vec<(&str, String)> = Vec::new();
            match &input.image {
                Some(image) => fields.push(("url", images.url_for(image))),
                None => fields.push(("url", String::new())),
            }
            if let Some(t) = input.threshold {
                fields.push(("threshold", t.to_owned()));
            }
            if input.oversize {
                fields.push(("url", padding));
            }
            request.form(&fields)
        }
    }
    .send()
    .await
    .unwrap()
}

/// The status, the problem kind (JSON doors) and the body, checking what every answer
/// carries whatever it says.
async fn outcome(door: Door, response: reqwest::Response) -> (u16, Option<String>, String) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
    ] {
        assert_eq!(
            headers.get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{door:?} {status}: {name}"
        );
    }
    assert!(headers.contains_key("x-request-id"), "{door:?}: request id");
    let body = response.text().await.unwrap();
    if door.is_batch() && status == 200 {
        // One image: its item is what a single request would have answered.
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        let results = answer["results"].as_array().unwrap();
        assert_eq!(results.len(), 1, "{door:?}: {body}");
        let item = &results[0];
        let status = u16::try_from(item["status"].as_u64().unwrap()).unwrap();
        return match item.get("problem") {
            Some(problem) => {
                assert_eq!(problem["status"], status);
                let kind = problem["type"].as_str().unwrap().to_owned();
                (status, Some(kind), problem.to_string())
            }
            None => (status, None, item["result"].to_string()),
        };
    }
    let kind = if door.answers_html() {
        // A person without JavaScript gets the page, whatever went wrong.
        let content_type = headers.get(header::CONTENT_TYPE).unwrap().to_str().unwrap();
        assert!(
            content_type.starts_with("text/html"),
            "{door:?} {status}: {content_type}"
        );
        assert!(body.contains(r#"id="upload-form""#), "{door:?} {status}");
        None
    } else if status < 400 {
        None
    } else {
        assert_eq!(
            headers.get(header::CONTENT_TYPE).unwrap(),
            "application/problem+json",
            "{door:?} {status}: {body}"
        );
        let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(problem["status"], status);
        Some(problem["type"].as_str().unwrap().to_owned())
    };
    (status, kind, body)
}

fn truncated_jpeg() -> Vec<u8> {
    let photo = phone_photo();
    photo[..photo.len() / 3].to_vec()
}

fn sliver_png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(16_000, 1, image::Rgb([90, 90, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

struct Case {
    name: &'static str,
    input: Input,
    status: u16,
    /// The problem kind (`urn:lookout:problem:<kind>`); `None` for success.
    kind: Option<&'static str>,
    /// Words the answer must contain (the detail, or the HTML page).
    says: &'static str,
}

fn cases() -> Vec<Case> {
    let photo = phone_photo();
    assert!(
        (3_000_000..9_000_000).contains(&photo.len()),
        "a phone-sized JPEG, got {} bytes",
        photo.len()
    );
    vec![
        Case {
            name: "a 12-megapixel phone photo",
            input: Input {
                image: Some(photo.clone()),
                ..Input::default()
            },
            status: 200,
            kind: None,
            says: "",
        },
        Case {
            name: "a body over the limit",
            input: Input {
                image: Some(photo.clone()),
                oversize: true,
                ..Input::default()
            },
            status: 413,
            kind: Some("body-too-large"),
            says: "12 MiB",
        },
        Case {
            name: "a bad option",
            input: Input {
                image: Some(photo.clone()),
                threshold: Some("2"),
                ..Input::default()
            },
            status: 422,
            kind: Some("invalid-value"),
            says: "threshold",
        },
        Case {
            name: "no image at all",
            input: Input::default(),
            status: 422,
            kind: Some("missing-image"),
            says: "image",
        },
        Case {
            name: "not an image",
            input: Input {
                image: Some(b"just some text, certainly not a picture".to_vec()),
                ..Input::default()
            },
            status: 415,
            kind: Some("not-an-image"),
            says: "not an image",
        },
        Case {
            name: "a truncated JPEG",
            input: Input {
                image: Some(truncated_jpeg()),
                ..Input::default()
            },
            status: 400,
            kind: Some("corrupt-image"),
            says: "truncated",
        },
        Case {
            name: "an extreme aspect ratio",
            input: Input {
                image: Some(sliver_png()),
                ..Input::default()
            },
            status: 422,
            kind: Some("image-shape"),
            says: "16000x1",
        },
    ]
}

fn check(
    door: Door,
    case: &str,
    want: (u16, Option<&str>, &str),
    got: (u16, Option<String>, String),
) {
    let (status, kind, says) = want;
    assert_eq!(got.0, status, "{door:?} / {case}: {}", got.2);
    if !door.answers_html() {
        assert_eq!(
            got.1.as_deref(),
            kind.map(|k| format!("urn:lookout:problem:{k}")).as_deref(),
            "{door:?} / {case}"
        );
    }
    assert!(
        got.2.to_lowercase().contains(&says.to_lowercase()),
        "{door:?} / {case}: `{says}` not in {}",
        &got.2[..got.2.len().min(600)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_door_answers_every_case_the_same_way() {
    let limit = LIMIT.to_string();
    // The batch's own body limit set to the same: every door then refuses the same body.
    let server = TestServer::start(&[
        "--max-body-bytes",
        &limit,
        "--max-batch-body-bytes",
        &limit,
        "--allow-private-urls",
    ])
    .await;
    let images = Images::start().await;
    for case in cases() {
        for door in DOORS {
            let response = send(&server, &images, door, &case.input).await;
            let got = outcome(door, response).await;
            check(
                door,
                case.name,
                (case.status, case.kind, case.says),
                got.clone(),
            );
            if case.status == 200 && !door.answers_html() {
                let body: serde_json::Value = serde_json::from_str(&got.2).unwrap();
                let found = body["detections"]
                    .as_array()
                    .or(body["classes"].as_array())
                    .map_or(0, Vec::len);
                assert!(found > 0, "{door:?} finds the shapes in the photo: {body}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_door_needs_the_key_when_the_server_has_one() {
    let server = TestServer::start(&["--api-key", KEY, "--allow-private-urls"]).await;
    let images = Images::start().await;
    let (png, _) = common::shapes_image();
    for door in DOORS {
        for (key, case) in [(None, "no key"), (Some("wrong"), "a wrong key")] {
            let input = Input {
                image: Some(png.clone()),
                key,
                ..Input::default()
            };
            let got = outcome(door, send(&server, &images, door, &input).await).await;
            check(door, case, (401, Some("unauthorized"), "key"), got);
        }
        let input = Input {
            image: Some(png.clone()),
            key: Some(KEY),
            ..Input::default()
        };
        let got = outcome(door, send(&server, &images, door, &input).await).await;
        check(door, "the right key", (200, None, ""), got);
    }
    // What runs no model stays open.
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/",
        "/pkg/lookout.css",
    ] {
        let status = server
            .client
            .get(server.url(path))
            .send()
            .await
            .unwrap()
            .status();
        assert_ne!(status, 401, "{path}");
    }
    let models = server
        .client
        .get(server.url("/v1/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 401, "/v1/models is part of the API");
}

/// With one engine place, a URL request whose server never answers holds it (admission comes
/// before the fetch): every door is then told "busy" at once, before reading its image.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_door_is_told_busy_when_the_engine_is_full() {
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
    let images = Images::start().await;
    let stall = format!("http://127.0.0.1:{}/stall", images.addr.port());
    let holder = {
        let client = server.client.clone();
        let url = server.url("/v1/detect");
        tokio::spawn(async move {
            client
                .post(url)
                .json(&serde_json::json!({ "url": stall }))
                .send()
                .await
        })
    };
    // Wait until the holder has its place (the engine's queue shows it as admitted).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (png, _) = common::shapes_image();
    loop {
        let probe = server
            .client
            .post(server.url("/v1/detect"))
            .header(header::CONTENT_TYPE, "image/png")
            .body(png.clone())
            .send()
            .await
            .unwrap();
        if probe.status() == 503 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the holder never got its place"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A batch's items wait for a place instead (the fairness rule; server/tests/batch.rs).
    for door in DOORS.into_iter().filter(|d| !d.is_batch()) {
        let input = Input {
            image: Some(png.clone()),
            ..Input::default()
        };
        let response = send(&server, &images, door, &input).await;
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap()),
            Some("1"),
            "{door:?}"
        );
        let got = outcome(door, response).await;
        check(door, "busy", (503, Some("busy"), "busy"), got);
    }
    holder.abort();
}

/// Every route that takes an image (any PUT/POST in the API description, and the page's
/// server functions) must be a door in this file's table.
#[test]
fn every_door_that_takes_an_image_is_in_the_matrix() {
    use utoipa::OpenApi;
    let covered: BTreeSet<(String, String)> = DOORS
        .iter()
        .map(|d| (d.route().0.to_owned(), d.route().1.to_owned()))
        .collect();
    let mut routes = BTreeSet::new();
    let api = server::routes::docs::ApiDoc::openapi();
    for (path, item) in &api.paths.paths {
        if item.put.is_some() {
            routes.insert(("PUT".to_owned(), path.clone()));
        }
        if item.post.is_some() {
            routes.insert(("POST".to_owned(), path.clone()));
        }
    }
    // Server functions that take no image: the page's settings and the model list.
    let no_image = ["/api/model", "/api/ui_config"];
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        if !no_image.contains(&path) {
            routes.insert((method.to_string(), path.to_owned()));
        }
    }
    routes.insert(("POST".to_owned(), "/detect".to_owned()));
    let missing: Vec<_> = routes.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "doors not in the matrix (add them to DOORS and `send`): {missing:?}"
    );
}
