//! The site's files (the WASM, its JavaScript, the stylesheet, icons, samples), from the site
//! root: the build's precompressed `.br`/`.gz` copies when the browser takes them, cached
//! for good under the build's hashed names and revalidated otherwise; the app's own page
//! for anything that is not a file.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use leptos::prelude::provide_context;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::state::AppState;

/// Hashed names change whenever the file does: a year, and never revalidated.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Anything else is checked with the server before each use (a 304 when unchanged).
const REVALIDATE: &str = "no-cache";

pub async fn files(State(state): State<AppState>, request: Request) -> Response {
    let options = state.leptos_options.clone();
    let (parts, _) = request.into_parts();
    let file = ServeDir::new(&*options.site_root)
        .precompressed_br()
        .precompressed_gzip()
        .oneshot(Request::from_parts(parts.clone(), Body::empty()))
        .await;
    let mut response = match file {
        Ok(response) if response.status() != StatusCode::NOT_FOUND => response.into_response(),
        _ => return not_found(state, Request::from_parts(parts, Body::empty())).await,
    };
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let hashed = options.hash_files
            && parts
                .uri
                .path()
                .starts_with(&format!("/{}/", options.site_pkg_dir));
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if hashed { IMMUTABLE } else { REVALIDATE }),
        );
        response
            .headers_mut()
            .entry(header::VARY)
            .or_insert(HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// The app's "page not found", with status 404.
async fn not_found(state: AppState, request: Request) -> Response {
    let backend: app::backend::SharedBackend = state.front.clone();
    let options = state.leptos_options.clone();
    let handler = leptos_axum::render_app_to_stream_with_context(
        move || provide_context(backend.clone()),
        move || app::shell(options.clone()),
    );
    let mut response = handler(request).await.into_response();
    if response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    response
}
