//! Turning an HTTP request into a [`DetectRequest`]: one reader for every door and every
//! encoding (raw image, JSON with base64 or a URL, multipart, url-encoded forms), with the
//! same body limit, the same body timeout, the same key check and the same errors.

use std::time::{Duration, Instant};

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, HeaderMap};
use bytes::{Bytes, BytesMut};
use detector::Reservation;
use serde::Deserialize;

use super::batch::{BatchItem, BatchRequest, BatchSource};
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
    /// The image's name, for exports (default: `image.<ext>` after its format).
    pub name: Option<String>,
    /// `auto`: a large image is also looked at tile by tile, to find small objects (one
    /// model run per tile); `off` (default): the whole image once.
    #[schema(value_type = Option<String>, example = "auto")]
    pub tile: Option<detector::TileMode>,
    /// How much neighbouring tiles overlap, as a fraction of a tile (0..0.5, default 0.2).
    pub tile_overlap: Option<f32>,
}

/// The JSON body of `/v1/detect/batch`: the images, and options for all of them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchJson {
    /// The images, in order: each base64 `image` or a `url`, with an optional `name`.
    pub images: Vec<BatchJsonImage>,
    /// Keep detections scoring at least this (0..1, default 0.5).
    pub threshold: Option<f32>,
    /// Keep at most this many per image, best first (default 100).
    pub max_detections: Option<usize>,
    /// `json` (default), `coco`, `yolo`, `voc`, `csv` or `zip`.
    pub format: Option<OutputFormat>,
    /// The model to run (default: the server's default model).
    pub model: Option<String>,
    /// `auto` or `off` (default): tiled detection, as for one image.
    #[schema(value_type = Option<String>, example = "auto")]
    pub tile: Option<detector::TileMode>,
    /// How much neighbouring tiles overlap (0..0.5, default 0.2).
    pub tile_overlap: Option<f32>,
}

/// One image of a JSON batch.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchJsonImage {
    /// The image, base64-encoded (data-URL prefix and whitespace accepted).
    pub image: Option<String>,
    /// An http(s) URL of the image; only public addresses are fetched.
    pub url: Option<String>,
    /// The image's name, for exports (default: the URL's file name, else `image.<ext>`).
    pub name: Option<String>,
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

/// What the front learns from a request's head before reading its body: the options in the
/// query, the format `Accept` asks for, the body's encoding, whether a form must still
/// carry the key, and the memory reserved for the body.
struct Opened {
    query: Draft,
    accept: OutputFormat,
    essence: String,
    key_pending: bool,
    limit: usize,
    reservation: Reservation,
}

