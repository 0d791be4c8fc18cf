//! The encodings a request's fields come in besides multipart: the JSON bodies (their
//! OpenAPI schemas too), url-encoded forms, and base64 images.

use bytes::Bytes;
use serde::Deserialize;

use wire::DetectParams;

use super::request::{option_names, Draft};
use crate::error::ApiError;

/// The JSON body of `/v1/detect` and the page: the image as base64, or a URL, and the
/// contract's options beside them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DetectJson {
    /// The image, base64-encoded (data-URL prefix and whitespace accepted).
    pub image: Option<String>,
    /// An http(s) URL of the image; only public addresses are fetched.
    pub url: Option<String>,
    /// The image's name, for exports (default: `image.<ext>` after its format).
    pub name: Option<String>,
    #[serde(flatten)]
    pub params: DetectParams,
    /// Whatever else the body had: refused, by name.
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: Unknown,
}

/// The JSON body of `/v1/detect/batch`: the images, and options for all of them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BatchJson {
    /// The images, in order: each base64 `image` or a `url`, with an optional `name`.
    pub images: Vec<BatchJsonImage>,
    #[serde(flatten)]
    pub params: DetectParams,
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: Unknown,
}

/// The fields of a JSON body that are neither the image nor an option (serde cannot deny
/// unknown fields around a flattened struct, so they are gathered and refused here).
pub type Unknown = std::collections::BTreeMap<String, serde::de::IgnoredAny>;

/// Refuses a JSON body's first unknown field, in the words the other encodings use;
/// `image`: what the body names its image(s) by.
pub(super) fn refuse_unknown(unknown: &Unknown, image: &str) -> Result<(), ApiError> {
    match unknown.keys().next() {
        Some(name) => Err(ApiError::invalid(format!(
            "unknown field `{name}` (expected {image}, and {})",
            option_names()
        ))),
        None => Ok(()),
    }
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
    #[schema(value_type = Option<f32>, default = 0.5, minimum = 0.0, maximum = 1.0)]
    pub threshold: Option<wire::Scalar>,
}

pub(super) fn read_urlencoded(body: &[u8]) -> Result<Draft, ApiError> {
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

pub(super) fn unknown_field(name: &str) -> ApiError {
    ApiError::invalid(format!(
        "unknown field `{name}` (expected image or url, and {})",
        option_names()
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
}
