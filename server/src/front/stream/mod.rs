//! The streaming door's sessions (`GET /v1/detect/stream`): one WebSocket, many frames, the
//! latest frame wins.
//!
//! A stream holds at most one place in the engine at a time. While its frame is in the model
//! a newer frame waits in the stream's one waiting place, and a frame newer still replaces it
//! (counted as `dropped`): however fast the client sends, the answer to its newest frame comes
//! within about two model runs (the one running, then its own), and a stream never queues more
//! than one frame ahead of other clients. Each frame is an ordinary [`DetectRequest`] through
//! [`Front::detect_with`]: the same admission, image memory budget, decode limits and model as
//! `POST /v1/detect`, and the same result object or RFC 9457 problem, per frame.

mod open;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::types::DetectResponse;
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket};
use bytes::Bytes;
use detector::Reservation;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use metrics::counter;
use tokio::sync::watch;

pub use open::{StreamPermit, StreamSettings, Streams, KEY_PROTOCOL_PREFIX, PROTOCOL};

use super::request::{DetectRequest, ImageSource, OutputFormat};
use super::{Admit, Front};
use crate::error::ApiError;
use crate::metrics as m;

/// One text message to the client: the contract's.
pub use wire::StreamAnswer;

/// A frame waiting for its turn, with the memory reserved for its bytes.
struct Frame {
    number: u64,
    bytes: Bytes,
    body: Reservation,
    arrived: Instant,
}

type InModel = Pin<Box<dyn Future<Output = (u64, Result<DetectResponse, ApiError>)> + Send>>;

/// Why the server ends a stream.
enum End {
    /// The client closed it, or the connection broke: nothing more to say.
    Gone,
    /// A close frame with this code and reason.
    Close(u16, String),
}

/// How long a client may leave an answer unread before the stream is given up.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server waits for the client to confirm a close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves one upgraded stream until the client leaves, it goes idle, a frame is too large or
/// the server shuts down.
pub async fn run(
    front: Arc<Front>,
    socket: WebSocket,
    settings: StreamSettings,
    permit: StreamPermit,
) {
    let (mut sink, mut incoming) = socket.split();
    let mut stopping = front.streams().stopping();
    let idle = front.limits().stream_idle;
    let limit = front.limits().max_body_bytes;
    let model = settings.model_name.clone();
    let mut received = 0u64;
    let mut dropped = 0u64;
    let mut waiting: Option<Frame> = None;
    let mut in_model: Option<InModel> = None;
    let mut last_heard = Instant::now();

    let end = loop {
        if in_model.is_none() {
            in_model = waiting
                .take()
                .map(|frame| detect(Arc::clone(&front), &settings, frame));
        }
        // `None`: an idle limit too large to reach (the flag's value, not a client's).
        let idle_at = last_heard
            .checked_add(idle)
            .map(tokio::time::Instant::from_std);
        tokio::select! {
            biased;
            () = stopped(&mut stopping) => {
                // Finish the frame in the model (its answer is on its way), then say goodbye.
                if let Some(running) = in_model.take() {
                    let (number, result) = running.await;
                    let text = answer(Some(number), std::mem::take(&mut dropped), result, &model);
                    if !send(&mut sink, text).await {
                        break End::Gone;
                    }
                }
                break End::Close(close_code::AWAY, "the server is shutting down".into());
            }
            (number, result) = in_model_of(&mut in_model) => {
                in_model = None;
                let text = answer(Some(number), std::mem::take(&mut dropped), result, &model);
                if !send(&mut sink, text).await {
                    break End::Gone;
                }
            }
            message = incoming.next() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    last_heard = Instant::now();
                    received += 1;
                    counter!(m::STREAM_FRAMES, "model" => model.clone()).increment(1);
                    // The frame's bytes count against the shared body budget while held, as an
                    // upload's do; when it is spent the frame is answered busy at once.
                    let body = match front.reserve_body(bytes.len() as u64).await {
                        Ok(body) => body,
                        Err(busy) => {
                            if !send(&mut sink, answer(Some(received), 0, Err(busy), &model)).await {
                                break End::Gone;
                            }
                            continue;
                        }
                    };
                    let frame = Frame { number: received, bytes, body, arrived: Instant::now() };
                    if waiting.replace(frame).is_some() {
                        dropped += 1;
                        counter!(m::STREAM_DROPPED, "model" => model.clone()).increment(1);
                    }
                }
                Some(Ok(Message::Text(_))) => {
                    last_heard = Instant::now();
                    let refused = ApiError::unsupported_media(
                        "a text message is not a frame: send each image (JPEG, PNG or WebP) as one binary message",
                    );
                    if !send(&mut sink, answer(None, 0, Err(refused), &model)).await {
                        break End::Gone;
                    }
                }
                // Pings are answered by the protocol layer and do not keep a stream alive.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => break End::Gone,
                Some(Err(e)) if is_too_long(&e) => {
                    break End::Close(
                        close_code::SIZE,
                        format!(
                            "a frame is larger than the {} limit (--max-body-bytes)",
                            app::format::bytes(limit as u64)
                        ),
                    )
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "stream connection broke");
                    break End::Gone;
                }
            },
            () = idle_until(idle_at), if in_model.is_none() && waiting.is_none() => {
                break End::Close(
                    close_code::NORMAL,
                    format!("idle: no message for {} s", idle.as_secs_f64()),
                );
            }
        }
    };
    // A frame still in the model is given up: dropping it gives its place back.
    drop(in_model);
    match end {
        End::Gone => {
            // Sends the protocol's reply to a client's close, if one is pending.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.flush()).await;
        }
        End::Close(code, reason) => close(sink, incoming, code, reason).await,
    }
    drop(permit);
}

