//! The page's state: one `Ui` of signals, shared by the components and the browser code.

use leptos::html;
use leptos::prelude::*;

use crate::types::{DetectResponse, Problem, DEFAULT_THRESHOLD};
use crate::ui_server_fns::UiSettings;

/// Where the current request is.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Idle,
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
            Phase::Uploading { .. } => "uploading",
            Phase::Detecting => "detecting",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }
}

/// The picture the canvas draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageView {
    None,
    Loading,
    /// Decoded (upright) in the browser, `width` x `height` pixels.
    Ready {
        width: u32,
        height: u32,
    },
    /// The browser could not decode or load it; the detections can still be listed.
    Unavailable,
}

impl ImageView {
    /// For `data-image` (styling and tests).
    pub fn name(&self) -> &'static str {
        match self {
            ImageView::None => "none",
            ImageView::Loading => "loading",
            ImageView::Ready { .. } => "ready",
            ImageView::Unavailable => "unavailable",
        }
    }
}

/// A detection result and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// The request it answers (rows are keyed by it).
    pub id: u64,
    pub source: String,
    pub response: DetectResponse,
}

/// A short confirmation or complaint next to the result's buttons ("Copied").
#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    pub id: u64,
    pub text: String,
    pub ok: bool,
}

#[derive(Clone, Copy)]
pub struct Ui {
    pub config: Resource<Result<UiSettings, Problem>>,
    pub phase: RwSignal<Phase>,
    /// File name or URL of the current image.
    pub source: RwSignal<Option<String>>,
    pub shown: RwSignal<Option<Shown>>,
    pub image: RwSignal<ImageView>,
    pub error: RwSignal<Option<Problem>>,
    /// A non-fatal note about the current result.
    pub notice: RwSignal<Option<String>>,
    pub flash: RwSignal<Option<Flash>>,
    pub threshold: RwSignal<f32>,
    /// The detection (index into the response) under the pointer or keyboard focus.
    pub active: RwSignal<Option<usize>>,
    /// Files are being dragged over the page.
    pub dragging: RwSignal<bool>,
    pub url_text: RwSignal<String>,
    /// Indices of the detections above the threshold, best first.
    pub visible: Memo<Vec<usize>>,
    /// Bumped for each new request; late answers to older ones are dropped.
    pub seq: StoredValue<u64>,
    pub canvas: NodeRef<html::Canvas>,
    pub stage: NodeRef<html::Div>,
    pub file_input: NodeRef<html::Input>,
    pub result: NodeRef<html::Section>,
}

impl Ui {
    pub fn new(config: Resource<Result<UiSettings, Problem>>) -> Self {
        let shown: RwSignal<Option<Shown>> = RwSignal::new(None);
        let threshold = RwSignal::new(DEFAULT_THRESHOLD);
        let visible = Memo::new(move |_| {
            let t = threshold.get();
            shown.with(|s| {
                s.as_ref()
                    .map(|s| {
                        s.response
                            .detections
                            .iter()
                            .enumerate()
                            .filter(|(_, d)| super::format::passes(d, t))
                            .map(|(i, _)| i)
                            .collect()
                    })
                    .unwrap_or_default()
            })
        });
        Self {
            config,
            phase: RwSignal::new(Phase::Idle),
            source: RwSignal::new(None),
            shown,
            image: RwSignal::new(ImageView::None),
            error: RwSignal::new(None),
            notice: RwSignal::new(None),
            flash: RwSignal::new(None),
            threshold,
            active: RwSignal::new(None),
            dragging: RwSignal::new(false),
            url_text: RwSignal::new(String::new()),
            visible,
            seq: StoredValue::new(0),
            canvas: NodeRef::new(),
            stage: NodeRef::new(),
            file_input: NodeRef::new(),
            result: NodeRef::new(),
        }
    }

    /// The server's upload limit, once the settings have loaded.
    pub fn upload_limit(&self) -> Option<u64> {
        self.config
            .get_untracked()
            .and_then(|c| c.ok())
            .map(|c| c.max_upload_bytes)
    }

    /// Starts a new request: forgets the previous result and returns the request's id.
    pub fn begin(&self, source: String, phase: Phase) -> u64 {
        let id = self.seq.get_value() + 1;
        self.seq.set_value(id);
        self.source.set(Some(source));
        self.shown.set(None);
        self.image.set(ImageView::Loading);
        self.error.set(None);
        self.notice.set(None);
        self.flash.set(None);
        self.active.set(None);
        self.phase.set(phase);
        id
    }

    pub fn is_current(&self, id: u64) -> bool {
        self.seq.get_value() == id
    }

    /// Sets the phase of request `id`, if it is still the current one.
    pub fn set_phase(&self, id: u64, phase: Phase) {
        if self.is_current(id) {
            self.phase.set(phase);
        }
    }

    /// Shows the detections for request `id`.
    pub fn finish(&self, id: u64, response: DetectResponse) {
        if !self.is_current(id) {
            return;
        }
        let source = self.source.get_untracked().unwrap_or_default();
        self.shown.set(Some(Shown {
            id,
            source,
            response,
        }));
        self.phase.set(Phase::Done);
    }

    /// Shows why request `id` failed.
    pub fn fail(&self, id: u64, problem: Problem) {
        if !self.is_current(id) {
            return;
        }
        self.error.set(Some(problem));
        self.phase.set(Phase::Failed);
        if self.image.get_untracked() == ImageView::Loading {
            self.image.set(ImageView::None);
        }
    }

    /// Fails before anything was sent (a client-side check).
    pub fn reject(&self, source: String, problem: Problem) {
        let id = self.begin(source, Phase::Failed);
        self.image.set(ImageView::None);
        self.fail(id, problem);
    }

    /// Shows a short confirmation or complaint next to the result's buttons.
    pub fn flash(&self, text: impl Into<String>, ok: bool) -> u64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.flash.set(Some(Flash {
            id,
            text: text.into(),
            ok,
        }));
        id
    }
}
