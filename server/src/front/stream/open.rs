//! Opening a stream: everything decided before the upgrade (the key, the query's options and
//! model, a place among `--max-streams`), and the signal that tells open streams to close.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue};
use base64::Engine as _;
use detector::DetectOptions;
use metrics::gauge;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::front::request::{option_names, Door, Draft, OutputFormat};
use crate::front::Front;
use crate::metrics as m;

/// The subprotocol the server selects; browsers must offer it beside their key.
pub const PROTOCOL: &str = "lookout";
/// A browser's key travels as the subprotocol `lookout.bearer.<base64url(key)>` (browsers
/// cannot set headers on a WebSocket, and a key in the URL would end up in logs).
pub const KEY_PROTOCOL_PREFIX: &str = "lookout.bearer.";

/// The open streams: at most `--max-streams`, and the signal that tells them to close.
pub struct Streams {
    slots: Arc<Semaphore>,
    max: usize,
    open: Arc<AtomicUsize>,
    stop: watch::Sender<bool>,
}

/// One open stream's place among `--max-streams`; given back when dropped.
pub struct StreamPermit {
    _permit: OwnedSemaphorePermit,
    open: Arc<AtomicUsize>,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let open = self.open.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
        gauge!(m::STREAMS_OPEN).set(open as f64);
    }
}

impl Streams {
    pub fn new(max: usize) -> Self {
        let max = max.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        Self {
            slots: Arc::new(Semaphore::new(max)),
            max,
            open: Arc::new(AtomicUsize::new(0)),
            stop: watch::channel(false).0,
        }
    }

    /// A place for one more stream, or 503 (with `Retry-After`) before the upgrade.
    pub fn open(&self) -> Result<StreamPermit, ApiError> {
        if *self.stop.borrow() {
            return Err(ApiError::busy(
                "the server is shutting down and takes no new streams",
            ));
        }
        let permit = Arc::clone(&self.slots).try_acquire_owned().map_err(|_| {
            ApiError::busy(format!(
                "the server has as many streams open as it takes ({}); retry shortly",
                self.max
            ))
        })?;
        let open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        gauge!(m::STREAMS_OPEN).set(open as f64);
        Ok(StreamPermit {
            _permit: permit,
            open: Arc::clone(&self.open),
        })
    }

    /// Tells every stream to close (1001) once the frame it has in the model is answered.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Resolves once every stream has closed (after [`Streams::stop`]).
    pub async fn closed(&self) {
        let _ = self.slots.acquire_many(self.max as u32).await;
    }

    pub(super) fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }
}

/// What a stream runs every frame with, validated before the upgrade.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub options: DetectOptions,
    /// `None`: the default model.
    pub model: Option<String>,
    /// The model's name, for the metrics.
    pub model_name: String,
}

impl Front {
    /// A stream's query, validated exactly as `POST /v1/detect` validates its query (the
    /// same validator, defaults and words), and its model, which must be loaded. Answers are
    /// JSON only.
    pub fn stream_settings(&self, query: Option<&str>) -> Result<StreamSettings, ApiError> {
        let mut draft = Draft::default();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if !draft.set_option(&name, &value)? {
                return Err(ApiError::invalid(format!(
                    "unknown query parameter `{name}` (expected {})",
                    option_names()
                )));
            }
        }
        if draft.params.format.is_some_and(|f| f != OutputFormat::Json) {
            return Err(ApiError::invalid(
                "a stream answers every frame with JSON: leave out `format` or give `format=json`",
            ));
        }
        let options = draft.options(Door::Api)?;
        // An unknown model is a 404 and one still loading a 503, as on `/v1/detect`.
        let model = draft.params.model;
        self.models().engine(model.as_deref())?;
        let model_name = self.models().slot(model.as_deref())?.name().to_owned();
        Ok(StreamSettings {
            options,
            model,
            model_name,
        })
    }

    /// The key for a stream: `Authorization: Bearer <key>` (programs), else the subprotocol
    /// `lookout.bearer.<base64url(key)>` (browsers). Refused with the other doors' 401.
    pub fn authorize_stream(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if self.api_key().is_none() || headers.contains_key(header::AUTHORIZATION) {
            return self.authorize(headers);
        }
        // The subprotocol's key is checked as the header would be: one comparison, one wording.
        let presented = protocol_key(headers).ok_or_else(|| ApiError::unauthorized(false))?;
        let bearer = presented
            .and_then(|key| String::from_utf8(key).ok())
            .and_then(|key| HeaderValue::from_str(&format!("Bearer {key}")).ok())
            .ok_or_else(|| ApiError::unauthorized(true))?;
        let mut as_header = HeaderMap::new();
        as_header.insert(header::AUTHORIZATION, bearer);
        self.authorize(&as_header)
    }
}

/// The key offered as a subprotocol: `None` when none is offered, `Some(None)` when it is
/// not base64url.
fn protocol_key(headers: &HeaderMap) -> Option<Option<Vec<u8>>> {
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|p| p.strip_prefix(KEY_PROTOCOL_PREFIX))?;
    Some(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(offered.trim_end_matches('='))
            .ok(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_as_a_subprotocol() {
        let mut headers = HeaderMap::new();
        assert_eq!(protocol_key(&headers), None);
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            "lookout, lookout.bearer.c2VjcmV0".parse().unwrap(),
        );
        assert_eq!(protocol_key(&headers), Some(Some(b"secret".to_vec())));
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            "lookout.bearer.c2VjcmV0==, lookout".parse().unwrap(),
        );
        assert_eq!(protocol_key(&headers), Some(Some(b"secret".to_vec())));
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            "lookout, lookout.bearer.!!".parse().unwrap(),
        );
        assert_eq!(protocol_key(&headers), Some(None));
    }
}
