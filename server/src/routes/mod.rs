//! The HTTP surface: the page, its server functions, the REST API, health and docs.

pub mod docs;
pub mod form;
pub mod health;
pub mod predict;
pub mod v1;

use axum::http::{header, HeaderName, Request};
use axum::middleware;
use axum::routing::{get, post, put};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn validate_threshold(threshold: f32) -> Result<(), ApiError> {
    if !(0.0..=1.0).contains(&threshold) {
        return Err(ApiError::invalid(format!(
            "threshold must be between 0 and 1, got {threshold}"
        )));
    }
    Ok(())
}

/// Builds the whole application.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/predict", put(predict::predict))
        .route("/v1/detect", post(v1::detect))
        .route("/v1/models", get(v1::models))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::guards::require_api_key,
        ));

    let backend: app::backend::SharedBackend = state.pipeline.clone();
    let leptos_options = state.leptos_options.clone();
    let routes = generate_route_list(app::App);
    let ui = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(backend.clone()),
            move || app::shell(leptos_options.clone()),
        )
        .route("/detect", post(form::detect_form))
        .route_layer(middleware::from_fn(multipart_guard_for_uploads))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ));

    let ops = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", docs::ApiDoc::openapi()));

    let limit = state.pipeline.max_body_bytes();
    Router::new()
        .merge(api)
        .merge(ops)
        .merge(ui)
        .layer(middleware::from_fn(crate::metrics::track))
        .layer(
            ServiceBuilder::new()
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
                .layer(middleware::from_fn_with_state(state.clone(), crate::guards::limit_declared_body))
                .layer(RequestBodyLimitLayer::new(limit)),
        )
        .with_state(state)
}

/// Only the multipart server function needs the multipart guard; everything else passes.
async fn multipart_guard_for_uploads(
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    if request.uri().path() == "/api/detect_upload" {
        crate::guards::require_multipart(request, next).await
    } else {
        next.run(request).await
    }
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    tracing::error!("a request handler panicked");
    let mut response =
        ApiError::internal("something went wrong on our side; the request was not completed")
            .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}
