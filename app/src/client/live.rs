//! Camera mode and video files: the pictures of the live panel's `<video>` go through the
//! streaming door ([`super::stream`]) and the answers are drawn over the video
//! ([`super::overlay`]).
//!
//! Pacing: a frame is captured only while fewer than [`MAX_IN_FLIGHT`] are unanswered (one
//! in the model, one waiting on the server), so the boxes lag the picture by about two model
//! runs at most and nothing piles up; a video file sends each picture once and only while it
//! plays. Pausing pauses the video (and so the frames); a stream the server closed is opened
//! again by Resume. A snapshot turns the newest answered frame and its answer into an
//! ordinary result of the page; a video file's answers are kept for its export.

use std::collections::VecDeque;

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{File, HtmlCanvasElement, HtmlInputElement, HtmlVideoElement};

use super::browser::{document, js_error_text};
use super::session::{Analysed, Answered, Sent, Session, Source, MAX_ANALYSED};
use super::stream::{self, Answer, Event, Socket};
use super::video::{self, VideoEvent};
use super::{batch, camera, capture, overlay, storage, Client};
use crate::components::live_state::{LivePhase, LiveResult, LiveSource};
use crate::components::state::Ui;
use crate::export::frame_file_name;

/// Frames sent and not answered yet, at most: one in the model, one waiting on the server.
const MAX_IN_FLIGHT: usize = 2;

fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// Drops `value` after the callback running now has returned (a socket's or a listener's
/// callbacks must not be freed while they run).
fn later<T: 'static>(value: T) {
    spawn_local(async move { drop(value) });
}

/// Runs `f` on the page's session if it is still session `id`.
fn with_session<T>(client: Client, id: u64, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
    client
        .live
        .try_update_value(|s| s.as_mut().filter(|s| s.id == id).map(f))
        .flatten()
}

fn is_current(client: Client, id: u64) -> bool {
    client.live_id.get_value() == id
}

/// The browser's state, while session `id` is the page's.
fn client_for(ui: Ui, id: u64) -> Option<Client> {
    ui.client().filter(|c| is_current(*c, id))
}

fn fail(ui: Ui, message: String) {
    ui.live.result.set(None);
    ui.live.phase.set(LivePhase::Failed);
    ui.live.message.set(Some(message));
}

/// Ends the running session, if any: the camera goes off, the stream closes, the video
/// element is emptied.
fn end_session(ui: Ui) {
    let Some(client) = ui.client() else {
        return;
    };
    client.live_id.set_value(0);
    let old = client.live.try_update_value(Option::take).flatten();
    if let Some(video) = ui.live.video.get_untracked() {
        video::clear(&video);
    }
    later(old);
}

/// "Camera": asks for the camera (the one chosen before, else the back one) and starts.
pub fn start_camera(ui: Ui) {
    end_session(ui);
    let live = ui.live;
    live.reset(Some(LiveSource::Camera), LivePhase::Starting);
    reveal(ui);
    let Some(client) = ui.client() else {
        return;
    };
    let devices = match camera::media_devices() {
        Ok(devices) => devices,
        Err(e) => return fail(ui, e.message()),
    };
    let id = ui.next_id();
    client.live_id.set_value(id);
    let device = live.camera.get_untracked();
    spawn_local(async move {
        let opened = camera::open(&devices, device.as_deref()).await;
        if !is_current(client, id) {
            if let Ok(stream) = &opened {
                camera::stop(stream);
            }
            return;
        }
        let stream = match opened {
            Ok(stream) => stream,
            Err(e) => return fail(ui, e.message()),
        };
        live.camera.set(camera::device_of(&stream));
        if let Some(video) = live.video.get_untracked() {
            video::show_camera(&video, &stream);
        }
        begin(ui, id, Source::Camera(stream));
        // Named only now that the camera is allowed.
        let cameras = camera::cameras(&devices).await;
        if is_current(client, id) {
            live.cameras.set(cameras);
        }
    });
}

/// Another camera was chosen.
pub fn choose_camera(ui: Ui, device: String) {
    if ui.live.camera.get_untracked().as_deref() == Some(device.as_str()) {
        return;
    }
    ui.live.camera.set(Some(device));
    start_camera(ui);
}

