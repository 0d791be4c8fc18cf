//! Liveness, readiness and metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::models::ModelState;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `loading` or `shutting_down`.
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ok` (the default model is ready), `loading`, `failed` or `shutting_down`.
    pub status: &'static str,
    /// The state of each model: `ready`, `loading` or `failed`.
    pub models: Vec<ModelReadiness>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelReadiness {
    pub name: String,
    pub state: &'static str,
    pub default: bool,
    /// Sessions taking requests, of `sessions`: a model is ready with its first, and the
    /// others join as they are built and warmed up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions_ready: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<usize>,
}

/// The process is up and answering.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Ready for traffic: the default model is loaded (its first session serves), and the
/// server is not shutting down. Lists every model's state.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, description = "Loading, failed or shutting down", body = Readiness))
)]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let front = &state.front;
    let registry = front.models();
    let default = registry.default_slot().map(|s| s.name().to_owned());
    let models: Vec<ModelReadiness> = registry
        .slots()
        .iter()
        .map(|slot| ModelReadiness {
            name: slot.name().to_owned(),
            state: match slot.state() {
                ModelState::Ready => "ready",
                ModelState::Loading => "loading",
                ModelState::Failed { .. } => "failed",
            },
            default: default.as_deref() == Some(slot.name()),
            sessions_ready: slot.engine().map(|e| e.sessions_pooled()),
            sessions: slot.engine().map(|e| e.info().sessions),
        })
        .collect();
    let default_state = models
        .iter()
        .find(|m| m.default)
        .map_or("failed", |m| m.state);
    let (code, status) = if front.is_shutting_down() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting_down")
    } else {
        match default_state {
            "ready" => (StatusCode::OK, "ok"),
            "loading" => (StatusCode::SERVICE_UNAVAILABLE, "loading"),
            _ => (StatusCode::SERVICE_UNAVAILABLE, "failed"),
        }
    };
    (code, Json(Readiness { status, models }))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    for slot in state.front.models().slots() {
        if let Some(engine) = slot.engine() {
            crate::metrics::record_engine_load(slot.name(), engine.waiting(), engine.running());
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
