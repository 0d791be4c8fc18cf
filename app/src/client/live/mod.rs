//! Camera mode and video files: the pictures of the live panel's `<video>` go through the
//! streaming door ([`super::stream`]) and the answers are drawn over the video
//! ([`super::overlay`]).
//!
//! Pacing ([`send`]): a frame is captured only while fewer than two are unanswered (one in
//! the model, one waiting on the server), so the boxes lag the picture by about two model
//! runs at most and nothing piles up; a video file sends each picture once and only while it
//! plays. Pausing pauses the video (and so the frames); a stream the server closed is opened
//! again by Resume ([`answers`]). A snapshot turns the newest answered frame and its answer
//! into an ordinary result of the page; a video file's answers are kept for its export.

mod answers;
mod send;

use std::collections::VecDeque;

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{File, HtmlCanvasElement, HtmlInputElement};

use super::browser::{document, js_error_text};
use super::session::{Analysed, Session, Source};
use super::stream::Socket;
use super::video::{self, VideoEvent};
use super::{batch, camera, overlay, storage, Client};
use crate::components::live_state::{LivePhase, LiveSource};
use crate::components::state::Ui;
use crate::export::frame_file_name;

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
    ui.live.view.update(|v| {
        v.phase = LivePhase::Failed;
        v.message = Some(message);
    });
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
    let device = live.view.with_untracked(|v| v.camera.clone());
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
        let device = camera::device_of(&stream);
        live.view.update(|v| v.camera = device);
        if let Some(video) = live.video.get_untracked() {
            video::show_camera(&video, &stream);
        }
        begin(ui, id, Source::Camera(stream));
        // Named only now that the camera is allowed.
        let cameras = camera::cameras(&devices).await;
        if is_current(client, id) {
            if let Some(select) = live.camera_picker.get_untracked() {
                let chosen = live.view.with_untracked(|v| v.camera.clone());
                camera::fill_picker(&select, &cameras, chosen.as_deref());
            }
            live.view.update(|v| v.cameras = cameras.len());
        }
    });
}

/// Another camera was chosen.
pub fn choose_camera(ui: Ui, device: String) {
    let chosen = ui
        .live
        .view
        .with_untracked(|v| v.camera.as_deref() == Some(device.as_str()));
    if !chosen {
        ui.live.view.update(|v| v.camera = Some(device));
        start_camera(ui);
    }
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
}

/// "Pause" / "Resume".
pub fn toggle_pause(ui: Ui) {
    let (Some(client), Some(video)) = (ui.client(), ui.live.video.get_untracked()) else {
        return;
    };
    match ui.live.phase() {
        LivePhase::Running | LivePhase::Starting => {
            let _ = video.pause();
        }
        LivePhase::Paused | LivePhase::Ended | LivePhase::Failed => {
            let id = client.live_id.get_value();
            if client.live.with_value(Option::is_none) {
                // The camera never started: ask for it again.
                let camera = ui
                    .live
                    .view
                    .with_untracked(|v| v.source == Some(LiveSource::Camera));
                if camera {
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
            .say(Some("No frame has been answered yet.".to_owned())),
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
    let running = matches!(ui.live.phase(), LivePhase::Running | LivePhase::Starting);
    ui.live.view.update(|v| {
        v.analysed = 0;
        if running {
            v.phase = LivePhase::Starting;
        }
    });
    if running {
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
    request_animation_frame(move || send::tick(ui, id));
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
        answers::on_socket(ui, id, event)
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

fn on_video(ui: Ui, id: u64, event: VideoEvent) {
    let Some(client) = client_for(ui, id) else {
        return;
    };
    let live = ui.live;
    let phase = live.phase();
    match event {
        VideoEvent::Play => {
            if phase == LivePhase::Ended {
                // Played again from the start: a new analysis.
                with_session(client, id, |s| {
                    s.frames.clear();
                    s.last_time = -1.0;
                });
                live.view.update(|v| v.analysed = 0);
            }
            let socket = with_session(client, id, |s| s.socket.as_ref().map(Socket::is_open));
            match socket.flatten() {
                Some(true) => live.set_phase(LivePhase::Running),
                Some(false) => live.set_phase(LivePhase::Starting),
                None => {
                    live.set_phase(LivePhase::Starting);
                    connect(ui, id);
                }
            }
        }
        VideoEvent::Pause | VideoEvent::Ended => {
            let ended = live.video.get_untracked().is_some_and(|v| v.ended());
            if ended {
                live.set_phase(LivePhase::Ended);
            } else if phase != LivePhase::Failed {
                live.set_phase(LivePhase::Paused);
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