/// "Video": opens the video picker.
pub fn choose_video(ui: Ui) {
    if let Some(input) = ui.live.video_input.get_untracked() {
        input.click();
    }
}

/// A video was chosen in the picker.
pub fn video_chosen(ui: Ui, ev: ev::Event) {
    let Some(input) = ev
        .target()
        .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
    else {
        return;
    };
    if let Some(file) = input.files().and_then(|list| list.get(0)) {
        start_video(ui, file);
    }
    // Choosing the same file again should play it again.
    input.set_value("");
}

/// Plays a video file in the page and sends its pictures as it plays.
pub fn start_video(ui: Ui, file: File) {
    end_session(ui);
    let name = match file.name() {
        n if n.is_empty() => "video".to_owned(),
        n => n,
    };
    ui.live
        .reset(Some(LiveSource::Video(name.clone())), LivePhase::Starting);
    reveal(ui);
    let (Some(client), Some(video)) = (ui.client(), ui.live.video.get_untracked()) else {
        return;
    };
    let url = match web_sys::Url::create_object_url_with_blob(&file) {
        Ok(url) => url,
        Err(e) => {
            let why = js_error_text(&e);
            return fail(ui, format!("The video could not be opened ({why})."));
        }
    };
    let id = ui.next_id();
    client.live_id.set_value(id);
    video::show_file(&video, &url);
    begin(ui, id, Source::File { url, name });
}

/// "Stop": the camera goes off, or the video is put away.
pub fn stop(ui: Ui) {
    end_session(ui);
    ui.live.reset(None, LivePhase::Off);
    ui.live.cameras.set(Vec::new());
}

/// "Pause" / "Resume".
pub fn toggle_pause(ui: Ui) {
    let (Some(client), Some(video)) = (ui.client(), ui.live.video.get_untracked()) else {
        return;
    };
    match ui.live.phase.get_untracked() {
        LivePhase::Running | LivePhase::Starting => {
            let _ = video.pause();
        }
        LivePhase::Paused | LivePhase::Ended | LivePhase::Failed => {
            let id = client.live_id.get_value();
            let running = client.live.with_value(|s| s.is_some());
            if !running {
                // The camera never started: ask for it again.
                if ui.live.source.get_untracked() == Some(LiveSource::Camera) {
                    start_camera(ui);
                }
            } else if video.paused() {
                video::play(&video);
            } else {
                on_video(ui, id, VideoEvent::Play);
            }
        }
        LivePhase::Off => {}
    }
}

/// "Snapshot": the newest answered frame becomes the page's result (download, export).
pub fn snapshot(ui: Ui) {
    let Some(client) = ui.client() else {
        return;
    };
    let taken = client.live.with_value(|s| {
        let s = s.as_ref()?;
        let last = s.last.as_ref()?;
        let name = s.file_name().map(|n| frame_file_name(n, last.time));
        Some((last.blob.clone(), last.response.clone(), name))
    });
    match taken {
        Some((blob, response, name)) => {
            let name = name.unwrap_or_else(camera_file_name);
            batch::start_done(ui, blob, name, response);
        }
        None => ui
            .live
            .message
            .set(Some("No frame has been answered yet.".to_owned())),
    }
}

/// `camera-20250102-153045.jpg`, by the local clock.
fn camera_file_name() -> String {
    let d = js_sys::Date::new_0();
    format!(
        "camera-{:04}{:02}{:02}-{:02}{:02}{:02}.jpg",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds()
    )
}

/// Another model was picked: the stream is opened again for it (a video's frames so far,
/// from the other model, are forgotten).
pub fn model_changed(ui: Ui) {
    let Some(client) = ui.client() else {
        return;
    };
    let id = client.live_id.get_value();
    let Some(old) = with_session(client, id, |s| {
        s.frames.clear();
        s.last = None;
        s.disconnect()
    }) else {
        return;
    };
    later(old);
    ui.live.result.set(None);
    ui.live.analysed.set(0);
    if matches!(
        ui.live.phase.get_untracked(),
        LivePhase::Running | LivePhase::Starting
    ) {
        ui.live.phase.set(LivePhase::Starting);
        connect(ui, id);
    }
}

