//! The page's state: one `Ui` of signals, shared by the components and the browser code.
//!
//! Every image given at once (one file, a URL, a sample, or several files or a folder) is an
//! [`Item`] of the current batch; the page shows one of them, the `current` one. What the
//! browser alone holds (files, decoded pictures, uploads in flight) lives in
//! [`crate::client::Client`], created in the browser and reached through `Ui::client`.

use leptos::html;
use leptos::prelude::*;

use super::items::{Item, Phase};
use super::live_state::Live;
use crate::types::{DetectResponse, Problem, DEFAULT_THRESHOLD};
use crate::ui_server_fns::UiSettings;

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
    /// The item it belongs to (rows are keyed by it).
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

/// Where the page stands with the server's API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// The server needs none (or the settings have not loaded).
    NotNeeded,
    /// Needed, and none was given in this tab yet.
    Missing,
    /// One was given and is kept for this tab (in session storage).
    Given,
    /// The server refused the one given.
    Refused,
}

/// What `f` says about the item on screen (tracked).
fn current_item<T>(
    items: RwSignal<Vec<Item>>,
    current: RwSignal<Option<u64>>,
    f: impl FnOnce(&Item) -> T,
) -> Option<T> {
    let id = current.get()?;
    items.with(|items| items.iter().find(|i| i.id == id).map(f))
}

#[derive(Clone, Copy)]
pub struct Ui {
    pub config: Resource<Result<UiSettings, Problem>>,
    /// The images of the current batch, in the order given.
    pub items: RwSignal<Vec<Item>>,
    /// The item on screen.
    pub current: RwSignal<Option<u64>>,
    /// The current item's phase.
    pub phase: Memo<Phase>,
    /// File name or URL of the current item.
    pub source: Memo<Option<String>>,
    /// The current item's result.
    pub shown: Memo<Option<Shown>>,
    /// Why the current item failed.
    pub error: Memo<Option<Problem>>,
    pub image: RwSignal<ImageView>,
    /// A non-fatal note about the current result.
    pub notice: RwSignal<Option<String>>,
    pub flash: RwSignal<Option<Flash>>,
    pub threshold: RwSignal<f32>,
    /// The detection (index into the response) under the pointer or keyboard focus.
    pub active: RwSignal<Option<usize>>,
    /// Files are being dragged over the page.
    pub dragging: RwSignal<bool>,
    pub url_text: RwSignal<String>,
    /// The model chosen in the picker (`None`: the server's default).
    pub model: RwSignal<Option<String>>,
    /// "Find small objects": large photos are also detected tile by tile (`tile=auto`).
    pub tile: RwSignal<bool>,
    pub key: RwSignal<KeyState>,
    /// Indices of the current result's detections above the threshold, best first.
    pub visible: Memo<Vec<usize>>,
    /// The last id handed out (batches and items share the sequence).
    pub seq: StoredValue<u64>,
    /// The browser's own state; `None` on the server and until the page is hydrated.
    pub client: StoredValue<Option<crate::client::Client>>,
    pub canvas: NodeRef<html::Canvas>,
    pub stage: NodeRef<html::Div>,
    pub file_input: NodeRef<html::Input>,
    pub folder_input: NodeRef<html::Input>,
    pub result: NodeRef<html::Section>,
    /// Camera mode and video files.
    pub live: Live,
}

impl Ui {
    /// The page's state; `plain` is the result the server rendered without JavaScript.
    pub fn new(
        config: Resource<Result<UiSettings, Problem>>,
        plain: Option<&crate::nojs::Plain>,
    ) -> Self {
        let items = RwSignal::new(Vec::<Item>::new());
        let current = RwSignal::new(None::<u64>);
        let threshold = RwSignal::new(DEFAULT_THRESHOLD);
        let phase = Memo::new(move |_| {
            current_item(items, current, |i| i.phase.clone()).unwrap_or(Phase::Idle)
        });
        let source = Memo::new(move |_| current_item(items, current, |i| i.name.clone()));
        let shown = Memo::new(move |_| {
            current_item(items, current, |i| {
                i.response.as_ref().map(|response| Shown {
                    id: i.id,
                    source: i.name.clone(),
                    response: response.clone(),
                })
            })
            .flatten()
        });
        let error = Memo::new(move |_| current_item(items, current, |i| i.error.clone()).flatten());
        let visible = Memo::new(move |_| {
            let t = threshold.get();
            shown.with(|s| {
                s.as_ref()
                    .map(|s| {
                        s.response
                            .detections
                            .iter()
                            .enumerate()
                            .filter(|(_, d)| crate::format::passes(d, t))
                            .map(|(i, _)| i)
                            .collect()
                    })
                    .unwrap_or_default()
            })
        });
        let ui = Self {
            config,
            items,
            current,
            phase,
            source,
            shown,
            error,
            image: RwSignal::new(ImageView::None),
            notice: RwSignal::new(None),
            flash: RwSignal::new(None),
            threshold,
            active: RwSignal::new(None),
            dragging: RwSignal::new(false),
            url_text: RwSignal::new(String::new()),
            model: RwSignal::new(None),
            tile: RwSignal::new(false),
            key: RwSignal::new(KeyState::NotNeeded),
            visible,
            seq: StoredValue::new(0),
            client: StoredValue::new(None),
            canvas: NodeRef::new(),
            stage: NodeRef::new(),
            file_input: NodeRef::new(),
            folder_input: NodeRef::new(),
            result: NodeRef::new(),
            live: Live::new(),
        };
        if let Some(plain) = plain {
            ui.show_plain(plain);
        }
        ui
    }

