//! `PUT /predict`: the contract of the Python service Lookout replaces, kept exactly.

use std::time::Instant;

use axum::extract::State;
use axum::Json;
use base64::Engine as _;
use bytes::Bytes;
use detector::DetectOptions;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::routes::validate_threshold;
use crate::state::AppState;

/// The original request. Unknown keys are ignored, as the original (pydantic) service did.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PredictRequest {
    /// The image, base64-encoded (a `data:image/...;base64,` prefix, whitespace and line
    /// breaks are accepted).
    pub base64str: String,
    /// Keep detections scoring above this (0..1).
    #[serde(default = "default_threshold")]
    #[schema(default = 0.5, minimum = 0.0, maximum = 1.0)]
    pub threshold: f32,
}

fn default_threshold() -> f32 {
    app::types::DEFAULT_THRESHOLD
}

/// The original response, plus `scores`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PredictResponse {
    /// `[[x1, y1], [x2, y2]]` per detection, in original image pixels, best first.
    pub boxes: Vec<[[f32; 2]; 2]>,
    /// Class name per detection.
    pub classes: Vec<String>,
    /// Score per detection (added; old clients ignore it).
    pub scores: Vec<f32>,
}

/// Detect objects (the original Python service's API).
#[utoipa::path(
    put,
    path = "/predict",
    tag = "compatibility",
    request_body = PredictRequest,
    responses(
        (status = 200, description = "Detections above the threshold (empty lists when there are none)", body = PredictResponse),
        (status = 400, description = "Malformed JSON or base64, or a corrupt image", body = app::types::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body or image too large", body = app::types::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not an image, or an unsupported format", body = app::types::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing base64str, or threshold outside 0..1", body = app::types::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Busy (see Retry-After) or still loading", body = app::types::Problem, content_type = "application/problem+json"),
        (status = 504, description = "Inference passed the request deadline", body = app::types::Problem, content_type = "application/problem+json"),
    ),
    security((), ("api_key" = []))
)]
pub async fn predict(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<PredictResponse>, ApiError> {
    let started = Instant::now();
    let request: PredictRequest = parse_json(&body)?;
    validate_threshold(request.threshold)?;
    let image = decode_base64(&request.base64str)?;
    let options = DetectOptions {
        threshold: request.threshold,
        max_detections: 100,
    };
    let detected = state.pipeline.detect(image, options, started).await?;
    let detections = detected.response.detections;
    Ok(Json(PredictResponse {
        boxes: detections
            .iter()
            .map(|d| [[d.bbox.x1, d.bbox.y1], [d.bbox.x2, d.bbox.y2]])
            .collect(),
        classes: detections.iter().map(|d| d.label.clone()).collect(),
        scores: detections.iter().map(|d| d.score).collect(),
    }))
}

/// JSON syntax errors are 400; a well-formed body with missing or mistyped fields is 422.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::invalid(format!(
                "the JSON body does not have the expected fields: {e}"
            )),
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request(format!("the body is not valid JSON: {e}"))
            }
        }
    })
}

/// Standard or URL-safe alphabet, padded or not, with an optional data-URL prefix and any
/// whitespace (clients wrap base64 at 76 columns).
pub fn decode_base64(text: &str) -> Result<Bytes, ApiError> {
    use base64::alphabet;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let text = text.trim();
    let payload = match text.strip_prefix("data:") {
        Some(rest) => rest
            .split_once(',')
            .filter(|(meta, _)| meta.ends_with(";base64"))
            .map(|(_, data)| data)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "the data URL is not base64 (expected `data:image/...;base64,`)",
                )
            })?,
        None => text,
    };
    let compact: Vec<u8> = payload
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return Err(ApiError::bad_request("the base64 image is empty"));
    }
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    GeneralPurpose::new(&alphabet::STANDARD, config)
        .decode(&compact)
        .or_else(|_| GeneralPurpose::new(&alphabet::URL_SAFE, config).decode(&compact))
        .map(Bytes::from)
        .map_err(|e| ApiError::bad_request(format!("the image is not valid base64: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_variants_decode_alike() {
        let want = b"\x89PNG\r\n\x1a\nhello world?>".to_vec();
        let std = base64::engine::general_purpose::STANDARD.encode(&want);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&want);
        let wrapped: String = std
            .chars()
            .enumerate()
            .flat_map(|(i, c)| if i % 8 == 7 { vec![c, '\n'] } else { vec![c] })
            .collect();
        for text in [
            std.clone(),
            url,
            wrapped,
            format!("data:image/png;base64,{std}"),
            format!("  {std}\r\n"),
        ] {
            assert_eq!(decode_base64(&text).unwrap().to_vec(), want, "{text}");
        }
    }

    #[test]
    fn bad_base64_is_a_400() {
        assert_eq!(decode_base64("not base64 !!!").unwrap_err().status(), 400);
        assert_eq!(decode_base64("   ").unwrap_err().status(), 400);
        assert_eq!(
            decode_base64("data:image/png,abc").unwrap_err().status(),
            400
        );
    }
}