/// A video file's analysed frames, its name and the model's class names, for the export.
pub(super) fn analysed(ui: Ui) -> Option<(String, Vec<Analysed>, Vec<String>)> {
    let client = ui.client()?;
    client.live.with_value(|s| {
        let s = s.as_ref()?;
        Some((
            s.file_name()?.to_owned(),
            s.frames.clone(),
            s.labels.clone(),
        ))
    })
}

/// Starts session `id` with its source showing in the video element: listens to the
/// video, opens the stream and starts sending.
fn begin(ui: Ui, id: u64, source: Source) {
    let (Some(client), Some(video)) = (client_for(ui, id), ui.live.video.get_untracked()) else {
        return;
    };
    let canvas = match document()
        .and_then(|d| d.create_element("canvas"))
        .and_then(|e| e.dyn_into::<HtmlCanvasElement>().map_err(JsValue::from))
    {
        Ok(canvas) => canvas,
        Err(e) => {
            let why = js_error_text(&e);
            return fail(ui, format!("The video could not be captured ({why})."));
        }
    };
    let session = Session {
        id,
        source,
        socket: None,
        opened: false,
        sent: 0,
        in_flight: VecDeque::new(),
        encoding: false,
        last_time: -1.0,
        began: now(),
        recent: VecDeque::new(),
        answered: 0,
        dropped: 0,
        last: None,
        frames: Vec::new(),
        labels: Vec::new(),
        canvas,
        _listeners: video::listen(&video, move |event| on_video(ui, id, event)),
    };
    later(client.live.try_update_value(|s| s.replace(session)));
    connect(ui, id);
    request_animation_frame(move || tick(ui, id));
}

/// Opens session `id`'s stream, with the tab's key and model.
fn connect(ui: Ui, id: u64) {
    let Some(client) = client_for(ui, id) else {
        return;
    };
    let key = storage::key();
    if key.is_none() && ui.settings().is_some_and(|s| s.key_required) {
        if let Some(video) = ui.live.video.get_untracked() {
            let _ = video.pause();
        }
        return fail(
            ui,
            "This server needs an API key: enter it above, then press Resume.".to_owned(),
        );
    }
    let model = ui.model.get_untracked();
    match Socket::open(model.as_deref(), key.as_deref(), move |event| {
        on_socket(ui, id, event)
    }) {
        Ok(socket) => later(with_session(client, id, move |s| {
            let old = s.disconnect();
            s.socket = Some(socket);
            old
        })),
        Err(e) => {
            let why = js_error_text(&e);
            fail(ui, format!("The live stream could not be opened ({why})."));
        }
    }
}

/// Every animation frame while session `id` runs: send a frame if one is due.
fn tick(ui: Ui, id: u64) {
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
            .message
            .set(Some(format!("A frame could not be sent ({why}).")));
    }
}

fn on_socket(ui: Ui, id: u64, event: Event) {
    let Some(client) = client_for(ui, id) else {
        return;
    };
    match event {
        Event::Opened => {
            with_session(client, id, |s| s.opened = true);
            ui.live.message.set(None);
            let playing = ui.live.video.get_untracked().is_some_and(|v| !v.paused());
            if ui.live.phase.get_untracked() == LivePhase::Starting {
                ui.live.phase.set(if playing {
                    LivePhase::Running
                } else {
                    LivePhase::Paused
                });
            }
        }
        Event::Answer(answer) => answered(ui, client, id, answer),
        Event::Closed { code, reason } => closed(ui, client, id, code, &reason),
    }
}

