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

pub use crate::answers::{answer, check, found, outcome, tiles, Answer, Found};
use crate::common::{b64, TestServer};
use crate::LIMIT;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// `lookout detect`: the image as a file, the options as flags, the server's limits and
    /// models as the command line's (`cli.rs`).
    Cli,
}

/// Every door, in the tables' column order. A door that is not HTTP joins here too (see
/// [`ask`]).
pub const DOORS: [Door; 10] = [
    Door::Predict,
    Door::ApiRaw,
    Door::ApiMultipart,
    Door::ApiJson,
    Door::PageUpload,
    Door::PageUrl,
    Door::Form,
    Door::BatchMultipart,
    Door::BatchJson,
    Door::Cli,
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
            Door::Cli => ("CLI", "lookout detect"),
        }
    }

    /// A door over HTTP (every one but the command line): [`send`] sends through it.
    pub fn is_http(self) -> bool {
        self != Door::Cli
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
    /// The contract's options (`wire::DetectParams`), as text, each sent the door's own way
    /// (see [`send`]): JSON fields (a number where the text is one) for the JSON doors, form
    /// fields for multipart, url-encoded, the form and the page's server functions, the query
    /// string for raw bytes, the batch's options for the batch, and the old API's body for
    /// `PUT /predict` (which knows only `threshold` and ignores other keys, as pydantic did).
    pub threshold: Option<&'static str>,
    pub max_detections: Option<&'static str>,
    pub format: Option<&'static str>,
    pub model: Option<&'static str>,
    pub tile: Option<&'static str>,
    pub tile_overlap: Option<&'static str>,
    /// A name that is no option, and its value, sent where the options go.
    pub unknown: Option<(&'static str, &'static str)>,
    /// Options sent in the query string, besides (and over) the body's: the query wins. Every
    /// door but `PUT /predict` reads it; the raw door's own options come first in it.
    pub query: Vec<(&'static str, &'static str)>,
    /// `Some(key)`: send it the door's way (header, or form field for the form).
    pub key: Option<&'static str>,
    /// Pad the body past the limit (a field the door does not read, or a huge image).
    pub oversize: bool,
}

/// The contract's option names whose values are numbers (sent as JSON numbers when the text
/// is one).
const NUMERIC: [&str; 3] = ["threshold", "max_detections", "tile_overlap"];

impl Input {
    /// The options given, by name, in the contract's order, the unknown name last.
    pub fn options(&self) -> Vec<(&'static str, &'static str)> {
        let named = [
            ("threshold", self.threshold),
            ("max_detections", self.max_detections),
            ("format", self.format),
            ("model", self.model),
            ("tile", self.tile),
            ("tile_overlap", self.tile_overlap),
        ];
        debug_assert!(named.iter().map(|(n, _)| *n).eq(wire::OPTION_NAMES));
        named
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .chain(self.unknown)
            .collect()
    }

    /// These options with `name` set to `value` (a name that is no option: the unknown one).
    pub fn with(mut self, name: &'static str, value: &'static str) -> Self {
        let slot = match name {
            "threshold" => &mut self.threshold,
            "max_detections" => &mut self.max_detections,
            "format" => &mut self.format,
            "model" => &mut self.model,
            "tile" => &mut self.tile,
            "tile_overlap" => &mut self.tile_overlap,
            _ => {
                self.unknown = Some((name, value));
                return self;
            }
        };
        *slot = Some(value);
        self
    }
}

