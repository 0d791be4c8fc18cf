//! The one place where every failure becomes an HTTP answer: an RFC 9457 problem.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use app::types::Problem;
use detector::{EngineError, ImageError};

use crate::fetch::FetchError;

/// How long a client told "busy" should wait before retrying, in seconds.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// A failure on its way to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub problem: Problem,
    pub retry_after: Option<u64>,
    pub www_authenticate: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, title: &str, detail: impl Into<String>) -> Self {
        Self {
            problem: Problem::new(status.as_u16(), title, detail),
            retry_after: None,
            www_authenticate: false,
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Bad request", detail)
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid value", detail)
    }

    pub fn unsupported_media(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            detail,
        )
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request too large",
            format!(
                "the request body is larger than the {} limit",
                human_bytes(limit)
            ),
        )
    }

    pub fn not_ready() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Model loading",
            "the model is still loading; try again in a moment",
        );
        e.retry_after = Some(BUSY_RETRY_AFTER_SECS);
        e
    }

    pub fn unauthorized() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "this endpoint needs an API key: send `Authorization: Bearer <key>`",
        );
        e.www_authenticate = true;
        e
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", detail)
    }
}

/// `20971520` -> `20 MiB`.
pub fn human_bytes(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= 1024 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

impl From<ImageError> for ApiError {
    fn from(err: ImageError) -> Self {
        let detail = err.to_string();
        match err {
            ImageError::Empty => Self::new(StatusCode::BAD_REQUEST, "No image", detail),
            ImageError::NotAnImage => {
                Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Not an image", detail)
            }
            ImageError::UnsupportedFormat(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported image format",
                detail,
            ),
            ImageError::TooLarge { .. } | ImageError::TooMuchMemory { .. } => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "Image too large", detail)
            }
            ImageError::Corrupt { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "Corrupt image", detail)
            }
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        let detail = err.to_string();
        match err {
            EngineError::Busy { .. } => {
                let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "Server busy", detail);
                e.retry_after = Some(BUSY_RETRY_AFTER_SECS);
                e
            }
            EngineError::DeadlineExceeded { .. } => {
                Self::new(StatusCode::GATEWAY_TIMEOUT, "Took too long", detail)
            }
            _ => Self::internal(detail),
        }
    }
}

impl From<FetchError> for ApiError {
    fn from(err: FetchError) -> Self {
        let detail = err.to_string();
        let (status, title) = match err {
            FetchError::Refused(_) => (StatusCode::BAD_REQUEST, "URL refused"),
            FetchError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "Image too large"),
            FetchError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "URL too slow"),
            FetchError::Upstream(_) => (StatusCode::BAD_GATEWAY, "URL fetch failed"),
        };
        Self::new(status, title, detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self.problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.www_authenticate {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
