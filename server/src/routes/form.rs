//! `POST /detect`: the page's form, for browsers without JavaScript. Answers a whole HTML
//! page with the annotated image and the detection list.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;

use crate::error::ApiError;
use crate::front::Door;
use crate::state::AppState;

pub async fn detect_form(State(state): State<AppState>, request: Request) -> Response {
    match run(&state, request).await {
        Ok(page) => Html(page).into_response(),
        Err(err) => {
            // The problem's own status and headers (Retry-After, WWW-Authenticate), as a page.
            let page = app::nojs::error_document(&err.problem);
            let mut response = err.into_response();
            *response.body_mut() = axum::body::Body::from(page);
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        }
    }
}

async fn run(state: &AppState, request: Request) -> Result<String, ApiError> {
    let started = Instant::now();
    let request = state.front.extract(Door::Form, request).await?;
    let threshold = request.options.threshold;
    let detected = state.front.detect(request, started).await?;
    let png = crate::annotate::render(&detected, image::ImageFormat::Png).await?;
    let data_uri = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    );
    Ok(app::nojs::result_document(
        &detected.response,
        threshold,
        &data_uri,
    ))
}
