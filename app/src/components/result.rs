use leptos::either::Either;
use leptos::prelude::*;

use super::detections::DetectionList;
use super::export_menu::ExportMenu;
use super::icons::{CopyIcon, DownloadIcon};
use super::legend::Legend;
use super::state::{ImageView, Ui};
use crate::client;
use crate::format;
use crate::types::UI_SCORE_FLOOR;

/// The annotated picture with its legend, the threshold slider, the buttons, and the
/// detection list.
#[component]
pub fn ResultPanel() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let has_result = move || ui.shown.with(|s| s.is_some());
    let image_ready = move || matches!(ui.image.get(), ImageView::Ready { .. });
    let hidden = move || !(has_result() || image_ready());

    view! {
        <section id="result" class="result" aria-label="Result" hidden=hidden node_ref=ui.result>
            <Toolbar />

            <div class="result-grid">
                <figure class="card stage-card">
                    <Stage />
                    {move || {
                        ui.notice.get().map(|n| view! { <p class="notice" id="notice">{n}</p> })
                    }}
                    <figcaption>
                        <Legend />
                    </figcaption>
                </figure>
                <DetectionList />
            </div>
        </section>
    }
}

/// The threshold, the model's time, and what to do with the result.
#[component]
fn Toolbar() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let has_result = move || ui.shown.with(|s| s.is_some());
    let image_ready = move || matches!(ui.image.get(), ImageView::Ready { .. });
    view! {
        <div class="toolbar card">
            <Threshold id="threshold" />
            <p class="timing" id="timing">
                {move || {
                    ui.shown
                        .with(|s| {
                            s.as_ref()
                                .map(|s| {
                                    let t = s.response.timing_ms;
                                    view! {
                                        "Model "
                                        <strong id="model-time">{format::millis(t.inference)}</strong>
                                        <span class="muted">
                                            {format!(" · total {}", format::millis(t.total))}
                                        </span>
                                    }
                                })
                        })
                }}
            </p>
            <div class="actions js-only">
                <button
                    type="button"
                    id="download"
                    class="btn"
                    disabled=move || !(has_result() && image_ready())
                    on:click=move |_| client::save::download(ui)
                >
                    <DownloadIcon />
                    "Download PNG"
                </button>
                <button
                    type="button"
                    id="copy-json"
                    class="btn"
                    disabled=move || !has_result()
                    on:click=move |_| client::save::copy_json(ui)
                >
                    <CopyIcon />
                    "Copy JSON"
                </button>
                <ExportMenu />
                <span id="flash" class="flash" aria-live="polite">
                    {move || {
                        ui.flash
                            .get()
                            .map(|f| {
                                view! {
                                    <span class="flash-text" class:bad=!f.ok>
                                        {f.text}
                                    </span>
                                }
                            })
                    }}
                </span>
            </div>
        </div>
    }
}

/// The score threshold: one value for every image of the batch and the live video, applied
/// in the browser. The result's toolbar and the live panel each have a slider (`id`).
#[component]
pub fn Threshold(id: &'static str) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let value_id = format!("{id}-value");
    view! {
        <div class="threshold js-only">
            <label for=id>"Score threshold"</label>
            <input
                id=id
                type="range"
                min=UI_SCORE_FLOOR.to_string()
                max="1"
                step="0.01"
                value=ui.threshold.get_untracked().to_string()
                prop:value=move || ui.threshold.get().to_string()
                aria-describedby=value_id.clone()
                on:input=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse::<f32>() {
                        ui.threshold.set(v.clamp(UI_SCORE_FLOOR, 1.0));
                    }
                }
            />
            <output id=value_id for=id>
                {move || format::score(ui.threshold.get())}
            </output>
        </div>
    }
}

/// Where the picture goes: the canvas, or (in a page rendered without JavaScript) the
/// server's annotated picture.
#[component]
fn Stage() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let has_result = move || ui.shown.with(|s| s.is_some());
    let plain = crate::nojs::plain();
    let picture = match plain
        .as_ref()
        .and_then(|p| p.image.clone().zip(p.outcome.as_ref().ok()))
    {
        Some((src, response)) => {
            let alt = format!(
                "The image with {} boxed",
                format::objects(ui.visible.get_untracked().len())
            );
            Either::Left(view! {
                <img
                    id="annotated"
                    src=src
                    width=response.image.width
                    height=response.image.height
                    alt=alt
                />
            })
        }
        None => {
            let canvas_label = move || {
                let n = ui.visible.with(|v| v.len());
                if has_result() {
                    format!(
                        "The image with {} boxed; the list of detections has the details",
                        format::objects(n)
                    )
                } else {
                    "The image, while Lookout looks for objects".to_owned()
                }
            };
            Either::Right(view! {
                <canvas
                    id="result-canvas"
                    role="img"
                    aria-label=canvas_label
                    node_ref=ui.canvas
                    on:mousemove=move |ev| client::paint::canvas_hover(ui, ev)
                    on:mouseleave=move |_| ui.active.set(None)
                ></canvas>
            })
        }
    };
    view! {
        <div
            class="stage"
            class:busy=move || plain.is_none() && !has_result()
            class:no-image=move || ui.image.get() == ImageView::Unavailable
            class:loading=move || ui.image.get() == ImageView::Loading
            node_ref=ui.stage
        >
            {picture}
        </div>
    }
}
