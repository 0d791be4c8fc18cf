//! The one request model every door produces: where the image comes from and what to do
//! with it, validated once.

use bytes::Bytes;
use detector::{DetectOptions, Reservation};
use wire::DetectParams;

use crate::error::ApiError;

/// What to answer with: the contract's type.
pub use wire::OutputFormat;

/// The way in a request came: each door has its own defaults, nothing else differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// `PUT /predict`, the original service's API.
    Predict,
    /// `POST /v1/detect`.
    Api,
    /// The page's server functions: everything above a low floor comes back once, and the
    /// page filters with its slider.
    Page,
    /// `POST /detect`, the page's form without JavaScript.
    Form,
    /// `lookout detect`: image files from the command line, with the API's defaults.
    Cli,
}

impl Door {
    pub fn default_threshold(self) -> f32 {
        match self {
            Door::Page => wire::UI_SCORE_FLOOR,
            _ => wire::DEFAULT_THRESHOLD,
        }
    }
}

/// Where the image comes from.
#[derive(Debug)]
pub enum ImageSource {
    /// The bytes came with the request (raw, multipart or base64), already decoded from base64.
    Bytes(Bytes),
    /// An http(s) URL the server fetches under its address rules.
    Url(String),
}

/// One detection request, as every door hands it to the front.
#[derive(Debug)]
pub struct DetectRequest {
    pub source: ImageSource,
    pub options: DetectOptions,
    pub format: OutputFormat,
    /// `None`: the default model.
    pub model: Option<String>,
    /// The image's name as the client gave it (a multipart file name, a batch item's
    /// `name`, a URL's last path segment), for exports.
    pub name: Option<String>,
    /// Memory reserved for the request body while it is held.
    pub(crate) body: Option<Reservation>,
}

/// What a request carries before validation, gathered from wherever the door found it
/// (query, JSON, form fields): the image or its URL, the contract's options, and what a form
/// adds (the key, the file's name). Unknown field names are refused by the parser.
#[derive(Debug, Default)]
pub struct Draft {
    pub image: Option<Bytes>,
    pub url: Option<String>,
    pub params: DetectParams,
    pub api_key: Option<String>,
    /// The image's name as the client gave it (multipart file name, JSON `name`).
    pub name: Option<String>,
}

/// The option names every door accepts (besides the image itself), for error messages.
pub fn option_names() -> String {
    wire::OPTION_NAMES.join(", ")
}

impl Draft {
    /// A draft of the contract's options alone (a batch's, a stream's).
    pub fn of(params: DetectParams) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    /// Sets one option from its text form (query strings, form fields). `Ok(false)` when
    /// `name` is not an option.
    pub fn set_option(&mut self, name: &str, value: &str) -> Result<bool, ApiError> {
        Ok(self.params.set(name, value)?)
    }

    /// Later values (the query string) override earlier ones (the body).
    pub fn overlay(&mut self, over: Draft) {
        self.params.overlay(over.params);
    }

    /// Validates and completes the request with the door's defaults.
    pub fn finish(
        mut self,
        door: Door,
        accept_format: OutputFormat,
        body: Option<Reservation>,
    ) -> Result<DetectRequest, ApiError> {
        // Empty data (a raw body of nothing, an empty base64 string or file part) is no image.
        let image = self.image.take().filter(|bytes| !bytes.is_empty());
        let source = match (image, self.url.take()) {
            (Some(bytes), None) => ImageSource::Bytes(bytes),
            (None, Some(url)) => ImageSource::Url(url),
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "send either an image or a `url`, not both",
                ))
            }
            (None, None) => {
                return Err(ApiError::new(
                    crate::error::Kind::MissingImage,
                    match door {
                        Door::Form | Door::Page => {
                            "no image was chosen; pick an image file and try again"
                        }
                        Door::Predict => {
                            "the body has no `base64str`: send the image, base64-encoded, in `base64str`"
                        }
                        Door::Cli => "the file is empty: there is no image in it",
                        _ => "the request has no image: send it in `image` (a file or base64) or give a `url`",
                    },
                ))
            }
        };
        Ok(DetectRequest {
            source,
            options: self.options(door)?,
            format: self.params.format.unwrap_or(accept_format),
            model: self.params.model,
            name: self.name,
            body,
        })
    }

    /// The detection options, validated by the contract's one validator, with the door's
    /// default threshold.
    pub fn options(&self, door: Door) -> Result<DetectOptions, ApiError> {
        Ok(self.params.options(door.default_threshold())?)
    }
}
