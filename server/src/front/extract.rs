//! Turning an HTTP request into a [`DetectRequest`]: one reader for every door and every
//! encoding (raw image, JSON with base64 or a URL, multipart, url-encoded forms), with the
//! same body limit, the same body timeout, the same key check and the same errors.
//!
//! This module is the door logic: the key, the query's options, `Accept`, the body's memory,
//! and which reader a body goes to. Reading a body within its limit and time is
//! [`super::body`], a multipart form [`super::multipart`], and the JSON, url-encoded and
//! base64 encodings [`super::encoding`].

use axum::extract::Request;
use axum::http::{header, HeaderMap};
use detector::Reservation;

use super::batch::{too_many_images, BatchItem, BatchRequest, BatchSource};
use super::body::{body_timeout, essence, read_all, unsupported_body};
use super::encoding::{
    decode_base64, parse_json, read_urlencoded, refuse_unknown, BatchJson, DetectJson,
    PredictRequest,
};
use super::multipart::{read_multipart, Parts};
use super::request::{option_names, DetectRequest, Door, Draft, OutputFormat};
use super::Front;
use crate::error::{ApiError, Kind};

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
        } = self.open(door, request.headers(), request.uri()).await?;
        let read = async move {
            let draft = if door == Door::Predict {
                // The original service parsed JSON whatever the Content-Type said.
                let body = read_all(request, limit).await?;
                let old: PredictRequest = parse_json(&body)?;
                let mut draft = Draft {
                    image: old.base64str.as_deref().map(decode_base64).transpose()?,
                    ..Draft::default()
                };
                if let Some(wire::Scalar(Some(threshold))) = &old.threshold {
                    draft.set_option("threshold", threshold)?;
                }
                draft
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
                        refuse_unknown(&json.unknown, "image or url")?;
                        if json.image.is_some() && json.url.is_some() {
                            return Err(ApiError::invalid(
                                "send either an image or a `url`, not both",
                            ));
                        }
                        Draft {
                            image: json.image.as_deref().map(decode_base64).transpose()?,
                            url: json.url,
                            params: json.params,
                            api_key: None,
                            name: json.name,
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
        } = self.open(door, request.headers(), request.uri()).await?;
        let max = self.limits().max_batch_images;
        let read = async move {
            match essence.as_str() {
                "multipart/form-data" => {
                    read_multipart(request, limit, key_pending, Parts::Many(max)).await
                }
                "application/json" => {
                    let json: BatchJson = parse_json(&read_all(request, limit).await?)?;
                    refuse_unknown(&json.unknown, "images")?;
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
                    Ok((Draft::of(json.params), items))
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
        let format = draft.params.format.unwrap_or_default();
        if format.is_picture() {
            return Err(ApiError::invalid(
                "a batch cannot answer with one picture: use format=zip for the annotated images, or json, coco, yolo, voc, csv",
            ));
        }
        Ok(BatchRequest {
            items,
            options: draft.options(door)?,
            format,
            model: draft.params.model,
            body: Some(reservation),
        })
    }

    /// Everything before the body: query options, `Accept`, the key (as far as headers
    /// tell), the declared size against the route's limit, and the body's memory, reserved
    /// before a byte is read.
    async fn open(
        &self,
        door: Door,
        headers: &HeaderMap,
        uri: &axum::http::Uri,
    ) -> Result<Opened, ApiError> {
        let limit = self.limits().body_limit(uri.path());
        let mut query = Draft::default();
        if door != Door::Predict {
            for (name, value) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
                if !query.set_option(&name, &value)? {
                    return Err(ApiError::invalid(format!(
                        "unknown query parameter `{name}` (expected {})",
                        option_names()
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

        let reservation = self.reserve_declared(headers, limit).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
