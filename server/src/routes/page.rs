//! The page's detection server functions, served by the front door at the paths their
//! declarations fix (`<Fn as ServerFn>::PATH`): the same reader, limits, key, admission and
//! errors as `POST /v1/detect`, answering what the server-function client expects (the
//! `DetectResponse` as JSON, or the problem as JSON with its status).

use std::time::Instant;

use axum::extract::{Request, State};
use axum::Json;

use app::types::DetectResponse;

use crate::error::ApiError;
use crate::front::Door;
use crate::state::AppState;

pub async fn detect(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<DetectResponse>, ApiError> {
    let started = Instant::now();
    let request = state.front.extract(Door::Page, request).await?;
    Ok(Json(state.front.detect(request, started).await?.response))
}
