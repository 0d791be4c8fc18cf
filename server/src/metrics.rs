//! Prometheus metrics: what operators need to see load, latency and shedding.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const REQUESTS: &str = "lookout_http_requests_total";
pub const REQUEST_SECONDS: &str = "lookout_http_request_duration_seconds";
pub const DECODE_SECONDS: &str = "lookout_decode_duration_seconds";
pub const QUEUE_SECONDS: &str = "lookout_queue_wait_seconds";
pub const INFERENCE_SECONDS: &str = "lookout_inference_duration_seconds";
pub const QUEUE_DEPTH: &str = "lookout_queue_depth";
pub const IN_FLIGHT: &str = "lookout_inferences_in_flight";
pub const REJECTED_BUSY: &str = "lookout_rejected_busy_total";
pub const MODEL_INFO: &str = "lookout_model_info";
pub const CONNECTIONS_REFUSED: &str = "lookout_connections_refused_total";
pub const STREAMS_OPEN: &str = "lookout_streams_open";
pub const STREAM_FRAMES: &str = "lookout_stream_frames_total";
pub const STREAM_ANSWERED: &str = "lookout_stream_frames_answered_total";
pub const STREAM_DROPPED: &str = "lookout_stream_frames_dropped_total";
pub const MODEL_RELOADS: &str = "lookout_model_reloads_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let latency = [
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &latency)
                .map(|b| b.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // A second recorder (only possible in tests) keeps using the first one's handle.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(REQUESTS, "HTTP requests by route, method and status");
    metrics::describe_histogram!(
        REQUEST_SECONDS,
        metrics::Unit::Seconds,
        "HTTP request latency by route"
    );
    metrics::describe_histogram!(
        DECODE_SECONDS,
        metrics::Unit::Seconds,
        "Image decoding time"
    );
    metrics::describe_histogram!(
        QUEUE_SECONDS,
        metrics::Unit::Seconds,
        "Time waiting for a free model session"
    );
    metrics::describe_histogram!(
        INFERENCE_SECONDS,
        metrics::Unit::Seconds,
        "Model run time (tensor build and post-processing included)"
    );
    metrics::describe_gauge!(QUEUE_DEPTH, "Requests waiting for a model session");
    metrics::describe_gauge!(IN_FLIGHT, "Model runs in progress");
    metrics::describe_counter!(
        REJECTED_BUSY,
        "Requests refused with 503 because the queue was full"
    );
    metrics::describe_gauge!(MODEL_INFO, "The loaded models (value 1)");
    metrics::describe_counter!(
        CONNECTIONS_REFUSED,
        "Connections answered 503 and closed because --max-connections were open"
    );
    metrics::describe_gauge!(
        STREAMS_OPEN,
        "WebSocket streams open (GET /v1/detect/stream)"
    );
    metrics::describe_counter!(STREAM_FRAMES, "Frames received on streams, by model");
    metrics::describe_counter!(
        STREAM_ANSWERED,
        "Stream frames answered (with a result or a problem), by model"
    );
    metrics::describe_counter!(
        STREAM_DROPPED,
        "Stream frames replaced by a newer frame before their turn, never answered, by model"
    );
    metrics::describe_counter!(
        MODEL_RELOADS,
        "Model files seen changed by --watch-models, by model and result (reloaded, unchanged, failed)"
    );
}

/// Counts and times every request under its route template (never the raw path, which
/// would let clients create unbounded label values).
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    counter!(REQUESTS, "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    histogram!(REQUEST_SECONDS, "route" => route).record(started.elapsed().as_secs_f64());
    response
}

/// Methods as a fixed set of label values: a client inventing methods must not invent series.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

pub fn record_model(name: &str, sha256: &str, layout: &str) {
    gauge!(MODEL_INFO, "name" => name.to_owned(), "sha256" => sha256.to_owned(), "layout" => layout.to_owned()).set(1.0);
}

/// A model's engine no longer serves (replaced by a reload, or unloaded): its info series
/// reads 0, so `lookout_model_info == 1` lists what serves now.
pub fn record_model_gone(name: &str, sha256: &str, layout: &str) {
    gauge!(MODEL_INFO, "name" => name.to_owned(), "sha256" => sha256.to_owned(), "layout" => layout.to_owned()).set(0.0);
}

pub fn record_engine_load(model: &str, waiting: usize, running: usize) {
    gauge!(QUEUE_DEPTH, "model" => model.to_owned()).set(waiting as f64);
    gauge!(IN_FLIGHT, "model" => model.to_owned()).set(running as f64);
}

/// A changed model file handled by `--watch-models`: `result` is `reloaded`, `unchanged`
/// (same sha256) or `failed` (the old model keeps serving).
pub fn record_model_reload(model: &str, result: &'static str) {
    counter!(MODEL_RELOADS, "model" => model.to_owned(), "trigger" => "watch", "result" => result)
        .increment(1);
}
