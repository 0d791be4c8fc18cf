//! Reading an inference request's body as every HTTP door does: the key first, then the
//! declared size against `--max-body-bytes`, memory reserved from the body budget before a
//! byte is read, and the body read within its limit and `--body-timeout-secs`.

use std::time::Instant;

use axum::extract::Request;
use bytes::Bytes;
use detector::Reservation;

use super::super::body::{body_timeout, declared_length, read_all};
use super::Front;
use crate::error::ApiError;

impl Front {
    /// The whole body of an inference request, with its memory reservation.
    pub async fn read_infer_body(
        &self,
        request: Request,
    ) -> Result<(Bytes, Reservation), ApiError> {
        self.authorize(request.headers())?;
        let limit = self.limits().max_body_bytes;
        let declared = declared_length(request.headers());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(ApiError::body_too_large(limit));
        }
        let reservation = self.reserve_body(declared.unwrap_or(limit as u64)).await?;
        let timeout = self.limits().body_timeout;
        let body = tokio::time::timeout(timeout, read_all(request, limit))
            .await
            .map_err(|_| body_timeout(timeout))??;
        Ok((body, reservation))
    }

    /// Memory for a request body from the shared body budget (a gRPC message, already read
    /// by the transport within `--max-body-bytes`, counts there too).
    pub async fn reserve_body(&self, bytes: u64) -> Result<Reservation, ApiError> {
        self.body_budget()
            .reserve(bytes, Instant::now())
            .await
            .map_err(|_| {
                ApiError::busy("too many uploads are in progress right now; retry shortly")
            })
    }
}