/// Puts a frame through the front: the same admission, limits and model as `/v1/detect`.
fn detect(front: Arc<Front>, settings: &StreamSettings, frame: Frame) -> InModel {
    let request = DetectRequest {
        source: ImageSource::Bytes(frame.bytes),
        options: settings.options,
        format: OutputFormat::Json,
        model: settings.model.clone(),
        name: None,
        body: Some(frame.body),
    };
    let (number, arrived) = (frame.number, frame.arrived);
    Box::pin(async move {
        // A frame that finds the engine full waits for a place rather than failing: the
        // stream holds at most this one place, so waiting cannot pile up work, and while it
        // waits a newer frame replaces the stream's waiting one, so the answer that follows
        // is still the newest picture. Answering "busy" instead would only make the client
        // send again.
        let result = front.detect_with(request, arrived, Admit::Wait).await;
        (number, result.map(|detected| detected.response))
    })
}

/// The frame in the model, or never when there is none.
async fn in_model_of(in_model: &mut Option<InModel>) -> (u64, Result<DetectResponse, ApiError>) {
    match in_model.as_mut() {
        Some(running) => running.await,
        None => std::future::pending().await,
    }
}

/// Resolves at `at`, never when there is no such time.
async fn idle_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Resolves once the server is shutting down.
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    if stopping.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn answer(
    frame: Option<u64>,
    dropped: u64,
    result: Result<DetectResponse, ApiError>,
    model: &str,
) -> String {
    if frame.is_some() {
        counter!(m::STREAM_ANSWERED, "model" => model.to_owned()).increment(1);
    }
    let (result, problem) = match result {
        Ok(response) => (Some(response), None),
        Err(error) => (None, Some(error.problem)),
    };
    let answer = StreamAnswer {
        frame,
        dropped,
        result,
        problem,
    };
    serde_json::to_string(&answer).unwrap_or_else(|e| {
        tracing::error!(error = %e, "a stream answer could not be written");
        String::from(r#"{"dropped":0}"#)
    })
}

/// Sends one answer; `false` when the client is gone or has not read for [`SEND_TIMEOUT`].
async fn send(sink: &mut SplitSink<WebSocket, Message>, text: String) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Text(text.into()))).await,
        Ok(Ok(()))
    )
}

/// Whether a read failed because a message was over the size limit.
fn is_too_long(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(tungstenite::Error::Capacity(_)) = e.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Sends a close frame and waits (briefly) for the client's reply.
async fn close(
    mut sink: SplitSink<WebSocket, Message>,
    mut incoming: SplitStream<WebSocket>,
    code: u16,
    reason: String,
) {
    let frame = CloseFrame {
        code,
        reason: short(reason).into(),
    };
    let sent = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
    // After an oversized frame the rest of it is still on the wire: nothing more is read.
    if code == close_code::SIZE || !matches!(sent, Ok(Ok(()))) {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        while let Some(Ok(message)) = incoming.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// A close reason fits in 123 bytes.
fn short(mut reason: String) -> String {
    if reason.len() > 123 {
        let mut end = 123;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_the_frame() {
        assert_eq!(short("é".repeat(100)).len(), 122);
        assert_eq!(short("short".into()), "short");
    }
}
