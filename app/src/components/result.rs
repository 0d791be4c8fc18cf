use leptos::prelude::*;

use super::actions;
use super::format;
use super::icons::{CopyIcon, DownloadIcon};
use super::state::{ImageView, Ui};
use crate::palette::class_css;
use crate::types::UI_SCORE_FLOOR;

/// The annotated canvas with its legend, the threshold slider, and the detection list.
#[component]
pub fn ResultPanel() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let has_result = move || ui.shown.with(|s| s.is_some());
    let image_ready = move || matches!(ui.image.get(), ImageView::Ready { .. });
    let hidden = move || !(has_result() || image_ready());
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

    view! {
        <section id="result" class="result" aria-label="Result" hidden=hidden node_ref=ui.result>
            <div class="toolbar card">
                <div class="threshold">
                    <label for="threshold">"Score threshold"</label>
                    <input
                        id="threshold"
                        type="range"
                        min=UI_SCORE_FLOOR.to_string()
                        max="1"
                        step="0.01"
                        value=crate::types::DEFAULT_THRESHOLD.to_string()
                        prop:value=move || ui.threshold.get().to_string()
                        aria-describedby="threshold-value"
                        on:input=move |ev| {
                            if let Ok(v) = event_target_value(&ev).parse::<f32>() {
                                ui.threshold.set(v.clamp(UI_SCORE_FLOOR, 1.0));
                            }
                        }
                    />
                    <output id="threshold-value" for="threshold">
                        {move || format::score(ui.threshold.get())}
                    </output>
                </div>
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
                <div class="actions">
                    <button
                        type="button"
                        id="download"
                        class="btn"
                        disabled=move || !(has_result() && image_ready())
                        on:click=move |_| actions::download(ui)
                    >
                        <DownloadIcon />
                        "Download PNG"
                    </button>
                    <button
                        type="button"
                        id="copy-json"
                        class="btn"
                        disabled=move || !has_result()
                        on:click=move |_| actions::copy_json(ui)
                    >
                        <CopyIcon />
                        "Copy JSON"
                    </button>
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

            <div class="result-grid">
                <figure class="card stage-card">
                    <div
                        class="stage"
                        class:busy=move || !has_result()
                        class:no-image=move || ui.image.get() == ImageView::Unavailable
                        class:loading=move || ui.image.get() == ImageView::Loading
                        node_ref=ui.stage
                    >
                        <canvas
                            id="result-canvas"
                            role="img"
                            aria-label=canvas_label
                            node_ref=ui.canvas
                            on:mousemove=move |ev| actions::canvas_hover(ui, ev)
                            on:mouseleave=move |_| ui.active.set(None)
                        ></canvas>
                    </div>
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
    .into_any()
}

/// One entry per class found: its colour, name and how many boxes are shown.
#[component]
fn Legend() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let entries = move || {
        let t = ui.threshold.get();
        ui.shown.with(|s| {
            let mut classes: Vec<(i64, String, usize)> = Vec::new();
            if let Some(s) = s {
                for d in &s.response.detections {
                    let shown = usize::from(format::passes(d, t));
                    match classes.iter_mut().find(|c| c.0 == d.class_id) {
                        Some(c) => c.2 += shown,
                        None => classes.push((d.class_id, d.label.clone(), shown)),
                    }
                }
            }
            classes.sort_by_key(|c| c.0);
            classes
        })
    };
    view! {
        <ul class="legend" id="legend" aria-label="Colours of the classes">
            {move || {
                entries()
                    .into_iter()
                    .map(|(id, label, count)| {
                        view! {
                            <li class:muted=count == 0 data-class-id=id.to_string()>
                                <span class="swatch" style=format!("--c:{}", class_css(id))></span>
                                <span class="legend-label">{label}</span>
                                <span class="legend-count">{count.to_string()}</span>
                            </li>
                        }
                    })
                    .collect_view()
            }}
        </ul>
    }
    .into_any()
}

/// The detections above the threshold; a row and its box highlight each other.
#[component]
fn DetectionList() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let rows = move || {
        let id = ui.shown.with(|s| s.as_ref().map(|s| s.id).unwrap_or(0));
        ui.visible
            .get()
            .into_iter()
            .map(|i| (id, i))
            .collect::<Vec<_>>()
    };
    let count = move || {
        let total = ui
            .shown
            .with(|s| s.as_ref().map(|s| s.response.detections.len()).unwrap_or(0));
        let shown = ui.visible.with(|v| v.len());
        if shown == total {
            format::objects(shown)
        } else {
            format!("{shown} of {total}")
        }
    };
    view! {
        <div class="card detections">
            <h2 class="card-title">"Detections " <span class="count" id="detection-count">{count}</span></h2>
            <div class="table-wrap">
                <table id="detections">
                    <thead>
                        <tr>
                            <th scope="col">"Object"</th>
                            <th scope="col" class="num">"Score"</th>
                            <th scope="col" class="num">"Box (x1, y1 – x2, y2)"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For
                            each=rows
                            key=|k| *k
                            children=move |(_, i): (u64, usize)| view! { <Row index=i /> }
                        />
                    </tbody>
                </table>
            </div>
            {move || {
                let shown = ui.shown.with(|s| s.is_some());
                (shown && ui.visible.with(|v| v.is_empty()))
                    .then(|| {
                        view! {
                            <p class="empty" id="no-detections">
                                {move || {
                                    format!(
                                        "No objects above {}. Lower the threshold to see weaker detections.",
                                        format::score(ui.threshold.get()),
                                    )
                                }}
                            </p>
                        }
                    })
            }}
        </div>
    }
    .into_any()
}

#[component]
fn Row(index: usize) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let det = ui.shown.with_untracked(|s| {
        s.as_ref()
            .and_then(|s| s.response.detections.get(index).cloned())
    });
    let Some(d) = det else {
        return ().into_any();
    };
    let active = move || ui.active.get() == Some(index);
    view! {
        <tr
            tabindex="0"
            class="det"
            class:active=active
            data-index=index.to_string()
            data-label=d.label.clone()
            data-class-id=d.class_id.to_string()
            data-score=d.score.to_string()
            data-box=format::bbox_data(&d)
            on:mouseenter=move |_| ui.active.set(Some(index))
            on:mouseleave=move |_| ui.active.set(None)
            on:focus=move |_| ui.active.set(Some(index))
            on:blur=move |_| ui.active.set(None)
        >
            <td class="obj">
                <span class="swatch" style=format!("--c:{}", class_css(d.class_id))></span>
                <span class="det-label">{d.label.clone()}</span>
            </td>
            <td class="num">{format::score(d.score)}</td>
            <td class="num box">{format::bbox(&d)}</td>
        </tr>
    }
    .into_any()
}
