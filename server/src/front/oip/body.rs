//! Reading an inference request's body as every HTTP door does: the key first, then the
//! declared size against `--max-body-bytes`, memory reserved from the body budget before a
//! byte is read, and the body read within its limit and `--body-timeout-secs`.

use axum::extract::Request;
use bytes::Bytes;
use detector::Reservation;

use super::super::body::{body_timeout, read_all};
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
        let reservation = self.reserve_declared(request.headers(), limit).await?;
        let timeout = self.limits().body_timeout;
        let body = tokio::time::timeout(timeout, read_all(request, limit))
            .await
            .map_err(|_| body_timeout(timeout))??;
        Ok((body, reservation))
    }
}
