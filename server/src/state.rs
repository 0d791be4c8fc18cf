//! What every handler shares.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::front::Front;
use crate::guards::HostGuard;

#[derive(Clone)]
pub struct AppState {
    pub front: Arc<Front>,
    pub metrics: PrometheusHandle,
    pub leptos_options: LeptosOptions,
    /// Which `Host` names are answered (`None`: any).
    pub host_guard: Option<Arc<HostGuard>>,
    /// The models that can be loaded and unloaded while serving (Open Inference Protocol).
    pub repository: Arc<crate::repository::Repository>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
