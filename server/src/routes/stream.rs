//! `GET /v1/detect/stream`: the streaming door. Everything that can refuse a stream is
//! checked before the upgrade and answered as an ordinary RFC 9457 problem; the session
//! itself (frames, answers, latest frame wins) is [`crate::front::stream`].

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap, Uri};
use axum::response::Response;
use utoipa::IntoParams;

use app::types::Problem;

use crate::error::{ApiError, Kind};
use crate::front::stream::{self as session, StreamAnswer, PROTOCOL};
use crate::guards::HostGuard;
use crate::state::AppState;

/// The query of a stream: the options of `POST /v1/detect`, applied to every frame.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct StreamQuery {
    /// Keep detections scoring at least this (0..1, default 0.5).
    threshold: Option<f32>,
    /// Keep at most this many, best first (1..1000, default 100).
    max_detections: Option<usize>,
    /// The model to run (see `GET /v1/models`); default: the server's default model.
    model: Option<String>,
    /// `auto`: also look at a large frame tile by tile (one model run per tile); `off`
    /// (default): the whole frame once.
    tile: Option<String>,
    /// How much neighbouring tiles overlap, as a fraction of a tile (0..0.5, default 0.2).
    tile_overlap: Option<f32>,
    /// `json` only (the default): every answer is JSON.
    format: Option<String>,
}

/// Detect objects in a live stream of frames (WebSocket).
///
/// Open a WebSocket here; the query takes the options of `POST /v1/detect` (validated the
/// same way: a bad value refuses the upgrade with the same problem) and applies them to
/// every frame. `format` may only be `json`.
///
/// **Frames**: each binary message is one encoded image (JPEG, PNG or WebP), at most
/// `--max-body-bytes`; a larger message closes the stream with code 1009 and a reason that
/// names the limit. **Answers**: one text message (JSON) per answered frame: `frame` (the
/// 1-based count of binary messages received on this stream), `dropped` (frames replaced
/// since the previous answer, never answered) and either the fields of `POST /v1/detect`'s
/// answer (`model`, `image`, `detections`, `timing_ms`) or `problem` (the RFC 9457 problem that
/// request would have got: a bad frame never ends the stream). A text message from the
/// client is answered with a `problem` and no `frame`; pings are answered with pongs.
///
/// **The latest frame wins**: a stream has at most one frame in the model and one waiting;
/// a newer frame replaces the waiting one. Answers come in frame order, the newest frame's
/// last, within about two model runs of its sending whatever the sending rate. Every frame
/// goes through the same admission, image memory budget and decode limits as a request.
///
/// **The key** (with `--api-key`): `Authorization: Bearer <key>` from programs; browsers,
/// which cannot set headers on a WebSocket, offer the subprotocols `lookout` and
/// `lookout.bearer.<base64url(key), unpadded>` (`new WebSocket(url, ["lookout",
/// "lookout.bearer." + key64])`), and the server selects `lookout`. Never put the key in the
/// URL. A browser's upgrade (one with an `Origin`) is refused (403) unless its origin is a host
/// the server answers to (loopback names and `--allowed-host`; with neither, the `Host`
/// itself): a page on another site cannot open a stream.
///
/// **Closing**: 1000 after `--stream-idle-secs` (60) without a message, 1001 when the server
/// shuts down (after answering the frame in the model), 1009 for an oversized frame. At most
/// `--max-streams` (16) are open at once; one more is refused with 503 and `Retry-After`.
#[utoipa::path(
    get,
    path = "/v1/detect/stream",
    tag = "detection",
    params(StreamQuery),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol; every answer is a text message holding a `StreamAnswer`", body = StreamAnswer),
        (status = 400, description = "Not a WebSocket upgrade", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The server has an API key and the upgrade lacks it", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A browser page on another site (its `Origin`), or a `Host` the server does not answer to", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown model", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid options, unknown parameters, or a format other than json", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "As many streams open as --max-streams (see Retry-After), shutting down, or the model is still loading", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("api_key" = []))
)]
pub async fn stream(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    check_origin(state.host_guard.as_deref(), &headers)?;
    let front = Arc::clone(&state.front);
    front.authorize_stream(&headers)?;
    let settings = front.stream_settings(uri.query())?;
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::bad_request(format!(
            "this is a WebSocket endpoint: open it with a WebSocket client ({})",
            rejection.body_text()
        ))
    })?;
    let permit = front.streams().open()?;
    let limit = front.limits().max_body_bytes;
    Ok(upgrade
        .protocols([PROTOCOL])
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_failed_upgrade(|e| tracing::debug!(error = %e, "a stream's upgrade failed"))
        .on_upgrade(move |socket| session::run(front, socket, settings, permit)))
}

/// Refuses a browser's upgrade from a page on a site the server does not answer to
/// (cross-site WebSocket hijacking: browsers send cookies and reach loopback addresses, and
/// a WebSocket is not bound by the same-origin policy). Programs send no `Origin`.
fn check_origin(guard: Option<&HostGuard>, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().ok().and_then(|o| url::Url::parse(o).ok());
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let allowed = origin.as_ref().is_some_and(|origin| match guard {
        // The names the server answers to (loopback ones, `--allowed-host`).
        Some(guard) => origin.host_str().is_some_and(|name| guard.allows(name)),
        // It answers to any name: then only a page it served itself (the same host).
        None => host.is_some_and(|host| same_host(origin, host)),
    });
    if allowed {
        return Ok(());
    }
    tracing::warn!(origin = ?headers.get(header::ORIGIN), "stream refused: Origin not allowed");
    Err(ApiError::new(
        Kind::HostNotAllowed,
        "a page on another site may not open a stream on this server (its Origin is not a host the server answers to); an operator can allow that site with --allowed-host",
    ))
}

/// Whether `origin` names the host (and port) of the `Host` header.
fn same_host(origin: &url::Url, host: &str) -> bool {
    let Ok(addressed) = url::Url::parse(&format!("{}://{host}", origin.scheme())) else {
        return false;
    };
    addressed.host_str().is_some()
        && addressed.host_str() == origin.host_str()
        && addressed.port_or_known_default() == origin.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, origin.parse().unwrap());
        }
        headers
    }

    #[test]
    fn origins() {
        let loopback = HostGuard::for_binding(true, &["lookout.example.com".into()]).unwrap();
        let guard = Some(loopback.as_ref());
        for ok in [
            None,
            Some("http://127.0.0.1:3000"),
            Some("http://localhost:8080"),
            Some("https://lookout.example.com"),
            Some("http://[::1]:3000"),
        ] {
            assert!(
                check_origin(guard, &headers(ok, "127.0.0.1:3000")).is_ok(),
                "{ok:?}"
            );
        }
        for refused in [
            "https://evil.example",
            "null",
            "http://127.0.0.1.evil.example",
        ] {
            let e = check_origin(guard, &headers(Some(refused), "127.0.0.1:3000")).unwrap_err();
            assert_eq!(e.status(), 403, "{refused}");
        }
        // A server answering any name takes only its own pages.
        assert!(check_origin(None, &headers(Some("https://a.test"), "a.test")).is_ok());
        assert!(check_origin(None, &headers(Some("http://a.test:8080"), "a.test:8080")).is_ok());
        assert!(check_origin(None, &headers(Some("https://b.test"), "a.test")).is_err());
        assert!(check_origin(None, &headers(Some("http://a.test:1"), "a.test:2")).is_err());
    }
}
