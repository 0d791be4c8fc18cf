use leptos::prelude::*;

use super::icons::Swatch;
use super::state::Ui;
use crate::format;
use crate::types::{DetectResponse, DetectionOut};

/// The legend of the result on screen.
#[component]
pub fn Legend() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let response =
        Signal::derive(move || ui.shown.with(|s| s.as_ref().map(|s| s.response.clone())));
    view! { <ClassLegend id="legend" response /> }
}

/// One entry per class found in `response`: its colour, name and how many boxes are shown
/// at the page's threshold. Names and colours follow the labels of the model that made the
/// result (`data-model`). The result on screen and the live video share it.
#[component]
pub fn ClassLegend(id: &'static str, response: Signal<Option<DetectResponse>>) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let entries = move || {
        let t = ui.threshold.get();
        response.with(|r| r.as_ref().map(|r| entries(r, t)).unwrap_or_default())
    };
    let model = move || {
        response
            .with(|r| r.as_ref().map(|r| r.model.name.clone()))
            .unwrap_or_default()
    };
    view! {
        <ul class="legend" id=id aria-label="Colours of the classes" data-model=model>
            {move || {
                entries()
                    .into_iter()
                    .map(|(id, label, count)| {
                        let data_label = label.clone();
                        view! {
                            <li class:muted=count == 0 data-class-id=id.to_string() data-label=data_label>
                                <Swatch class_id=id />
                                <span class="legend-label">{label}</span>
                                <span class="legend-count">{count.to_string()}</span>
                            </li>
                        }
                    })
                    .collect_view()
            }}
        </ul>
    }
}

/// Each class found, by class id: its id, name and how many of its boxes pass `threshold`.
fn entries(response: &DetectResponse, threshold: f32) -> Vec<(i64, String, usize)> {
    let mut classes: Vec<(i64, String, usize)> = Vec::new();
    for d in &response.detections {
        let shown = usize::from(format::passes(d, threshold));
        match classes.iter_mut().find(|c| c.0 == d.class_id) {
            Some(c) => c.2 += shown,
            None => classes.push((d.class_id, class_name(&response.model.labels, d), shown)),
        }
    }
    classes.sort_by_key(|c| c.0);
    classes
}

/// A class's name in the model's own labels, else the detection's label.
fn class_name(labels: &[String], d: &DetectionOut) -> String {
    usize::try_from(d.class_id)
        .ok()
        .and_then(|i| labels.get(i))
        .filter(|l| !l.is_empty())
        .cloned()
        .unwrap_or_else(|| d.label.clone())
}
