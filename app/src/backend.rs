//! What the UI's server functions need from the host. The `server` crate implements it and
//! provides it as Leptos context.

use std::sync::Arc;

use crate::types::{ModelSummary, Problem};

pub trait Backend: Send + Sync + 'static {
    /// The largest upload accepted, in bytes.
    fn max_upload_bytes(&self) -> usize;
    /// The server was started with an API key: detection requests must carry it.
    fn key_required(&self) -> bool;
    /// The loaded models, the default first.
    fn models(&self) -> Vec<ModelSummary>;
}

pub type SharedBackend = Arc<dyn Backend>;

/// The backend from Leptos context, or a problem saying the host forgot to provide it.
pub fn backend() -> Result<SharedBackend, Problem> {
    leptos::prelude::use_context::<SharedBackend>().ok_or_else(|| {
        Problem::new(
            500,
            "Server misconfigured",
            "the detection backend is not available",
        )
    })
}
