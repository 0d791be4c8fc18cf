//! Turning an HTTP request into a [`DetectRequest`]: one reader for every door and every
//! encoding (raw image, JSON with base64 or a URL, multipart, url-encoded forms), with the
//! same body limit, the same body timeout, the same key check and the same errors.

use std::time::{Duration, Instant};

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, HeaderMap};
use bytes::{Bytes, BytesMut};
use serde::Deserialize;

use super::request::{DetectRequest, Door, Draft, OutputFormat, OPTION_FIELDS};
use super::Front;
use crate::error::{ApiError, Kind};

/// The JSON body of `/v1/detect` and the page: the image as base64, or a URL.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectJson {
    /// The image, base64-encoded (data-URL prefix and whitespace accepted).
    pub image: Option<String>,
    /// An http(s) URL of the image; only public addresses are fetched.
    pub url: Option<String>,
    /// Keep detections scoring at least this (0..1, default 0.5).
    pub threshold: Option<f32>,
    /// Keep at most this many, best first (default 100).
    pub max_detections: Option<usize>,
    pub format: Option<OutputFormat>,
    /// The model to run (default: the server's default model).
    pub model: Option<String>,
}

/// The original service's request. Unknown keys are ignored, as pydantic did.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PredictRequest {
    /// The image, base64-encoded (a `data:image/...;base64,` prefix, whitespace and line
    /// breaks are accepted).
    pub base64str: Option<String>,
    /// Keep detections scoring above this (0..1).
    #[schema(default = 0.5, minimum = 0.0, maximum = 1.0)]
    pub threshold: Option<f32>,
}

/// Whether the caller presented the key, as far as the headers tell.
enum Credential {
    NotNeeded,
    Valid,
    Missing,
}

impl Front {
    /// Checks `Authorization: Bearer <key>` when the server has a key. A wrong key is
    /// refused at once; a missing one is `Missing` (a form may still carry it as a field).
    fn credential(&self, headers: &HeaderMap) -> Result<Credential, ApiError> {
        let Some(key) = self.api_key() else {
            return Ok(Credential::NotNeeded);
        };
        match bearer(headers) {
            None => Ok(Credential::Missing),
            Some(presented) if constant_time_eq(presented.as_bytes(), key.as_bytes()) => {
                Ok(Credential::Valid)
            }
            Some(_) => Err(ApiError::unauthorized(true)),
        }
    }

