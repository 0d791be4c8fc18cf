//! What the browser holds for the live video while it runs: its source (the camera or a
//! video file's object URL), the stream, the frames in flight, the recent answers the
//! numbers are measured over, the newest answered frame (for a snapshot) and, for a video
//! file, every analysed frame (for the export). Dropping a session stops the camera,
//! closes the stream, forgets the video's URL and stops listening to the video element.

use std::collections::VecDeque;

use web_sys::{Blob, HtmlCanvasElement, MediaStream};

use super::stream::Socket;
use super::video::Listeners;
use crate::components::live_state::LiveStats;
use crate::types::{DetectResponse, DetectionOut};

/// Answers older than this (ms) no longer count towards the frame rate and lag.
const WINDOW_MS: f64 = 2000.0;
/// The most frames of a video kept for its export (about an hour at 20 frames a second).
pub(super) const MAX_ANALYSED: usize = 72_000;

pub(super) enum Source {
    Camera(MediaStream),
    /// A video file: its object URL and name.
    File {
        url: String,
        name: String,
    },
}

/// A frame sent and not answered yet.
pub(super) struct Sent {
    /// The server's number for it (binary messages sent on this stream, from 1).
    pub number: u64,
    /// When it was sent (`performance.now()`, ms).
    pub at: f64,
    /// The encoded frame, kept for a snapshot.
    pub blob: Blob,
    /// Its time in the video (seconds; the camera's: since the session began).
    pub time: f64,
}

/// The newest answered frame and its result.
pub(super) struct Answered {
    pub blob: Blob,
    pub response: DetectResponse,
    pub time: f64,
}

/// A video file's analysed frame.
#[derive(Clone)]
pub(super) struct Analysed {
    pub number: u64,
    pub time: f64,
    pub width: u32,
    pub height: u32,
    pub detections: Vec<DetectionOut>,
}

pub(super) struct Session {
    /// Matches `Client::live_id` while this session is the page's.
    pub id: u64,
    pub source: Source,
    pub socket: Option<Socket>,
    /// The socket opened (a close before that is a refused connection).
    pub opened: bool,
    /// Frames sent on the current socket.
    pub sent: u64,
    pub in_flight: VecDeque<Sent>,
    /// A frame is being encoded.
    pub encoding: bool,
    /// The video time of the last frame sent (a paused or stalled video is not sent twice).
    pub last_time: f64,
    /// When the session began (`performance.now()`, ms).
    pub began: f64,
    /// Recent answers: when each came and its lag (ms).
    pub recent: VecDeque<(f64, f64)>,
    pub answered: u64,
    pub dropped: u64,
    pub last: Option<Answered>,
    pub frames: Vec<Analysed>,
    /// The class names of the model answering.
    pub labels: Vec<String>,
    /// Where frames are scaled down and encoded.
    pub canvas: HtmlCanvasElement,
    pub _listeners: Listeners,
}

impl Session {
    /// The video file's name (`None` for the camera).
    pub fn file_name(&self) -> Option<&str> {
        match &self.source {
            Source::File { name, .. } => Some(name),
            Source::Camera(_) => None,
        }
    }

    /// Forgets the socket and what was in flight on it.
    pub fn disconnect(&mut self) -> Option<Socket> {
        self.in_flight.clear();
        self.encoding = false;
        self.opened = false;
        self.sent = 0;
        self.socket.take()
    }

    /// Counts an answer that came at `now` for a frame sent `lag` ms earlier, and returns
    /// the numbers to show.
    pub fn count(&mut self, now: f64, lag: Option<f64>, dropped: u64) -> LiveStats {
        self.dropped += dropped;
        if let Some(lag) = lag {
            self.answered += 1;
            self.recent.push_back((now, lag));
        }
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| now - at > WINDOW_MS)
        {
            self.recent.pop_front();
        }
        let (fps, lag_ms) = rates(&self.recent);
        LiveStats {
            fps,
            lag_ms,
            answered: self.answered,
            dropped: self.dropped,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        match &self.source {
            Source::Camera(stream) => super::camera::stop(stream),
            Source::File { url, .. } => {
                let _ = web_sys::Url::revoke_object_url(url);
            }
        }
    }
}

/// Answered frames per second and mean lag over `recent` answers (time, lag).
fn rates(recent: &VecDeque<(f64, f64)>) -> (f64, f64) {
    let n = recent.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let lag = recent.iter().map(|(_, l)| l).sum::<f64>() / n as f64;
    let span = match (recent.front(), recent.back()) {
        (Some(first), Some(last)) => last.0 - first.0,
        _ => 0.0,
    };
    // One answer alone says nothing about the rate yet.
    let fps = if n >= 2 && span > 0.0 {
        (n - 1) as f64 * 1000.0 / span
    } else {
        0.0
    };
    (fps, lag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_over_recent_answers() {
        assert_eq!(rates(&VecDeque::new()), (0.0, 0.0));
        assert_eq!(rates(&VecDeque::from([(100.0, 40.0)])), (0.0, 40.0));
        let recent = VecDeque::from([(0.0, 40.0), (50.0, 60.0), (100.0, 50.0)]);
        assert_eq!(rates(&recent), (20.0, 50.0));
    }
}