    /// Seeds the state with the result of a form post, rendered on the server.
    fn show_plain(&self, plain: &crate::nojs::Plain) {
        let mut item = Item::new(1, plain.source.clone());
        match &plain.outcome {
            Ok(response) => {
                self.image.set(ImageView::Ready {
                    width: response.image.width,
                    height: response.image.height,
                });
                self.model.set(Some(response.model.name.clone()));
                item.response = Some(response.clone());
                item.phase = Phase::Done;
            }
            Err(problem) => {
                item.error = Some(problem.clone());
                item.phase = Phase::Failed;
            }
        }
        self.threshold.set(plain.threshold);
        self.tile.set(plain.tile);
        self.seq.set_value(1);
        self.items.set(vec![item]);
        self.current.set(Some(1));
    }

    /// The server's upload limit, once the settings have loaded.
    pub fn upload_limit(&self) -> Option<u64> {
        self.settings().map(|c| c.max_upload_bytes)
    }

    /// The settings, once loaded.
    pub fn settings(&self) -> Option<UiSettings> {
        self.config.get_untracked().and_then(|c| c.ok())
    }

    /// The browser's state (`None` on the server).
    pub fn client(&self) -> Option<crate::client::Client> {
        self.client.get_value()
    }

    /// A fresh id for an item or a batch.
    pub fn next_id(&self) -> u64 {
        let id = self.seq.get_value() + 1;
        self.seq.set_value(id);
        id
    }

    /// Puts item `id` on screen.
    pub fn show(&self, id: Option<u64>) {
        self.notice.set(None);
        self.flash.set(None);
        self.active.set(None);
        self.image.set(if id.is_some() {
            ImageView::Loading
        } else {
            ImageView::None
        });
        self.current.set(id);
    }

    pub fn is_current(&self, id: u64) -> bool {
        self.current.get_untracked() == Some(id)
    }

    /// Whether attempt `attempt` of item `id` is still wanted (answers to others, or for
    /// items of an earlier batch, are dropped).
    pub fn wants(&self, id: u64, attempt: u32) -> bool {
        self.items
            .with_untracked(|items| items.iter().any(|i| i.id == id && i.attempt == attempt))
    }

    /// Changes item `id`, if it is still part of the batch.
    pub fn update_item(&self, id: u64, f: impl FnOnce(&mut Item)) {
        self.items.update(|items| {
            if let Some(item) = items.iter_mut().find(|i| i.id == id) {
                f(item);
            }
        });
    }

    /// A copy of item `id`.
    pub fn item(&self, id: u64) -> Option<Item> {
        self.items
            .with_untracked(|items| items.iter().find(|i| i.id == id).cloned())
    }

    /// Sets the phase of item `id`.
    pub fn set_phase(&self, id: u64, phase: Phase) {
        self.update_item(id, |i| i.phase = phase);
    }

    /// Records the detections for item `id`.
    pub fn finish(&self, id: u64, response: DetectResponse) {
        self.update_item(id, |i| {
            i.response = Some(response);
            i.error = None;
            i.phase = Phase::Done;
        });
    }

    /// Records why item `id` failed.
    pub fn fail(&self, id: u64, problem: Problem) {
        self.update_item(id, |i| {
            i.error = Some(problem);
            i.phase = Phase::Failed;
        });
        if self.is_current(id) && self.image.get_untracked() == ImageView::Loading {
            self.image.set(ImageView::None);
        }
    }

    /// Shows a short confirmation or complaint next to the result's buttons.
    pub fn flash(&self, text: impl Into<String>, ok: bool) -> u64 {
        let id = self.next_id();
        self.flash.set(Some(Flash {
            id,
            text: text.into(),
            ok,
        }));
        id
    }
}
