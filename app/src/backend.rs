//! What the UI's server functions need from the host. The `server` crate implements it with
//! the real engine and URL fetcher and provides it as Leptos context.

use std::sync::Arc;

use crate::types::{DetectResponse, ModelSummary, Problem};

/// Options for one detection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectParams {
    pub threshold: f32,
    pub max_detections: usize,
}

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The loaded model, or `None` while it is still loading.
    fn model(&self) -> Option<ModelSummary>;
    /// The largest upload accepted, in bytes.
    fn max_upload_bytes(&self) -> usize;
    /// Detects objects in an uploaded image.
    async fn detect_bytes(
        &self,
        bytes: bytes::Bytes,
        params: DetectParams,
    ) -> Result<DetectResponse, Problem>;
    /// Fetches an image URL (with the server's SSRF rules) and detects objects in it.
    async fn detect_url(&self, url: &str, params: DetectParams) -> Result<DetectResponse, Problem>;
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
