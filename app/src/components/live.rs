//! Camera mode and video files: the live video with the boxes drawn over it, its own
//! threshold slider (the page's one value), frame rate and lag, the legend, and what to do
//! with it (pause, snapshot, camera choice, a video's export). Hidden until the camera or a
//! video is started.
//!
//! The server renders none of it (the camera needs JavaScript, so without it there is nothing
//! here): the browser builds the panel after hydration ([`mount`]), which also spares the
//! page's WebAssembly the code to hydrate it.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::legend::ClassLegend;
use super::live_state::{LivePhase, LiveSource, LiveView};
use super::result::Threshold;
use super::state::Ui;
use crate::client::{self, live};
use crate::export::ExportFormat;
use crate::format;

/// Builds the live panel in `root` (in the browser, once the page is hydrated).
pub fn mount(ui: Ui, root: NodeRef<html::Div>) {
    if let Some(root) = root.get_untracked() {
        let root: web_sys::HtmlElement = root.unchecked_into();
        leptos::mount::mount_to(root, move || {
            provide_context(ui);
            view! { <LivePanel /> }
        })
        .forget();
    }
}

#[component]
fn LivePanel() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let state = ui.live;
    // Redraw the boxes whenever the answer or the threshold changes.
    Effect::new(move |_| {
        state.result.track();
        ui.threshold.track();
        untrack(|| client::overlay::redraw(ui));
    });
    // Another model: the stream is opened again for it.
    Effect::new(move |seen: Option<()>| {
        ui.model.track();
        if seen.is_some() {
            untrack(|| live::model_changed(ui));
        }
    });
    let view = state.view;
    let phase = move || view.with(|v| v.phase);
    let is_video = move || view.with(|v| matches!(v.source, Some(LiveSource::Video(_))));
    let no_frames = move || view.with(|v| v.analysed == 0);
    // Static elements shown or hidden, rather than parts that come and go: each kind of
    // view costs the page's WebAssembly its own rendering code.
    view! {
        <section
            id="live"
            class="card live-card js-only"
            aria-labelledby="live-title"
            hidden=move || phase() == LivePhase::Off
            data-state=move || phase().name()
            node_ref=state.section
        >
            <div class="live-head">
                <h2 id="live-title" class="card-title">
                    {move || view.with(title)}
                </h2>
                <div class="live-actions">
                    // Its options are the browser's cameras (filled in by the browser code).
                    <select
                        id="live-camera"
                        class="live-camera"
                        aria-label="Camera"
                        hidden=move || view.with(|v| v.cameras < 2)
                        node_ref=state.camera_picker
                        on:change=move |ev| live::choose_camera(ui, event_target_value(&ev))
                    ></select>
                    <button type="button" id="live-pause" class="btn" on:click=move |_| live::toggle_pause(ui)>
                        {move || match phase() {
                            LivePhase::Running | LivePhase::Starting => "Pause",
                            LivePhase::Ended => "Play again",
                            _ => "Resume",
                        }}
                    </button>
                    <button
                        type="button"
                        id="live-snapshot"
                        class="btn"
                        disabled=move || state.result.with(Option::is_none)
                        on:click=move |_| live::snapshot(ui)
                    >
                        "Snapshot"
                    </button>
                    <button type="button" id="live-stop" class="btn" on:click=move |_| live::stop(ui)>
                        "Stop"
                    </button>
                </div>
            </div>
            <div class="live-bar">
                <Threshold id="live-threshold" />
                <p class="live-stats" id="live-stats">
                    {move || view.with(stats_text)}
                </p>
            </div>
            <p
                class="notice live-message"
                id="live-message"
                role="alert"
                hidden=move || view.with(|v| v.message.is_none())
            >
                {move || view.with(|v| v.message.clone())}
            </p>
            <div class="live-stage">
                <video id="live-video" node_ref=state.video></video>
                <canvas id="live-canvas" class="live-overlay" aria-hidden="true" node_ref=state.overlay></canvas>
            </div>
            <ClassLegend id="live-legend" response=state.result.into() />
            <p class="live-export" hidden=move || !is_video()>
                <span id="live-analysed">{move || view.with(|v| frames(v.analysed))}</span>
                <button
                    type="button"
                    class="btn"
                    id="live-export-csv"
                    disabled=no_frames
                    on:click=move |_| client::export::export_video(ui, ExportFormat::Csv)
                >
                    "Export CSV"
                </button>
                <button
                    type="button"
                    class="btn"
                    id="live-export-coco"
                    disabled=no_frames
                    on:click=move |_| client::export::export_video(ui, ExportFormat::Coco)
                >
                    "Export COCO"
                </button>
            </p>
        </section>
    }
}

fn title(v: &LiveView) -> String {
    match &v.source {
        Some(LiveSource::Camera) => "Camera".to_owned(),
        Some(LiveSource::Video(name)) => format!("Video: {name}"),
        None => String::new(),
    }
}

/// `12.3 frames/s · lag 62 ms · 240 answered, 3 skipped`
fn stats_text(v: &LiveView) -> String {
    let s = v.stats;
    format!(
        "{:.1} frames/s · lag {} · {} answered, {} skipped",
        s.fps,
        format::millis(s.lag_ms),
        s.answered,
        s.dropped
    )
}

/// `1 frame analysed`, `12 frames analysed`.
fn frames(n: usize) -> String {
    if n == 1 {
        "1 frame analysed".to_owned()
    } else {
        format!("{n} frames analysed")
    }
}
