//! The doors onto the detector: how a case is sent through each (its own encoding of the same
//! input), how each answer is read back, and the check that every route taking an image is here.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path as UrlPath;
use axum::response::IntoResponse;
use axum::routing::get;
use reqwest::header;

use crate::common::{b64, TestServer};
use crate::LIMIT;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
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

pub const DOORS: [Door; 9] = [
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
    pub fn route(self) -> (&'static str, &'static str) {
        match self {
            Door::Predict => ("PUT", "/predict"),
            Door::ApiRaw | Door::ApiMultipart | Door::ApiJson => ("POST", "/v1/detect"),
            Door::PageUpload => ("POST", "/api/detect_upload"),
            Door::PageUrl => ("POST", "/api/detect_url"),
            Door::Form => ("POST", "/detect"),
            Door::BatchMultipart | Door::BatchJson => ("POST", "/v1/detect/batch"),
        }
    }

    pub fn is_batch(self) -> bool {
        matches!(self, Door::BatchMultipart | Door::BatchJson)
    }

    pub fn answers_html(self) -> bool {
        self == Door::Form
    }
}

/// What a case sends, whatever the door's encoding.
#[derive(Clone, Default)]
pub struct Input {
    /// The image (for the URL door: served by the test's image server).
    pub image: Option<Vec<u8>>,
    pub threshold: Option<&'static str>,
    /// `Some(key)`: send it the door's way (header, or form field for the form).
    pub key: Option<&'static str>,
    /// Pad the body past the limit (a field the door does not read, or a huge image).
    pub oversize: bool,
}

pub struct Images {
    pub addr: SocketAddr,
    served: Arc<std::sync::Mutex<HashMap<String, Vec<u8>>>>,
}

impl Images {
    pub async fn start() -> Self {
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

pub async fn send(
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
pub async fn outcome(door: Door, response: reqwest::Response) -> (u16, Option<String>, String) {
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
    if door == Door::PageUrl && status == 200 {
        // The page's URL door answers the same result beside the fetched picture's path.
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(answer["picture"].is_string(), "{door:?}: {body}");
        return (status, None, answer["result"].to_string());
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

pub fn check(
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
    // The server function that takes no image: the page's settings (the model list with it).
    let no_image = ["/api/ui_config"];
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
