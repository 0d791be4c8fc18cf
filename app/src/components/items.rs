//! One image of a batch and where it is.

use crate::types::{DetectResponse, Problem};

/// Where an item's request is.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Nothing on screen.
    Idle,
    /// In the batch, not sent yet.
    Waiting,
    /// Sending the file; the percentage once the browser knows it.
    Uploading {
        percent: Option<u32>,
    },
    /// Waiting for the model.
    Detecting,
    Done,
    Failed,
}

impl Phase {
    /// For `data-phase` (styling and tests).
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Waiting => "waiting",
            Phase::Uploading { .. } => "uploading",
            Phase::Detecting => "detecting",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }

    /// The state a thumbnail shows: waiting, detecting, done or error.
    pub fn strip_state(&self) -> &'static str {
        match self {
            Phase::Idle | Phase::Waiting => "waiting",
            Phase::Uploading { .. } | Phase::Detecting => "detecting",
            Phase::Done => "done",
            Phase::Failed => "error",
        }
    }

    /// Still on its way (waiting, uploading or detecting).
    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            Phase::Waiting | Phase::Uploading { .. } | Phase::Detecting
        )
    }
}

/// One image of the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: u64,
    /// File name or URL.
    pub name: String,
    pub phase: Phase,
    pub response: Option<DetectResponse>,
    pub error: Option<Problem>,
    /// An object URL of the picture, for its thumbnail (browser only).
    pub thumb: Option<String>,
    /// The address the picture was given by, for an image detected from a URL (the server
    /// fetches it; the page only ever asks this server for the bytes).
    pub url: Option<String>,
    /// Bumped each time the item is sent again (another model, a key): answers to an earlier
    /// attempt are dropped.
    pub attempt: u32,
}

impl Item {
    pub fn new(id: u64, name: String) -> Self {
        Self {
            id,
            name,
            phase: Phase::Waiting,
            response: None,
            error: None,
            thumb: None,
            url: None,
            attempt: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_states() {
        let table = [
            (Phase::Waiting, "waiting", true),
            (Phase::Uploading { percent: Some(3) }, "detecting", true),
            (Phase::Detecting, "detecting", true),
            (Phase::Done, "done", false),
            (Phase::Failed, "error", false),
        ];
        for (phase, state, pending) in table {
            assert_eq!(phase.strip_state(), state, "{phase:?}");
            assert_eq!(phase.is_pending(), pending, "{phase:?}");
        }
    }
}