/// How many images a multipart reader takes.
#[derive(Debug, Clone, Copy)]
enum Parts {
    /// One request: the image goes into the draft (a repeated part replaces it).
    One,
    /// A batch: every `image` part and `url` field is an item, in order, at most this many.
    Many(usize),
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
        let Opened {
            query,
            accept,
            essence,
            key_pending,
            limit,
            reservation,
        } = self
            .open(
                door,
                request.headers(),
                request.uri(),
                self.limits().max_body_bytes,
            )
            .await?;
        let read = async move {
            let draft = if door == Door::Predict {
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
                    "multipart/form-data" => {
                        read_multipart(request, limit, key_pending, Parts::One)
                            .await?
                            .0
                    }
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
                            name: json.name,
                            tile: json.tile,
                            tile_overlap: json.tile_overlap,
                        }
                    }
                    e if e.starts_with("image/") || e == "application/octet-stream" => Draft {
                        image: Some(read_all(request, limit).await?),
                        ..Draft::default()
                    },
                    other => return Err(unsupported_body(other, "an image/* body")),
                }
            };
            Ok((draft, ()))
        };
        let (draft, ()) = self.read_body(query, key_pending, read).await?;
        draft.finish(door, accept, Some(reservation))
    }

    /// Reads and validates a batch (`POST /v1/detect/batch`): a multipart form with repeated
    /// `image` parts (and `url` fields), or JSON [`BatchJson`], with the same limits, key,
    /// options and errors as [`Front::extract`]. An item that cannot be used (bad base64,
    /// both an image and a URL) carries its problem; it does not fail the batch.
    pub async fn extract_batch(
        &self,
        door: Door,
        request: Request,
    ) -> Result<BatchRequest, ApiError> {
        let Opened {
            query,
            essence,
            key_pending,
            limit,
            reservation,
            ..
        } = self
            .open(
                door,
                request.headers(),
                request.uri(),
                self.limits().max_batch_body_bytes,
            )
            .await?;
        let max = self.limits().max_batch_images;
        let read = async move {
            match essence.as_str() {
                "multipart/form-data" => {
                    read_multipart(request, limit, key_pending, Parts::Many(max)).await
                }
                "application/json" => {
                    let json: BatchJson = parse_json(&read_all(request, limit).await?)?;
                    if json.images.len() > max {
                        return Err(too_many_images(max));
                    }
                    let items = json
                        .images
                        .into_iter()
                        .map(|item| BatchItem {
                            name: item.name,
                            source: match (item.image, item.url) {
                                (Some(image), None) => BatchSource::Base64(image),
                                (None, Some(url)) => BatchSource::Url(url),
                                (Some(_), Some(_)) => BatchSource::Refused(ApiError::invalid(
                                    "send either an `image` or a `url` in each item, not both",
                                )),
                                (None, None) => BatchSource::Refused(ApiError::new(
                                    Kind::MissingImage,
                                    "the item has no image: give `image` (base64) or `url`",
                                )),
                            },
                        })
                        .collect();
                    let draft = Draft {
                        threshold: json.threshold,
                        max_detections: json.max_detections,
                        format: json.format,
                        model: json.model,
                        tile: json.tile,
                        tile_overlap: json.tile_overlap,
                        ..Draft::default()
                    };
                    Ok((draft, items))
                }
                other => Err(unsupported_body(other, "")),
            }
        };
        let (draft, items) = self.read_body(query, key_pending, read).await?;
        if items.is_empty() {
            return Err(ApiError::new(
                Kind::MissingImage,
                "the batch has no images: send `image` parts (multipart) or a JSON `images` list",
            ));
        }
        let format = draft.format.unwrap_or(OutputFormat::Json);
        if matches!(format, OutputFormat::Png | OutputFormat::Jpeg) {
            return Err(ApiError::invalid(
                "a batch cannot answer with one picture: use format=zip for the annotated images, or json, coco, yolo, voc, csv",
            ));
        }
        Ok(BatchRequest {
            items,
            options: draft.options(door)?,
            format,
            model: draft.model,
            body: Some(reservation),
        })
    }

    /// Everything before the body: query options, `Accept`, the key (as far as headers
    /// tell), the declared size, and the body's memory, reserved before a byte is read.
    /// `limit`: the largest body this door takes.
    async fn open(
        &self,
        door: Door,
        headers: &HeaderMap,
        uri: &axum::http::Uri,
        limit: usize,
    ) -> Result<Opened, ApiError> {
        let mut query = Draft::default();
        if door != Door::Predict {
            for (name, value) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
                if !query.set_option(&name, &value)? {
                    return Err(ApiError::invalid(format!(
                        "unknown query parameter `{name}` (expected {OPTION_FIELDS})"
                    )));
                }
            }
        }
        let accept = if door == Door::Api {
            format_from_accept(headers)
        } else {
            OutputFormat::Json
        };
        let essence = essence(headers);
        let is_form = matches!(
            essence.as_str(),
            "multipart/form-data" | "application/x-www-form-urlencoded"
        );
        let credential = self.credential(headers)?;
        if matches!(credential, Credential::Missing) && !is_form {
            return Err(ApiError::unauthorized(false));
        }
        let key_pending = matches!(credential, Credential::Missing);

        // Memory for the body, reserved before a byte of it is read.
        let declared = declared_length(headers);
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
        Ok(Opened {
            query,
            accept,
            essence,
            key_pending,
            limit,
            reservation,
        })
    }

    /// Runs a body reader within the body timeout, lays the query's options over the
    /// body's, and checks the key a form carried.
    async fn read_body<T>(
        &self,
        query: Draft,
        key_pending: bool,
        read: impl std::future::Future<Output = Result<(Draft, T), ApiError>>,
    ) -> Result<(Draft, T), ApiError> {
        let timeout = self.limits().body_timeout;
        let (mut draft, rest) = tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| body_timeout(timeout))??;
        draft.overlay(query);
        if key_pending {
            self.check_form_key(draft.api_key.as_deref())?;
        }
        Ok((draft, rest))
    }
}

fn unsupported_body(essence: &str, or_raw: &str) -> ApiError {
    let accepted = if or_raw.is_empty() {
        "multipart/form-data or application/json".to_owned()
    } else {
        format!("multipart/form-data, application/json, or {or_raw}")
    };
    if essence.is_empty() {
        ApiError::unsupported_media(format!("the request has no Content-Type: send {accepted}"))
    } else {
        ApiError::unsupported_media(format!("{essence} is not accepted here: send {accepted}"))
    }
}

fn too_many_images(max: usize) -> ApiError {
    ApiError::new(
        Kind::BodyTooLarge,
        format!("the batch has more than {max} images, the most this server takes in one request; split it"),
    )
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

/// Reads a multipart form: with [`Parts::One`] the image (and its file name) goes into the
/// draft; with [`Parts::Many`] every `image` part and `url` field becomes an item, in order.
async fn read_multipart(
    request: Request,
    limit: usize,
    key_pending: bool,
    parts: Parts,
) -> Result<(Draft, Vec<BatchItem>), ApiError> {
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
    let mut items = Vec::new();
    let room = |items: &Vec<BatchItem>| match parts {
        Parts::Many(max) if items.len() >= max => Err(too_many_images(max)),
        _ => Ok(()),
    };
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
                let file_name = field
                    .file_name()
                    .map(str::to_owned)
                    .filter(|n| !n.trim().is_empty());
                // Past the image count, refuse before reading the image.
                room(&items)?;
                let mut bytes = BytesMut::new();
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    if bytes.len() + chunk.len() > limit {
                        return Err(ApiError::body_too_large(limit));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                // A form submitted without choosing a file sends an empty, unnamed part.
                match parts {
                    Parts::One if !bytes.is_empty() => {
                        draft.image = Some(bytes.freeze());
                        draft.name = file_name;
                    }
                    Parts::Many(_) if !bytes.is_empty() || file_name.is_some() => {
                        items.push(BatchItem {
                            name: file_name,
                            source: BatchSource::Bytes(bytes.freeze()),
                        });
                    }
                    _ => {}
                }
            }
            "url" => {
                let text = field.text().await.map_err(bad)?;
                let url = text.trim();
                if !url.is_empty() {
                    match parts {
                        Parts::One => draft.url = Some(url.to_owned()),
                        Parts::Many(_) => {
                            room(&items)?;
                            items.push(BatchItem {
                                name: None,
                                source: BatchSource::Url(url.to_owned()),
                            });
                        }
                    }
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
    Ok((draft, items))
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