    /// The key check for routes without a body worth reading (`/v1/models`).
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        match self.credential(headers)? {
            Credential::Missing => Err(ApiError::unauthorized(false)),
            _ => Ok(()),
        }
    }

    fn check_form_key(&self, presented: Option<&str>) -> Result<(), ApiError> {
        match (self.api_key(), presented) {
            (None, _) => Ok(()),
            (Some(_), None) => Err(ApiError::unauthorized(false)),
            (Some(key), Some(p)) if constant_time_eq(p.trim().as_bytes(), key.as_bytes()) => Ok(()),
            (Some(_), Some(_)) => Err(ApiError::unauthorized(true)),
        }
    }

    /// Reads and validates a detection request arriving through `door`.
    pub async fn extract(&self, door: Door, request: Request) -> Result<DetectRequest, ApiError> {
        let headers = request.headers().clone();
        let mut query = Draft::default();
        if door != Door::Predict {
            for (name, value) in
                url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
            {
                if !query.set_option(&name, &value)? {
                    return Err(ApiError::invalid(format!(
                        "unknown query parameter `{name}` (expected {OPTION_FIELDS})"
                    )));
                }
            }
        }
        let accept = if door == Door::Api {
            format_from_accept(&headers)
        } else {
            OutputFormat::Json
        };
        let essence = essence(&headers);
        let is_form = matches!(
            essence.as_str(),
            "multipart/form-data" | "application/x-www-form-urlencoded"
        );
        let credential = self.credential(&headers)?;
        if matches!(credential, Credential::Missing) && !is_form {
            return Err(ApiError::unauthorized(false));
        }
        let key_pending = matches!(credential, Credential::Missing);

        // Memory for the body, reserved before a byte of it is read.
        let limit = self.limits().max_body_bytes;
        let declared = declared_length(&headers);
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(ApiError::body_too_large(limit));
        }
        let reservation = self
            .body_budget()
            .reserve(declared.unwrap_or(limit as u64), Instant::now())
            .await
            .map_err(|_| {
                ApiError::busy("too many uploads are in progress right now; retry shortly")
            })?;

        let read = async {
            let mut draft = if door == Door::Predict {
                // The original service parsed JSON whatever the Content-Type said.
                let body = read_all(request, limit).await?;
                let old: PredictRequest = parse_json(&body)?;
                Draft {
                    image: old.base64str.as_deref().map(decode_base64).transpose()?,
                    threshold: old.threshold,
                    ..Draft::default()
                }
            } else {
                match essence.as_str() {
                    "multipart/form-data" => read_multipart(request, limit, key_pending).await?,
                    "application/x-www-form-urlencoded" => {
                        read_urlencoded(&read_all(request, limit).await?)?
                    }
                    "application/json" => {
                        let json: DetectJson = parse_json(&read_all(request, limit).await?)?;
                        if json.image.is_some() && json.url.is_some() {
                            return Err(ApiError::invalid(
                                "send either an image or a `url`, not both",
                            ));
                        }
                        Draft {
                            image: json.image.as_deref().map(decode_base64).transpose()?,
                            url: json.url,
                            threshold: json.threshold,
                            max_detections: json.max_detections,
                            format: json.format,
                            model: json.model,
                            api_key: None,
                        }
                    }
                    e if e.starts_with("image/") || e == "application/octet-stream" => Draft {
                        image: Some(read_all(request, limit).await?),
                        ..Draft::default()
                    },
                    "" => return Err(ApiError::unsupported_media(
                        "the request has no Content-Type: send multipart/form-data, application/json, or an image/* body",
                    )),
                    other => return Err(ApiError::unsupported_media(format!(
                        "{other} is not accepted here: send multipart/form-data, application/json, or an image/* body"
                    ))),
                }
            };
            draft.overlay(query);
            Ok::<_, ApiError>(draft)
        };
        let timeout = self.limits().body_timeout;
        let draft = tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| body_timeout(timeout))??;
        if key_pending {
            self.check_form_key(draft.api_key.as_deref())?;
        }
        draft.finish(door, accept, Some(reservation))
    }
}

fn body_timeout(limit: Duration) -> ApiError {
    ApiError::new(
        Kind::BodyTimeout,
        format!(
            "the request body did not arrive within {} seconds",
            limit.as_secs_f64()
        ),
    )
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Comparing keys must not leak, through timing, how much of a guess was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn essence(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .map(|m| m.essence_str().to_owned())
        .unwrap_or_default()
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// `Accept: image/png` or `image/jpeg` asks for the annotated picture; `*/*` keeps JSON.
pub fn format_from_accept(headers: &HeaderMap) -> OutputFormat {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for part in accept.split(',') {
        match part.split(';').next().unwrap_or("").trim() {
            "application/json" => return OutputFormat::Json,
            "image/png" => return OutputFormat::Png,
            "image/jpeg" => return OutputFormat::Jpeg,
            _ => {}
        }
    }
    OutputFormat::Json
}

/// Whether a body error is the size cap (from `RequestBodyLimitLayer` or our own reader).
fn is_length_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
        {
            return true;
        }
        source = e.source();
    }
    false
}

fn is_body_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<tower_http::timeout::TimeoutError>()
            .is_some()
        {
            return true;
        }
        source = e.source();
    }
    false
}

fn read_error(err: &(dyn std::error::Error + 'static), limit: usize) -> ApiError {
    if is_length_limit(err) {
        ApiError::body_too_large(limit)
    } else if is_body_timeout(err) {
        ApiError::new(
            Kind::BodyTimeout,
            "the request body stopped arriving; the connection was too slow",
        )
    } else {
        ApiError::bad_request("the request body could not be read (the upload broke off)")
    }
}

async fn read_all(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|e| read_error(&e, limit))
}

