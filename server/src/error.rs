//! The one place where every failure becomes an HTTP answer: an RFC 9457 problem.
//!
//! Client mistakes are 4xx problems worded for the caller. Server-side failures are a 500
//! with a fixed sentence: the library text that explains them goes to the log, with the
//! request id, never to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use app::types::Problem;
use detector::{BudgetError, EngineError, ImageError, OptionsError};

use crate::fetch::FetchError;

/// How long a client told "busy" should wait before retrying, in seconds.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// The kinds of problem Lookout answers with: `type` is `urn:lookout:problem:<slug>`, so a
/// client can branch on the kind without parsing the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BadRequest,
    Invalid,
    UnsupportedMediaType,
    BodyTooLarge,
    BodyTimeout,
    NoImage,
    MissingImage,
    NotAnImage,
    UnsupportedImage,
    ImageTooLarge,
    CorruptImage,
    ImageShape,
    UrlRefused,
    UrlTooLarge,
    UrlTimeout,
    UrlFailed,
    Unauthorized,
    HostNotAllowed,
    NotFound,
    UnknownModel,
    Busy,
    ModelLoading,
    Timeout,
    Internal,
}

impl Kind {
    pub fn slug(self) -> &'static str {
        match self {
            Kind::BadRequest => "bad-request",
            Kind::Invalid => "invalid-value",
            Kind::UnsupportedMediaType => "unsupported-media-type",
            Kind::BodyTooLarge => "body-too-large",
            Kind::BodyTimeout => "body-timeout",
            Kind::NoImage => "no-image",
            Kind::MissingImage => "missing-image",
            Kind::NotAnImage => "not-an-image",
            Kind::UnsupportedImage => "unsupported-image-format",
            Kind::ImageTooLarge => "image-too-large",
            Kind::CorruptImage => "corrupt-image",
            Kind::ImageShape => "image-shape",
            Kind::UrlRefused => "url-refused",
            Kind::UrlTooLarge => "url-too-large",
            Kind::UrlTimeout => "url-timeout",
            Kind::UrlFailed => "url-fetch-failed",
            Kind::Unauthorized => "unauthorized",
            Kind::HostNotAllowed => "host-not-allowed",
            Kind::NotFound => "not-found",
            Kind::UnknownModel => "unknown-model",
            Kind::Busy => "busy",
            Kind::ModelLoading => "model-loading",
            Kind::Timeout => "timeout",
            Kind::Internal => "internal",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Kind::BadRequest | Kind::NoImage | Kind::CorruptImage | Kind::UrlRefused => {
                StatusCode::BAD_REQUEST
            }
            Kind::Invalid | Kind::MissingImage | Kind::ImageShape => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Kind::UnsupportedMediaType | Kind::NotAnImage | Kind::UnsupportedImage => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Kind::BodyTooLarge | Kind::ImageTooLarge | Kind::UrlTooLarge => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Kind::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::HostNotAllowed => StatusCode::FORBIDDEN,
            Kind::NotFound | Kind::UnknownModel => StatusCode::NOT_FOUND,
            Kind::Busy | Kind::ModelLoading => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Timeout | Kind::UrlTimeout => StatusCode::GATEWAY_TIMEOUT,
            Kind::UrlFailed => StatusCode::BAD_GATEWAY,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::BadRequest => "Bad request",
            Kind::Invalid => "Invalid value",
            Kind::UnsupportedMediaType => "Unsupported media type",
            Kind::BodyTooLarge => "Request too large",
            Kind::BodyTimeout => "Request too slow",
            Kind::NoImage => "No image",
            Kind::MissingImage => "No image",
            Kind::NotAnImage => "Not an image",
            Kind::UnsupportedImage => "Unsupported image format",
            Kind::ImageTooLarge => "Image too large",
            Kind::CorruptImage => "Corrupt image",
            Kind::ImageShape => "Image shape not supported",
            Kind::UrlRefused => "URL refused",
            Kind::UrlTooLarge => "Image too large",
            Kind::UrlTimeout => "URL too slow",
            Kind::UrlFailed => "URL fetch failed",
            Kind::Unauthorized => "Unauthorized",
            Kind::HostNotAllowed => "Host not allowed",
            Kind::NotFound => "Not found",
            Kind::UnknownModel => "Unknown model",
            Kind::Busy => "Server busy",
            Kind::ModelLoading => "Model loading",
            Kind::Timeout => "Took too long",
            Kind::Internal => "Internal error",
        }
    }
}

