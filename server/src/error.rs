//! The one place where every failure becomes an HTTP answer: an RFC 9457 problem.
//!
//! Client mistakes are 4xx problems worded for the caller. Server-side failures are a 500
//! with a fixed sentence: the library text that explains them goes to the log, with the
//! request id, never to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use app::types::Problem;
use detector::{BudgetError, EngineError, ImageError, ParamError};

use crate::fetch::FetchError;

/// How long a client told "busy" should wait before retrying, in seconds.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// The kinds of problem Lookout answers with, each with its one status and title: the
/// contract's.
pub use wire::ProblemKind as Kind;

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
        let problem = Problem::of(kind, detail);
        let retry_after = kind.is_transient().then_some(BUSY_RETRY_AFTER_SECS);
        Self {
            kind,
            problem,
            retry_after,
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
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

impl From<ParamError> for ApiError {
    fn from(err: ParamError) -> Self {
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
