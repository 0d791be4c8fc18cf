//! What went wrong, as every door reports it: an RFC 9457 problem of a known kind.

use serde::{Deserialize, Serialize};

/// The kinds of problem Lookout answers with: `type` is `urn:lookout:problem:<slug>`, so a
/// client can branch on the kind without parsing the words. Each kind has one HTTP status
/// and one title, whichever door reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
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
    /// A call the server is not set up to take (the model repository without `--admin-key`).
    Forbidden,
    NotFound,
    UnknownModel,
    Busy,
    ModelLoading,
    Timeout,
    Internal,
}

impl ProblemKind {
    pub fn slug(self) -> &'static str {
        use ProblemKind as K;
        match self {
            K::BadRequest => "bad-request",
            K::Invalid => "invalid-value",
            K::UnsupportedMediaType => "unsupported-media-type",
            K::BodyTooLarge => "body-too-large",
            K::BodyTimeout => "body-timeout",
            K::NoImage => "no-image",
            K::MissingImage => "missing-image",
            K::NotAnImage => "not-an-image",
            K::UnsupportedImage => "unsupported-image-format",
            K::ImageTooLarge => "image-too-large",
            K::CorruptImage => "corrupt-image",
            K::ImageShape => "image-shape",
            K::UrlRefused => "url-refused",
            K::UrlTooLarge => "url-too-large",
            K::UrlTimeout => "url-timeout",
            K::UrlFailed => "url-fetch-failed",
            K::Unauthorized => "unauthorized",
            K::HostNotAllowed => "host-not-allowed",
            K::Forbidden => "forbidden",
            K::NotFound => "not-found",
            K::UnknownModel => "unknown-model",
            K::Busy => "busy",
            K::ModelLoading => "model-loading",
            K::Timeout => "timeout",
            K::Internal => "internal",
        }
    }

    /// The problem's `type`.
    pub fn uri(self) -> String {
        format!("urn:lookout:problem:{}", self.slug())
    }

    /// The HTTP status (and, on doors that are not HTTP, the `status` of the problem).
    pub fn status(self) -> u16 {
        use ProblemKind as K;
        match self {
            K::BadRequest | K::NoImage | K::CorruptImage | K::UrlRefused => 400,
            K::Invalid | K::MissingImage | K::ImageShape => 422,
            K::UnsupportedMediaType | K::NotAnImage | K::UnsupportedImage => 415,
            K::BodyTooLarge | K::ImageTooLarge | K::UrlTooLarge => 413,
            K::BodyTimeout => 408,
            K::Unauthorized => 401,
            K::HostNotAllowed | K::Forbidden => 403,
            K::NotFound | K::UnknownModel => 404,
            K::Busy | K::ModelLoading => 503,
            K::Timeout | K::UrlTimeout => 504,
            K::UrlFailed => 502,
            K::Internal => 500,
        }
    }

    pub fn title(self) -> &'static str {
        use ProblemKind as K;
        match self {
            K::BadRequest => "Bad request",
            K::Invalid => "Invalid value",
            K::UnsupportedMediaType => "Unsupported media type",
            K::BodyTooLarge => "Request too large",
            K::BodyTimeout => "Request too slow",
            K::NoImage => "No image",
            K::MissingImage => "No image",
            K::NotAnImage => "Not an image",
            K::UnsupportedImage => "Unsupported image format",
            K::ImageTooLarge => "Image too large",
            K::CorruptImage => "Corrupt image",
            K::ImageShape => "Image shape not supported",
            K::UrlRefused => "URL refused",
            K::UrlTooLarge => "Image too large",
            K::UrlTimeout => "URL too slow",
            K::UrlFailed => "URL fetch failed",
            K::Unauthorized => "Unauthorized",
            K::HostNotAllowed => "Host not allowed",
            K::Forbidden => "Forbidden",
            K::NotFound => "Not found",
            K::UnknownModel => "Unknown model",
            K::Busy => "Server busy",
            K::ModelLoading => "Model loading",
            K::Timeout => "Took too long",
            K::Internal => "Internal error",
        }
    }

    /// Whether trying again later may succeed (the server says when, in `Retry-After`).
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Busy | Self::ModelLoading)
    }
}

/// An RFC 9457 problem: what went wrong, worded for the person who can fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[error("{title}: {detail}")]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:lookout:problem:<slug>`; `about:blank` when the
    /// status says it all).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

impl Problem {
    pub fn new(status: u16, title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank".to_owned(),
            title: title.into(),
            status,
            detail: detail.into(),
        }
    }

    /// A problem of a known kind: its status, title and `type` follow from the kind.
    pub fn of(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self::new(kind.status(), kind.title(), detail).with_kind(kind.uri())
    }

    pub fn with_kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = kind.into();
        self
    }
}

/// Server functions report failures as a [`Problem`], so the page shows the same words the
/// REST API would.
#[cfg(feature = "server-fn")]
impl server_fn::error::FromServerFnError for Problem {
    type Encoder = server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: server_fn::error::ServerFnErrorErr) -> Self {
        use server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Request(e) | E::Response(e) => Problem::new(
                0,
                "Could not reach Lookout",
                format!(
                    "the request did not get through ({e}); check your connection and try again"
                ),
            ),
            E::Args(e) | E::MissingArg(e) => Problem::new(
                400,
                "Bad request",
                format!("the request's arguments could not be read: {e}"),
            ),
            other => Problem::new(500, "Unexpected error", other.to_string()),
        }
    }
}
