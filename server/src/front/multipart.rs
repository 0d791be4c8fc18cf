//! Reading a `multipart/form-data` body: one image (a request) or many (a batch), with the
//! options as fields, within the body's limit.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use bytes::BytesMut;

use super::batch::{too_many_images, BatchItem, BatchSource};
use super::body::{is_body_timeout, is_length_limit, read_error};
use super::encoding::unknown_field;
use super::request::Draft;
use crate::error::ApiError;

/// The fields of a detection's multipart form, for the API description (the form itself is
/// read part by part, so that the file streams within the body's limit).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DetectForm {
    /// The image file (its file name names it in exports).
    #[schema(format = Binary, value_type = String)]
    image: Vec<u8>,
    /// An http(s) URL of the image instead of a file (url-encoded forms too).
    url: Option<String>,
    /// The API key, for HTML forms that cannot send headers.
    api_key: Option<String>,
    #[serde(flatten)]
    params: wire::DetectParams,
}

/// The fields of a batch's multipart form, for the API description.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct BatchForm {
    /// The image files: repeat the `image` part, one per image (its file name names it).
    /// `url` fields are items too, in the order they come.
    #[schema(format = Binary, value_type = Vec<String>)]
    image: Vec<Vec<u8>>,
    url: Option<Vec<String>>,
    /// The API key, for HTML forms that cannot send headers.
    api_key: Option<String>,
    /// `format` may be `json` (default), `coco`, `yolo`, `voc`, `csv` or `zip`.
    #[serde(flatten)]
    params: wire::DetectParams,
}

/// How many images a multipart reader takes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Parts {
    /// One request: the image goes into the draft (a repeated part replaces it).
    One,
    /// A batch: every `image` part and `url` field is an item, in order, at most this many.
    Many(usize),
}

/// Reads a multipart form: with [`Parts::One`] the image (and its file name) goes into the
/// draft; with [`Parts::Many`] every `image` part and `url` field becomes an item, in order.
pub(super) async fn read_multipart(
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
