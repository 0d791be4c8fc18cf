use leptos::prelude::*;

use super::icons::Swatch;
use super::state::Ui;
use crate::format;

/// The detections above the threshold; a row and its box highlight each other.
#[component]
pub fn DetectionList() -> impl IntoView {
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
}

#[component]
fn Row(index: usize) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let det = ui.shown.with_untracked(|s| {
        s.as_ref()
            .and_then(|s| s.response.detections.get(index).cloned())
    });
    let active = move || ui.active.get() == Some(index);
    det.map(|d| {
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
                    <Swatch class_id=d.class_id />
                    <span class="det-label">{d.label.clone()}</span>
                </td>
                <td class="num">{format::score(d.score)}</td>
                <td class="num box">{format::bbox(&d)}</td>
            </tr>
        }
    })
}
