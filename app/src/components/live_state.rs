//! The live video's state (camera mode and video files), shared by the live panel and the
//! browser code ([`crate::client::live`]). What the browser alone holds (the socket, the
//! camera, the frames in flight) is in [`crate::client::Client`].

use leptos::html;
use leptos::prelude::*;

use crate::types::DetectResponse;

/// Where the frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveSource {
    Camera,
    /// A video file, by its name.
    Video(String),
}

/// Where the live video is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LivePhase {
    /// No camera, no video.
    Off,
    /// Asking for the camera, or opening the stream.
    Starting,
    /// Frames go to the server and the boxes follow.
    Running,
    Paused,
    /// The video file played to its end.
    Ended,
    /// Stopped by a problem (the message says which).
    Failed,
}

impl LivePhase {
    /// For `data-state` (styling and tests).
    pub fn name(self) -> &'static str {
        match self {
            LivePhase::Off => "off",
            LivePhase::Starting => "starting",
            LivePhase::Running => "running",
            LivePhase::Paused => "paused",
            LivePhase::Ended => "ended",
            LivePhase::Failed => "failed",
        }
    }
}

/// What the live panel measures, over the last few seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LiveStats {
    /// Answered frames per second.
    pub fps: f64,
    /// Mean time from sending a frame to its answer, in milliseconds.
    pub lag_ms: f64,
    /// Frames answered on this stream.
    pub answered: u64,
    /// Frames the server replaced by newer ones.
    pub dropped: u64,
}

/// Everything the live panel shows but the boxes. (One signal rather than one per field: each
/// signal type costs the page's WebAssembly its own copy of the reactive machinery.)
#[derive(Debug, Clone, PartialEq)]
pub struct LiveView {
    pub source: Option<LiveSource>,
    pub phase: LivePhase,
    /// Why the video stopped, or what went wrong with a frame.
    pub message: Option<String>,
    pub stats: LiveStats,
    /// The frame the boxes are from (the server's number).
    pub frame: u64,
    /// How many cameras there are to choose from (known once the camera was allowed).
    pub cameras: usize,
    /// The camera in use (a device id).
    pub camera: Option<String>,
    /// Frames of a video file with their detections, kept for the export.
    pub analysed: usize,
}

impl Default for LiveView {
    fn default() -> Self {
        Self {
            source: None,
            phase: LivePhase::Off,
            message: None,
            stats: LiveStats::default(),
            frame: 0,
            cameras: 0,
            camera: None,
            analysed: 0,
        }
    }
}

#[derive(Clone, Copy)]
pub struct Live {
    pub view: RwSignal<LiveView>,
    /// The newest answer with detections, boxes in the pixels of the frame as sent.
    pub result: RwSignal<Option<DetectResponse>>,
    pub video: NodeRef<html::Video>,
    pub overlay: NodeRef<html::Canvas>,
    pub video_input: NodeRef<html::Input>,
    pub section: NodeRef<html::Section>,
    pub camera_picker: NodeRef<html::Select>,
}

impl Live {
    pub fn new() -> Self {
        Self {
            view: RwSignal::new(LiveView::default()),
            result: RwSignal::new(None),
            video: NodeRef::new(),
            overlay: NodeRef::new(),
            video_input: NodeRef::new(),
            section: NodeRef::new(),
            camera_picker: NodeRef::new(),
        }
    }

    /// A new source (or none): the previous one's answer, numbers and message are forgotten;
    /// the camera chosen is kept.
    pub fn reset(&self, source: Option<LiveSource>, phase: LivePhase) {
        self.result.set(None);
        self.view.update(|v| {
            *v = LiveView {
                source,
                phase,
                camera: v.camera.take(),
                cameras: v.cameras,
                ..LiveView::default()
            }
        });
    }

    pub fn phase(&self) -> LivePhase {
        self.view.with_untracked(|v| v.phase)
    }

    pub fn set_phase(&self, phase: LivePhase) {
        if self.phase() != phase {
            self.view.update(|v| v.phase = phase);
        }
    }

    pub fn say(&self, message: Option<String>) {
        if self.view.with_untracked(|v| v.message != message) {
            self.view.update(|v| v.message = message);
        }
    }
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}
