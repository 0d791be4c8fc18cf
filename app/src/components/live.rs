//! Camera mode and video files: the live video with the boxes drawn over it, its own
//! threshold slider (the page's one value), frame rate and lag, the legend, and what to do
//! with it (pause, snapshot, camera choice, a video's export). Hidden until the camera or a
//! video is started: without JavaScript there is nothing here.

use leptos::prelude::*;

use super::legend::ClassLegend;
use super::live_state::{LivePhase, LiveSource};
use super::result::Threshold;
use super::state::Ui;
use crate::client::{self, live};
use crate::export::ExportFormat;
use crate::format;

#[component]
pub fn LivePanel() -> impl IntoView {
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
    let response = Signal::derive(move || {
        state
            .result
            .with(|r| r.as_ref().map(|r| r.response.clone()))
    });
    let phase = move || state.phase.get();
    let is_video = move || {
        state
            .source
            .with(|s| matches!(s, Some(LiveSource::Video(_))))
    };
    let title = move || match state.source.get() {
        Some(LiveSource::Camera) => "Camera".to_owned(),
        Some(LiveSource::Video(name)) => format!("Video: {name}"),
        None => String::new(),
    };
    let pause_label = move || match phase() {
        LivePhase::Running | LivePhase::Starting => "Pause",
        LivePhase::Ended => "Play again",
        _ => "Resume",
    };
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
                <h2 id="live-title" class="card-title">{title}</h2>
                <div class="live-actions">
                    <CameraPicker />
                    <button
                        type="button"
                        id="live-pause"
                        class="btn"
                        disabled=move || phase() == LivePhase::Off
                        on:click=move |_| live::toggle_pause(ui)
                    >
                        {pause_label}
                    </button>
                    <button
                        type="button"
                        id="live-snapshot"
                        class="btn"
                        disabled=move || state.result.with(|r| r.is_none())
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
                <Stats />
            </div>
            {move || {
                state.message.get().map(|m| view! { <p class="notice live-message" id="live-message" role="alert">{m}</p> })
            }}
            <div class="live-stage">
                <video id="live-video" node_ref=state.video></video>
                <canvas id="live-canvas" class="live-overlay" aria-hidden="true" node_ref=state.overlay></canvas>
            </div>
            <ClassLegend id="live-legend" response />
            <Show when=is_video>
                <VideoExport />
            </Show>
        </section>
    }
}

/// Answered frames per second and the lag from sending a frame to its answer.
#[component]
fn Stats() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let stats = ui.live.stats;
    let fps = move || stats.with(|s| format!("{:.1}", s.fps));
    view! {
        <p class="live-stats" id="live-stats">
            <span id="live-fps" data-fps=fps>{fps}</span>
            " frames/s · lag "
            <span id="live-lag">{move || stats.with(|s| format::millis(s.lag_ms))}</span>
            <span class="muted">
                {move || {
                    stats.with(|s| format!(" · {} answered, {} skipped", s.answered, s.dropped))
                }}
            </span>
        </p>
    }
}

/// The cameras to choose from, where there are several.
#[component]
fn CameraPicker() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let state = ui.live;
    move || {
        let cameras = state.cameras.get();
        (cameras.len() > 1).then(|| {
            let chosen = state.camera.get_untracked();
            let options = cameras
                .into_iter()
                .map(|c| {
                    let selected = chosen.as_deref() == Some(c.id.as_str());
                    view! { <option value=c.id selected=selected>{c.label}</option> }
                })
                .collect_view();
            view! {
                <label class="sr-only" for="live-camera">"Camera"</label>
                <select
                    id="live-camera"
                    class="live-camera"
                    on:change=move |ev| live::choose_camera(ui, event_target_value(&ev))
                >
                    {options}
                </select>
            }
        })
    }
}

/// A video's detections per analysed frame, as CSV (frame, time) or COCO.
#[component]
fn VideoExport() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let analysed = ui.live.analysed;
    let none = move || analysed.get() == 0;
    let button = move |format: ExportFormat, label: &'static str| {
        view! {
            <button
                type="button"
                class="btn"
                id=format!("live-export-{}", format.as_str())
                data-export=format.as_str()
                disabled=none
                on:click=move |_| client::export::export_video(ui, format)
            >
                {label}
            </button>
        }
    };
    view! {
        <p class="live-export">
            <span id="live-analysed">{move || format!("{} analysed", frames(analysed.get()))}</span>
            {button(ExportFormat::Csv, "Export CSV")}
            {button(ExportFormat::Coco, "Export COCO")}
        </p>
    }
}

fn frames(n: usize) -> String {
    if n == 1 {
        "1 frame".to_owned()
    } else {
        format!("{n} frames")
    }
}