/// The one sentence clients get for a failure on our side.
const INTERNAL_DETAIL: &str =
    "something went wrong on our side; the request was not completed (the server log has the details under this request's id)";

/// A failure on its way to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: Kind,
    pub problem: Problem,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(kind: Kind, detail: impl Into<String>) -> Self {
        let problem = Problem::new(kind.status().as_u16(), kind.title(), detail)
            .with_kind(format!("urn:lookout:problem:{}", kind.slug()));
        let retry_after =
            matches!(kind, Kind::Busy | Kind::ModelLoading).then_some(BUSY_RETRY_AFTER_SECS);
        Self {
            kind,
            problem,
            retry_after,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, detail)
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(Kind::Invalid, detail)
    }

    pub fn unsupported_media(detail: impl Into<String>) -> Self {
        Self::new(Kind::UnsupportedMediaType, detail)
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            Kind::BodyTooLarge,
            format!(
                "the request body is larger than the {} limit",
                app::format::bytes(limit as u64)
            ),
        )
    }

    pub fn not_ready() -> Self {
        Self::new(
            Kind::ModelLoading,
            "the model is still loading; try again in a moment",
        )
    }

    pub fn busy(detail: impl Into<String>) -> Self {
        Self::new(Kind::Busy, detail)
    }

    pub fn unauthorized(wrong: bool) -> Self {
        Self::new(
            Kind::Unauthorized,
            if wrong {
                "the API key is not valid: send the key the server was started with (`Authorization: Bearer <key>`)"
            } else {
                "this server needs an API key: send `Authorization: Bearer <key>` (forms: an `api_key` field)"
            },
        )
    }

    /// A failure on our side: `cause` is logged, the client gets a fixed sentence.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error");
        Self::new(Kind::Internal, INTERNAL_DETAIL)
    }
}

impl From<ImageError> for ApiError {
    fn from(err: ImageError) -> Self {
        let detail = err.to_string();
        let kind = match err {
            ImageError::Empty => Kind::NoImage,
            ImageError::NotAnImage => Kind::NotAnImage,
            ImageError::UnsupportedFormat(_) => Kind::UnsupportedImage,
            ImageError::TooLarge { .. } | ImageError::TooMuchMemory { .. } => Kind::ImageTooLarge,
            ImageError::Corrupt { .. } => Kind::CorruptImage,
        };
        Self::new(kind, detail)
    }
}

impl From<OptionsError> for ApiError {
    fn from(err: OptionsError) -> Self {
        Self::invalid(err.to_string())
    }
}

impl From<BudgetError> for ApiError {
    fn from(err: BudgetError) -> Self {
        match err {
            BudgetError::TooLarge { .. } => Self::new(Kind::ImageTooLarge, err.to_string()),
            BudgetError::Exhausted => Self::busy(err.to_string()),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::Busy { .. } => Self::busy(err.to_string()),
            EngineError::DeadlineExceeded { .. } => Self::new(Kind::Timeout, err.to_string()),
            EngineError::UnsupportedImage(detail) => Self::new(Kind::ImageShape, detail),
            other => Self::internal(other),
        }
    }
}

impl From<FetchError> for ApiError {
    fn from(err: FetchError) -> Self {
        let detail = err.to_string();
        let kind = match err {
            FetchError::Refused(_) => Kind::UrlRefused,
            FetchError::TooLarge { .. } => Kind::UrlTooLarge,
            FetchError::Timeout { .. } => Kind::UrlTimeout,
            FetchError::Upstream(_) => Kind::UrlFailed,
        };
        Self::new(kind, detail)
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
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.kind == Kind::Unauthorized {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // Put the problem where middleware (the access log) can see its kind.
        response.extensions_mut().insert(self.kind);
        response
    }
}
