//! `POST /detect`: the page's form, for browsers without JavaScript. Answers with the page
//! itself, rendered by the app's own components with the result in context
//! ([`app::nojs::Plain`]): the annotated picture where the canvas would be, the same legend,
//! table and alert as the scripted page.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use leptos::prelude::provide_context;

use app::format::passes;
use app::nojs::{Plain, PNG_MAX_PIXELS};
use app::types::{DEFAULT_THRESHOLD, UI_SCORE_FLOOR};

use crate::error::ApiError;
use crate::front::{Door, OutputFormat};
use crate::state::AppState;

pub async fn detect_form(State(state): State<AppState>, request: Request) -> Response {
    match run(&state, request).await {
        Ok(plain) => render(&state, plain).await,
        Err((source, err)) => error_page(&state, source, err).await,
    }
}

/// The page with the problem in its alert, under the problem's own status and headers
/// (Retry-After, WWW-Authenticate). Also used for a body refused before the handler runs.
pub async fn error_page(state: &AppState, source: Option<String>, err: ApiError) -> Response {
    let plain = Plain {
        source: source.unwrap_or_else(|| "your image".to_owned()),
        threshold: DEFAULT_THRESHOLD,
        tile: false,
        outcome: Err(err.problem.clone()),
        image: None,
    };
    let mut page = render(state, plain).await;
    let problem = err.into_response();
    *page.status_mut() = problem.status();
    for (name, value) in problem.headers() {
        let body_header = name == header::CONTENT_TYPE || name == header::CONTENT_LENGTH;
        if !body_header && !page.headers().contains_key(name) {
            page.headers_mut().insert(name.clone(), value.clone());
        }
    }
    page
}

/// The detection, and its annotated picture as a `data:` URL: a PNG, or a JPEG for a photo
/// (as PNG it would make the page many times larger than the photo).
async fn run(state: &AppState, request: Request) -> Result<Plain, (Option<String>, ApiError)> {
    let started = Instant::now();
    let request = state
        .front
        .extract(Door::Form, request)
        .await
        .map_err(|e| (None, e))?;
    let source = request.name.clone();
    let threshold = request.options.threshold;
    let tile = request.options.tile != detector::TileMode::Off;
    let mut request = request;
    // The answer draws on the picture: the front decodes it whole, not at the model's scale.
    request.format = OutputFormat::Png;
    // Like the scripted page: everything above the page's floor comes back, and the page
    // shows what passes the threshold (the legend and the count say how many are hidden).
    request.options.threshold = threshold.min(UI_SCORE_FLOOR);
    let detected = state
        .front
        .detect(request, started)
        .await
        .map_err(|e| (source.clone(), e))?;
    let (w, h) = detected.image.dimensions();
    let (format, mime) = if u64::from(w) * u64::from(h) <= PNG_MAX_PIXELS {
        (image::ImageFormat::Png, "image/png")
    } else {
        (image::ImageFormat::Jpeg, "image/jpeg")
    };
    // The picture shows the boxes that pass the threshold.
    let passing = detected
        .response
        .detections
        .iter()
        .filter(|d| passes(d, threshold))
        .cloned()
        .collect();
    let encoded = crate::annotate::render(Arc::clone(&detected.image), passing, format)
        .await
        .map_err(|e| (source.clone(), e))?;
    let image = format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(encoded)
    );
    Ok(Plain {
        source: source.unwrap_or_else(|| detected.name.clone()),
        threshold,
        tile,
        outcome: Ok(detected.response),
        image: Some(image),
    })
}

/// The app's page with `plain` in context (rendered as for `/`; its scripts are left out).
async fn render(state: &AppState, plain: Plain) -> Response {
    let backend: app::backend::SharedBackend = state.front.clone();
    let options = state.leptos_options.clone();
    let handler = leptos_axum::render_app_async_with_context(
        move || {
            provide_context(backend.clone());
            provide_context(plain.clone());
        },
        move || app::shell(options.clone()),
    );
    // `GET /`: the app's router renders the home page.
    handler(Request::new(Body::empty())).await.into_response()
}
