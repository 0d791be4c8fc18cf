//! `POST /detect`: the page's form, for browsers without JavaScript. Answers a whole HTML
//! page with the annotated image and the detection list.

use std::time::Instant;

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use detector::DetectOptions;

use crate::annotate;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn detect_form(
    State(state): State<AppState>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    match run(&state, multipart).await {
        Ok(page) => Html(page).into_response(),
        Err(err) => {
            let status = err.status();
            (status, Html(app::nojs::error_document(&err.problem))).into_response()
        }
    }
}

async fn run(
    state: &AppState,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<String, ApiError> {
    let started = Instant::now();
    let mut multipart = multipart.map_err(|e| {
        ApiError::bad_request(format!("the form data is malformed: {}", e.body_text()))
    })?;
    let mut image = None;
    let mut threshold = app::types::DEFAULT_THRESHOLD;
    let limit = state.pipeline.max_body_bytes();
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::body_too_large(limit)
        } else {
            ApiError::bad_request(format!("the form data is malformed: {}", e.body_text()))
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("image") => image = Some(field.bytes().await.map_err(bad)?),
            Some("threshold") => {
                let text = field.text().await.map_err(bad)?;
                threshold = text.trim().parse().unwrap_or(threshold);
            }
            _ => {}
        }
    }
    let image = image.filter(|b| !b.is_empty()).ok_or_else(|| {
        ApiError::bad_request("no image was chosen; pick an image file and try again")
    })?;
    crate::routes::validate_threshold(threshold)?;
    let detected = state
        .pipeline
        .detect(
            image,
            DetectOptions {
                threshold,
                max_detections: 100,
            },
            started,
        )
        .await?;
    let response = detected.response;
    let picture = detected.image;
    let detections = response.detections.clone();
    let png = tokio::task::spawn_blocking(move || {
        annotate::encode(
            &annotate::draw(&picture, &detections),
            image::ImageFormat::Png,
        )
    })
    .await
    .map_err(|e| ApiError::internal(format!("the drawing thread failed: {e}")))?
    .map_err(|e| ApiError::internal(format!("could not encode the annotated image: {e}")))?;
    let data_uri = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    );
    Ok(app::nojs::result_document(&response, threshold, &data_uri))
}
