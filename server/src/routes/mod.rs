//! The HTTP surface: the page, its server functions, the REST API, health and docs.

pub mod docs;
pub mod form;
pub mod health;
pub mod oip;
pub mod page;
pub mod predict;
pub mod site;
pub mod stream;
pub mod v1;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use leptos::prelude::provide_context;
use leptos::server_fn::ServerFn;
use leptos_axum::{generate_route_list_with_exclusions, LeptosRoutes};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;
use crate::guards::REQUEST_ID;
use crate::state::AppState;

pub use crate::front::BATCH_PATH;
/// The streaming door (WebSocket).
pub const STREAM_PATH: &str = "/v1/detect/stream";

/// The page's detection server functions: served by the front door, not by Leptos.
fn front_door_server_fns() -> [&'static str; 2] {
    [
        <app::server_fns::DetectUpload as ServerFn>::PATH,
        <app::server_fns::DetectUrl as ServerFn>::PATH,
    ]
}

/// Builds the whole application: one route table.
pub fn router(state: AppState) -> Router {
    let [upload_path, url_path] = front_door_server_fns();
    // Every door onto the detector: each hands the request to the same front.
    let doors = Router::new()
        .route("/predict", put(predict::predict))
        .route("/v1/detect", post(v1::detect))
        .route(BATCH_PATH, post(v1::detect_batch))
        // A WebSocket: upgraded connections leave the body limit and body timeout layers
        // below behind (they wrap the upgrade request's empty body, not the connection).
        .route(STREAM_PATH, get(stream::stream))
        .route(upload_path, post(page::detect))
        .route(url_path, post(page::detect_url))
        .route(crate::front::kept::ROUTE, get(page::fetched))
        // The page (with its annotated picture inline), compressed like the app's pages.
        .route(
            app::nojs::FORM_PATH,
            post(form::detect_form).layer(page_compression()),
        );

    let api = Router::new().route("/v1/models", get(v1::models));

    let backend: app::backend::SharedBackend = state.front.clone();
    let leptos_options = state.leptos_options.clone();
    let routes = generate_route_list_with_exclusions(
        app::App,
        Some(front_door_server_fns().map(str::to_owned).to_vec()),
    );
    let ui = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(backend.clone()),
            move || app::shell(leptos_options.clone()),
        )
        // The site's files, precompressed and cached; anything else is the app's 404 page.
        .fallback(site::files)
        // Pages and files the build did not precompress, compressed on the way out.
        .layer(page_compression());

    let ops = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", docs::ApiDoc::openapi()));

    let limits = state.front.limits().clone();
    let mut app = Router::new()
        .merge(doors)
        // The Open Inference Protocol (KServe v2): doors onto the same front.
        .merge(oip::routes())
        .merge(api)
        .merge(ops)
        .merge(ui)
        .layer(middleware::from_fn(crate::metrics::track))
        .layer(
        ServiceBuilder::new()
            .layer(middleware::from_fn(crate::guards::sanitise_request_id))
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                    let id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", id = %id, method = %request.method(), path = %request.uri().path())
                })
                // One access-log line per request at the default level.
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO).latency_unit(tower_http::LatencyUnit::Millis))
                .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(middleware::from_fn_with_state(state.host_guard.clone(), crate::guards::check_host))
            .layer(middleware::from_fn_with_state(state.clone(), limit_declared_body))
            // One body limit, ours: axum's own 2 MiB default would otherwise still apply
            // behind it to every extractor.
            .layer(DefaultBodyLimit::disable())
            .layer(RequestBodyLimitLayer::new(limits.largest_body()))
            .layer(RequestBodyTimeoutLayer::new(limits.body_timeout)),
    );
    for (name, value) in crate::guards::security_headers() {
        app = app.layer(SetResponseHeaderLayer::if_not_present(name, value));
    }
    app.with_state(state)
}

/// Refuses a declared oversized body before reading a byte of it, in the same words on every
/// route. (Bodies without a length are capped while read.)
async fn limit_declared_body(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let limit = state.front.limits().body_limit(request.uri().path());
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // The plain form answers with the page, whatever went wrong (its front door maps a
    // body cut short by the limit itself).
    let form = request.uri().path() == app::nojs::FORM_PATH;
    // The Open Inference Protocol answers `{"error": ...}`.
    let oip = oip::is_oip_path(request.uri().path());
    if declared.is_some_and(|n| n > limit as u64) {
        let refused = ApiError::body_too_large(limit);
        if form {
            return form::error_page(&state, None, refused).await;
        }
        if oip {
            return oip::OipError(refused).into_response();
        }
        return refused.into_response();
    }
    let response = next.run(request).await;
    if form {
        return response;
    }
    // A streamed body that went over the cap surfaces as a bare 413 from the limit layer.
    if response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && !is_problem(&response) {
        if oip {
            // The protocol's own answers are JSON (an image too large is worded already).
            if !is_json(&response) {
                return oip::OipError(ApiError::body_too_large(limit)).into_response();
            }
            return response;
        }
        return ApiError::body_too_large(limit).into_response();
    }
    response
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

fn is_problem(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"))
}

/// brotli or gzip at a level that is quick for a page rendered per request (the WASM is
/// precompressed at the build's best level; responses already encoded pass untouched).
fn page_compression() -> CompressionLayer {
    CompressionLayer::new().quality(tower_http::CompressionLevel::Precise(5))
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let mut response = ApiError::internal("a request handler panicked").into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}