/// An answer: the numbers, the boxes, the snapshot and (for a file) the export follow it.
fn answered(ui: Ui, client: Client, id: u64, answer: Answer) {
    // The answer to a text message: the page sends none.
    let Some(number) = answer.frame else {
        return;
    };
    let at = now();
    let Answer {
        dropped, outcome, ..
    } = answer;
    let kept = with_session(client, id, |s| {
        // Frames before this one were replaced on the server by newer ones.
        let mut sent = None;
        while s.in_flight.front().is_some_and(|f| f.number <= number) {
            sent = s.in_flight.pop_front().filter(|f| f.number == number);
        }
        let stats = s.count(at, sent.as_ref().map(|f| at - f.at), dropped);
        if let (Ok(response), Some(sent)) = (&outcome, sent) {
            if s.file_name().is_some() && s.frames.len() < MAX_ANALYSED {
                s.frames.push(Analysed {
                    number,
                    time: sent.time,
                    width: response.image.width,
                    height: response.image.height,
                    detections: response.detections.clone(),
                });
            }
            if s.labels != response.model.labels {
                s.labels.clone_from(&response.model.labels);
            }
            s.last = Some(Answered {
                blob: sent.blob,
                response: response.clone(),
                time: sent.time,
            });
        }
        let done = s.in_flight.is_empty() && !s.encoding;
        (stats, s.frames.len(), done)
    });
    let Some((stats, analysed, done)) = kept else {
        return;
    };
    let live = ui.live;
    live.stats.set(stats);
    if live.analysed.get_untracked() != analysed {
        live.analysed.set(analysed);
    }
    match outcome {
        Ok(response) => {
            live.result.set(Some(LiveResult {
                frame: number,
                response,
            }));
            if live.phase.get_untracked() == LivePhase::Running {
                live.message.set(None);
            }
        }
        Err(p) => live.message.set(Some(format!(
            "Frame {number} was not detected: {} ({}).",
            p.title, p.detail
        ))),
    }
    // A video that played to its end has its last answers: the stream is done.
    if done && live.phase.get_untracked() == LivePhase::Ended {
        later(with_session(client, id, Session::disconnect));
    }
}

/// The stream ended without the page asking.
fn closed(ui: Ui, client: Client, id: u64, code: u16, reason: &str) {
    let Some((opened, old)) = with_session(client, id, |s| (s.opened, s.disconnect())) else {
        return;
    };
    later(old);
    let phase = ui.live.phase.get_untracked();
    // Idle while paused: Resume opens it again.
    if code == 1000 && matches!(phase, LivePhase::Paused | LivePhase::Ended) {
        return;
    }
    let key_required = ui.settings().is_some_and(|s| s.key_required);
    fail(
        ui,
        stream::close_message(code, reason, opened, key_required),
    );
    if let Some(video) = ui.live.video.get_untracked() {
        let _ = video.pause();
    }
}

fn on_video(ui: Ui, id: u64, event: VideoEvent) {
    let Some(client) = client_for(ui, id) else {
        return;
    };
    let live = ui.live;
    let phase = live.phase.get_untracked();
    match event {
        VideoEvent::Play => {
            if phase == LivePhase::Ended {
                // Played again from the start: a new analysis.
                with_session(client, id, |s| {
                    s.frames.clear();
                    s.last_time = -1.0;
                });
                live.analysed.set(0);
            }
            let socket = with_session(client, id, |s| s.socket.as_ref().map(Socket::is_open));
            match socket.flatten() {
                Some(true) => live.phase.set(LivePhase::Running),
                Some(false) => live.phase.set(LivePhase::Starting),
                None => {
                    live.phase.set(LivePhase::Starting);
                    connect(ui, id);
                }
            }
        }
        VideoEvent::Pause | VideoEvent::Ended => {
            let ended = live.video.get_untracked().is_some_and(|v| v.ended());
            if ended {
                live.phase.set(LivePhase::Ended);
            } else if phase != LivePhase::Failed {
                live.phase.set(LivePhase::Paused);
            }
        }
        VideoEvent::Resize => overlay::redraw(ui),
        VideoEvent::Error => fail(
            ui,
            "This browser cannot play this video; try a WebM or MP4 file.".to_owned(),
        ),
    }
}

/// On a small screen the live panel appears below the fold: bring it into view.
fn reveal(ui: Ui) {
    request_animation_frame(move || {
        let (Some(section), Some(window)) = (ui.live.section.get_untracked(), web_sys::window())
        else {
            return;
        };
        let height = window
            .inner_height()
            .ok()
            .and_then(|h| h.as_f64())
            .unwrap_or(0.0);
        if section.get_bounding_client_rect().top() > height - 120.0 {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Start);
            options.set_behavior(web_sys::ScrollBehavior::Instant);
            section.scroll_into_view_with_scroll_into_view_options(&options);
        }
    });
}
