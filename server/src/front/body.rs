//! Reading a request body: within its size limit and its time, with the same words for a body
//! that is too large, too slow or broken off, whatever reads it.

use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{header, HeaderMap};
use bytes::Bytes;
use detector::Reservation;

use super::Front;
use crate::error::{ApiError, Kind};

impl Front {
    /// Memory for a request body (an upload, a stream's frame, a gRPC message) from the
    /// shared body budget; when it is spent the request is told the server is busy.
    pub async fn reserve_body(&self, bytes: u64) -> Result<Reservation, ApiError> {
        self.body_budget()
            .reserve(bytes, Instant::now())
            .await
            .map_err(|_| {
                ApiError::busy("too many uploads are in progress right now; retry shortly")
            })
    }

    /// A body's memory, reserved before a byte of it is read: as much as `headers` declare
    /// (refused at once over `limit`), else the whole `limit`.
    pub(super) async fn reserve_declared(
        &self,
        headers: &HeaderMap,
        limit: usize,
    ) -> Result<Reservation, ApiError> {
        let declared = declared_length(headers);
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(ApiError::body_too_large(limit));
        }
        self.reserve_body(declared.unwrap_or(limit as u64)).await
    }
}

pub(super) fn unsupported_body(essence: &str, or_raw: &str) -> ApiError {
    let accepted = if or_raw.is_empty() {
        "multipart/form-data or application/json".to_owned()
    } else {
        format!("multipart/form-data, application/json, or {or_raw}")
    };
    if essence.is_empty() {
        ApiError::unsupported_media(format!("the request has no Content-Type: send {accepted}"))
    } else {
        ApiError::unsupported_media(format!("{essence} is not accepted here: send {accepted}"))
    }
}

pub(super) fn body_timeout(limit: Duration) -> ApiError {
    ApiError::new(
        Kind::BodyTimeout,
        format!(
            "the request body did not arrive within {} seconds",
            limit.as_secs_f64()
        ),
    )
}

pub(super) fn essence(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .map(|m| m.essence_str().to_owned())
        .unwrap_or_default()
}

pub(super) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Whether a body error is the size cap (from `RequestBodyLimitLayer` or our own reader).
pub(super) fn is_length_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
        {
            return true;
        }
        source = e.source();
    }
    false
}

pub(super) fn is_body_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<tower_http::timeout::TimeoutError>()
            .is_some()
        {
            return true;
        }
        source = e.source();
    }
    false
}

pub(super) fn read_error(err: &(dyn std::error::Error + 'static), limit: usize) -> ApiError {
    if is_length_limit(err) {
        ApiError::body_too_large(limit)
    } else if is_body_timeout(err) {
        ApiError::new(
            Kind::BodyTimeout,
            "the request body stopped arriving; the connection was too slow",
        )
    } else {
        ApiError::bad_request("the request body could not be read (the upload broke off)")
    }
}

/// The whole body, at most `limit` bytes.
pub(super) async fn read_all(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|e| read_error(&e, limit))
}
