//! `POST /v1/detect/batch`: several images in one request, each detected like a single
//! request, one after another.
//!
//! The fairness rule: a batch holds at most one engine place at a time (its items run one
//! after another), and an item that finds the engine full waits for a place (at most the
//! request deadline) instead of failing. Single requests therefore interleave with a batch:
//! one sent while a batch runs waits at most for the item that is running, not for the
//! whole batch. A bad item gets the problem a single request would have got and does not
//! stop the others.

use std::time::Instant;

use bytes::Bytes;
use detector::{DetectOptions, Reservation};

use super::encoding::decode_base64;
use super::request::{DetectRequest, ImageSource, OutputFormat};
use super::respond::{Finished, ItemOutcome};
use super::{Admit, Front};
use crate::error::{ApiError, Kind};

/// Where one batch item's image comes from, as the reader found it.
#[derive(Debug)]
pub enum BatchSource {
    /// Bytes that came with the request (a multipart file part).
    Bytes(Bytes),
    /// Base64 text from a JSON item, decoded when the item's turn comes.
    Base64(String),
    /// An http(s) URL the server fetches under its address rules.
    Url(String),
    /// The item cannot be run; this is its problem.
    Refused(ApiError),
}

/// One image of a batch.
#[derive(Debug)]
pub struct BatchItem {
    /// The name the client gave the image, if any.
    pub name: Option<String>,
    pub source: BatchSource,
}

/// A batch, as [`Front::extract_batch`] hands it over: the options apply to every item.
#[derive(Debug)]
pub struct BatchRequest {
    pub items: Vec<BatchItem>,
    pub options: DetectOptions,
    pub format: OutputFormat,
    /// `None`: the default model.
    pub model: Option<String>,
    /// Memory reserved for the request body while it is held.
    pub(crate) body: Option<Reservation>,
}

/// A batch over the image count, refused before the images past it are read.
pub(super) fn too_many_images(max: usize) -> ApiError {
    ApiError::new(
        Kind::BodyTooLarge,
        format!("the batch has more than {max} images, the most this server takes in one request; split it"),
    )
}

impl BatchItem {
    fn into_request(self, batch: &BatchRequest) -> Result<DetectRequest, ApiError> {
        let source = match self.source {
            BatchSource::Bytes(bytes) if bytes.is_empty() => {
                return Err(ApiError::new(Kind::NoImage, "the image file is empty"))
            }
            BatchSource::Bytes(bytes) => ImageSource::Bytes(bytes),
            BatchSource::Base64(text) => ImageSource::Bytes(decode_base64(&text)?),
            BatchSource::Url(url) => ImageSource::Url(url),
            BatchSource::Refused(e) => return Err(e),
        };
        Ok(DetectRequest {
            source,
            options: batch.options,
            format: batch.format,
            model: batch.model.clone(),
            name: self.name,
            body: None,
        })
    }
}

impl Front {
    /// Runs every item of `batch` in order, one at a time, each through
    /// [`Front::detect_with`] (sniffing, admission, URL fetch, image budget, deadline) with
    /// [`Admit::Wait`]. Keeps of each what `batch.format` needs. Fails as a whole only when
    /// the model cannot be used (unknown or not loaded).
    pub async fn detect_batch(
        &self,
        mut batch: BatchRequest,
    ) -> Result<(Vec<ItemOutcome>, Vec<String>), ApiError> {
        self.models().engine(batch.model.as_deref())?;
        let labels = self
            .models()
            .slot(batch.model.as_deref())?
            .summary()
            .map(|s| s.labels.clone())
            .ok_or_else(ApiError::not_ready)?;
        let items = std::mem::take(&mut batch.items);
        let mut outcomes = Vec::with_capacity(items.len());
        for item in items {
            let name = item.name.clone().or_else(|| match &item.source {
                BatchSource::Url(url) => super::url_file_name(url),
                _ => None,
            });
            let result = match item.into_request(&batch) {
                Ok(request) => match self.detect_with(request, Instant::now(), Admit::Wait).await {
                    Ok(detected) => Finished::keep(detected, batch.format).await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            outcomes.push(ItemOutcome { name, result });
        }
        drop(batch.body.take());
        Ok((outcomes, labels))
    }
}
