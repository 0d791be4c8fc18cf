//! The live panel's `<video>` element: showing the camera or a video file in it, playing it
//! (a refused or interrupted `play()` is not an error), and hearing what it does.

use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{HtmlVideoElement, MediaStream};

/// What the video element reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum VideoEvent {
    Play,
    Pause,
    /// A video file reached its end.
    Ended,
    /// Its picture's size is known or changed.
    Resize,
    /// The browser cannot play it.
    Error,
}

type Callback = Closure<dyn FnMut(JsValue)>;

/// Listeners on the video element; dropping them stops listening.
pub(super) struct Listeners {
    target: HtmlVideoElement,
    callbacks: Vec<(&'static str, Callback)>,
}

impl Drop for Listeners {
    fn drop(&mut self) {
        for (name, callback) in &self.callbacks {
            let _ = self
                .target
                .remove_event_listener_with_callback(name, callback.as_ref().unchecked_ref());
        }
    }
}

/// Tells `on` what `video` does.
pub(super) fn listen(
    video: &HtmlVideoElement,
    on: impl Fn(VideoEvent) + Clone + 'static,
) -> Listeners {
    let events = [
        ("play", VideoEvent::Play),
        ("pause", VideoEvent::Pause),
        ("ended", VideoEvent::Ended),
        ("loadedmetadata", VideoEvent::Resize),
        ("resize", VideoEvent::Resize),
        ("error", VideoEvent::Error),
    ];
    let callbacks = events
        .into_iter()
        .map(|(name, event)| {
            let on = on.clone();
            let callback = Callback::new(move |_| on(event));
            let _ = video.add_event_listener_with_callback(name, callback.as_ref().unchecked_ref());
            (name, callback)
        })
        .collect();
    Listeners {
        target: video.clone(),
        callbacks,
    }
}

/// Shows the camera's picture (no controls: the panel's buttons pause and stop it).
pub(super) fn show_camera(video: &HtmlVideoElement, stream: &MediaStream) {
    prepare(video, false);
    video.set_src_object(Some(stream));
    play(video);
}

/// Plays a video file from its object URL, with the browser's controls (to seek).
pub(super) fn show_file(video: &HtmlVideoElement, url: &str) {
    prepare(video, true);
    video.set_src_object(None);
    video.set_src(url);
    play(video);
}

fn prepare(video: &HtmlVideoElement, controls: bool) {
    // Muted and inline: allowed to play without a further tap, on phones too.
    video.set_muted(true);
    let _ = video.set_attribute("playsinline", "");
    video.set_controls(controls);
}

/// Empties the video element.
pub(super) fn clear(video: &HtmlVideoElement) {
    let _ = video.pause();
    video.set_src_object(None);
    let _ = video.remove_attribute("src");
    video.load();
}

/// Starts playing; a refusal or an interruption (a newer source) only leaves it paused.
pub(super) fn play(video: &HtmlVideoElement) {
    if let Ok(promise) = video.play() {
        spawn_local(async move {
            let _ = JsFuture::from(promise).await;
        });
    }
}

/// Whether the video has a picture to capture.
pub(super) fn has_picture(video: &HtmlVideoElement) -> bool {
    video.ready_state() >= 2 && video.video_width() > 0 && video.video_height() > 0
}
