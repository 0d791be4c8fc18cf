//! Sending frames: every animation frame while a session runs, the video's picture is
//! captured ([`crate::client::capture`]) and sent if the stream is open, fewer than
//! [`MAX_IN_FLIGHT`] frames are unanswered and (for a file) the picture is a new one; the
//! boxes are laid out again when the video's box changed size.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;

use super::super::browser::js_error_text;
use web_sys::{HtmlCanvasElement, HtmlVideoElement};

use super::super::session::{Sent, Source};
use super::super::stream::Socket;
use super::super::{capture, overlay, video, Client};
use super::{client_for, now, with_session};
use crate::components::state::Ui;

/// Frames sent and not answered yet, at most: one in the model, one waiting on the server.
const MAX_IN_FLIGHT: usize = 2;

/// Every animation frame while session `id` runs: send a frame if one is due.
pub(super) fn tick(ui: Ui, id: u64) {
    let Some(client) = client_for(ui, id) else {
        return;
    };
    pump(ui, client, id);
    relayout(ui, client);
    request_animation_frame(move || tick(ui, id));
}

/// Redraws the boxes when the video's place on the page changed size.
fn relayout(ui: Ui, client: Client) {
    let Some(video) = ui.live.video.get_untracked() else {
        return;
    };
    let size = (video.client_width(), video.client_height());
    if client.live_layout.get_value() != size {
        client.live_layout.set_value(size);
        overlay::redraw(ui);
    }
}

/// Captures and sends the video's picture if the stream is open, fewer than
/// [`MAX_IN_FLIGHT`] frames are unanswered, and (for a file) the picture is a new one.
fn pump(ui: Ui, client: Client, id: u64) {
    let Some(video) = ui.live.video.get_untracked() else {
        return;
    };
    if video.paused() || !video::has_picture(&video) {
        return;
    }
    let time = video.current_time();
    let canvas = with_session(client, id, |s| {
        let open = s.socket.as_ref().is_some_and(Socket::is_open);
        let fresh = s.file_name().is_none() || time != s.last_time;
        if !open || s.encoding || s.in_flight.len() >= MAX_IN_FLIGHT || !fresh {
            return None;
        }
        s.encoding = true;
        s.last_time = time;
        Some(s.canvas.clone())
    })
    .flatten();
    if let Some(canvas) = canvas {
        spawn_local(send_frame(ui, client, id, canvas, video, time));
    }
}

async fn send_frame(
    ui: Ui,
    client: Client,
    id: u64,
    canvas: HtmlCanvasElement,
    video: HtmlVideoElement,
    time: f64,
) {
    let frame = capture::frame(&canvas, &video).await;
    let sent = with_session(client, id, move |s| -> Result<(), JsValue> {
        s.encoding = false;
        let blob = frame?;
        // The stream may have closed while the frame was encoded.
        let Some(socket) = s.socket.as_ref().filter(|s| s.is_open()) else {
            return Ok(());
        };
        socket.send(&blob)?;
        s.sent += 1;
        let time = match s.source {
            Source::File { .. } => time,
            Source::Camera(_) => (now() - s.began) / 1000.0,
        };
        s.in_flight.push_back(Sent {
            number: s.sent,
            at: now(),
            blob,
            time,
        });
        Ok(())
    });
    if let Some(Err(e)) = sent {
        let why = js_error_text(&e);
        ui.live
            .say(Some(format!("A frame could not be sent ({why}).")));
    }
}
