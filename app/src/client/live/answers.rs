//! What the stream says: it opened, an answer (the numbers, the boxes, the snapshot and, for
//! a file, the export follow it), or it closed without the page asking.

use leptos::prelude::*;

use super::super::session::{Analysed, Answered, Session, MAX_ANALYSED};
use super::super::stream::{self, Answer, Event};
use super::super::Client;
use super::{client_for, fail, later, now, with_session};
use crate::components::live_state::LivePhase;
use crate::components::state::Ui;

pub(super) fn on_socket(ui: Ui, id: u64, event: Event) {
    let Some(client) = client_for(ui, id) else {
        return;
    };
    match event {
        Event::Opened => {
            with_session(client, id, |s| s.opened = true);
            let playing = ui.live.video.get_untracked().is_some_and(|v| !v.paused());
            ui.live.view.update(|v| {
                v.message = None;
                if v.phase == LivePhase::Starting {
                    v.phase = if playing {
                        LivePhase::Running
                    } else {
                        LivePhase::Paused
                    };
                }
            });
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
    let problem = outcome.as_ref().err().map(|p| {
        format!(
            "Frame {number} was not detected: {} ({}).",
            p.title, p.detail
        )
    });
    if let Ok(response) = outcome {
        live.result.set(Some(response));
    }
    live.view.update(|v| {
        v.stats = stats;
        v.analysed = analysed;
        if problem.is_some() {
            v.message = problem;
        } else {
            v.frame = number;
            if v.phase == LivePhase::Running {
                v.message = None;
            }
        }
    });
    // A video that played to its end has its last answers: the stream is done.
    if done && live.phase() == LivePhase::Ended {
        later(with_session(client, id, Session::disconnect));
    }
}

/// The stream ended without the page asking.
fn closed(ui: Ui, client: Client, id: u64, code: u16, reason: &str) {
    let Some((opened, old)) = with_session(client, id, |s| (s.opened, s.disconnect())) else {
        return;
    };
    later(old);
    let phase = ui.live.phase();
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
