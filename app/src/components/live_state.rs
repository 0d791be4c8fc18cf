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

/// The newest answer with detections: its frame number and result (boxes in the pixels of
/// the frame as sent).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveResult {
    pub frame: u64,
    pub response: DetectResponse,
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

/// A camera the browser offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraChoice {
    pub id: String,
    pub label: String,
}

#[derive(Clone, Copy)]
pub struct Live {
    pub source: RwSignal<Option<LiveSource>>,
    pub phase: RwSignal<LivePhase>,
    pub result: RwSignal<Option<LiveResult>>,
    /// Why the video stopped, or what went wrong with a frame.
    pub message: RwSignal<Option<String>>,
    pub stats: RwSignal<LiveStats>,
    /// The cameras to choose from (once the camera was allowed).
    pub cameras: RwSignal<Vec<CameraChoice>>,
    /// The camera in use (a device id).
    pub camera: RwSignal<Option<String>>,
    /// Frames of a video file with their detections, kept for the export.
    pub analysed: RwSignal<usize>,
    pub video: NodeRef<html::Video>,
    pub overlay: NodeRef<html::Canvas>,
    pub video_input: NodeRef<html::Input>,
    pub section: NodeRef<html::Section>,
}

impl Live {
    pub fn new() -> Self {
        Self {
            source: RwSignal::new(None),
            phase: RwSignal::new(LivePhase::Off),
            result: RwSignal::new(None),
            message: RwSignal::new(None),
            stats: RwSignal::new(LiveStats::default()),
            cameras: RwSignal::new(Vec::new()),
            camera: RwSignal::new(None),
            analysed: RwSignal::new(0),
            video: NodeRef::new(),
            overlay: NodeRef::new(),
            video_input: NodeRef::new(),
            section: NodeRef::new(),
        }
    }

    /// Forgets the previous source's answer, numbers and message.
    pub fn reset(&self, source: Option<LiveSource>, phase: LivePhase) {
        self.source.set(source);
        self.phase.set(phase);
        self.result.set(None);
        self.message.set(None);
        self.stats.set(LiveStats::default());
        self.analysed.set(0);
    }
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}