async fn read_multipart(
    request: Request,
    limit: usize,
    key_pending: bool,
) -> Result<Draft, ApiError> {
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .and_then(|m| m.get_param(mime::BOUNDARY).map(|b| b.as_str().len()));
    // RFC 2046: 1 to 70 characters.
    let boundary_ok = boundary.is_some_and(|len| (1..=70).contains(&len));
    let multipart = if boundary_ok {
        Multipart::from_request(request, &()).await.ok()
    } else {
        None
    };
    let mut multipart = multipart.ok_or_else(|| {
        ApiError::unsupported_media(
            "the multipart/form-data body has no valid boundary: send the image as multipart/form-data with a boundary, in a field named `image`",
        )
    })?;
    let bad = |e: axum::extract::multipart::MultipartError| {
        use std::error::Error as _;
        match e.source() {
            Some(source) if is_length_limit(source) || is_body_timeout(source) => {
                read_error(source, limit)
            }
            _ if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::body_too_large(limit)
            }
            _ => ApiError::bad_request(format!("the form data is malformed: {}", e.body_text())),
        }
    };
    let mut draft = Draft::default();
    let mut seen_a_field = false;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            // A form with no fields at all (nothing chosen, nothing typed) is just the closing
            // boundary, which the parser calls incomplete: it is a request without an image.
            Err(e) if !seen_a_field && e.body_text().contains("incomplete") => break,
            Err(e) => return Err(bad(e)),
        };
        seen_a_field = true;
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "image" => {
                // Without a key, do not read an image the server will refuse anyway.
                if key_pending && draft.api_key.is_none() {
                    return Err(ApiError::unauthorized(false));
                }
                let mut bytes = BytesMut::new();
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    if bytes.len() + chunk.len() > limit {
                        return Err(ApiError::body_too_large(limit));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                // A form submitted without choosing a file sends an empty part.
                if !bytes.is_empty() {
                    draft.image = Some(bytes.freeze());
                }
            }
            "url" => {
                let text = field.text().await.map_err(bad)?;
                if !text.trim().is_empty() {
                    draft.url = Some(text.trim().to_owned());
                }
            }
            "api_key" => draft.api_key = Some(field.text().await.map_err(bad)?),
            other => {
                let text = field.text().await.map_err(bad)?;
                if !draft.set_option(other, &text)? {
                    return Err(unknown_field(other));
                }
            }
        }
    }
    Ok(draft)
}

fn read_urlencoded(body: &[u8]) -> Result<Draft, ApiError> {
    let mut draft = Draft::default();
    for (name, value) in url::form_urlencoded::parse(body) {
        match name.as_ref() {
            "url" => {
                if !value.trim().is_empty() {
                    draft.url = Some(value.trim().to_owned())
                }
            }
            "image" => draft.image = Some(decode_base64(&value)?),
            "api_key" => draft.api_key = Some(value.into_owned()),
            other => {
                if !draft.set_option(other, &value)? {
                    return Err(unknown_field(other));
                }
            }
        }
    }
    Ok(draft)
}

fn unknown_field(name: &str) -> ApiError {
    ApiError::invalid(format!(
        "unknown field `{name}` (expected image or url, and {OPTION_FIELDS})"
    ))
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
    use base64::Engine as _;
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
        // Empty is "no image", which the request's validation words the same on every door.
        return Ok(Bytes::new());
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
    use base64::Engine as _;

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
    fn bad_base64_is_a_4xx() {
        assert_eq!(decode_base64("not base64 !!!").unwrap_err().status(), 400);
        assert!(decode_base64("   ").unwrap().is_empty());
        assert_eq!(
            decode_base64("data:image/png,abc").unwrap_err().status(),
            400
        );
    }

    #[test]
    fn key_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