/// An option's value in a JSON body: a number where the option is numeric and the text is
/// one (`2.5` stays a float, `1001` an integer), else a string (`"abc"`, `"auto"`).
pub fn json_value(name: &str, text: &str) -> serde_json::Value {
    if NUMERIC.contains(&name) {
        if let Ok(n) = text.parse::<i64>() {
            return n.into();
        }
        if let Ok(x) = text.parse::<f64>() {
            return x.into();
        }
    }
    text.into()
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
    assert!(door.is_http(), "{door:?} is asked, not sent: see `ask`");
    let (method, path) = door.route();
    let client = &server.client;
    let mut request = match method {
        "PUT" => client.put(server.url(path)),
        _ => client.post(server.url(path)),
    };
    if let Some(key) = input.key.filter(|_| door != Door::Form) {
        request = request.bearer_auth(key);
    }
    let options = input.options();
    // The query string: the raw door's options (it has no other place for them), then the
    // options sent over the body's.
    let mut query = if door == Door::ApiRaw {
        options.clone()
    } else {
        Vec::new()
    };
    query.extend(input.query.iter().copied());
    if !query.is_empty() {
        request = request.query(&query);
    }
    let padding = if input.oversize {
        "x".repeat(LIMIT + 1024)
    } else {
        String::new()
    };
    let json_options = |body: &mut serde_json::Value| {
        for (name, value) in &options {
            body[*name] = json_value(name, value);
        }
    };
    match door {
        Door::Predict => {
            // The old API's body: `threshold` is part of it; any other option is a key the
            // old service never knew (and ignores, as pydantic did).
            let mut body = serde_json::json!({});
            if let Some(image) = &input.image {
                body["base64str"] = b64(image).into();
            }
            json_options(&mut body);
            if input.oversize {
                body["padding"] = padding.into();
            }
            request.json(&body)
        }
        Door::ApiRaw => {
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
            json_options(&mut body);
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
            json_options(&mut body);
            request.json(&body)
        }
        Door::ApiMultipart | Door::PageUpload | Door::Form | Door::BatchMultipart => {
            let mut form = reqwest::multipart::Form::new();
            if door == Door::Form {
                if let Some(key) = input.key {
                    form = form.text("api_key", key);
                }
            }
            for (name, value) in &options {
                form = form.text(*name, *value);
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
            for (name, value) in &options {
                fields.push((name, (*value).to_owned()));
            }
            if input.oversize {
                fields.push(("url", padding));
            }
            request.form(&fields)
        }
        Door::Cli => unreachable!("asserted above"),
    }
    .send()
    .await
    .unwrap()
}

/// Sends `input` through `door` and reads the answer: what the tables ask of each door.
///
/// A door that is not HTTP is answered here instead of by `send`: the command line
/// (`lookout detect`, [`crate::cli::ask`]) writes `input.image` to a file, runs with
/// `input.options()` as its flags (`--threshold 0.9`, ...) and the server's limits, and its
/// exit status, output and stderr are read as an [`Answer`] (the status and problem kind of
/// the problem it words, the detail it prints). The tables then hold it to the same rows as
/// every HTTP door, with what it lacks by design (the query string, `format=png`) said in
/// the rows like `PUT /predict`'s.
pub async fn ask(server: &TestServer, images: &Images, door: Door, input: &Input) -> Answer {
    if door == Door::Cli {
        return crate::cli::ask(server, input).await;
    }
    answer(door, send(server, images, door, input).await).await
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
    // The Open Inference Protocol's routes are doors onto the same front (`Front::infer`
    // builds the same request as /v1/detect), but their words and shapes are the protocol's
    // (`{"error"}`, tensors), not this matrix's answers: server/tests/oip holds them to the
    // front (rest.rs: the same detections as /v1/detect, the refusals with their statuses;
    // binary.rs: the binary extension; grpc.rs: the same over gRPC). The repository routes
    // take no image (repository.rs).
    let oip = [
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
        "/v2/repository/index",
        "/v2/repository/models/{name}/load",
        "/v2/repository/models/{name}/unload",
    ];
    for path in oip {
        assert!(
            routes.remove(&("POST".to_owned(), path.to_owned())),
            "{path} is no longer in the API description: take it out of this list"
        );
    }
    let missing: Vec<_> = routes.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "doors not in the matrix (add them to DOORS and `send`): {missing:?}"
    );
}
