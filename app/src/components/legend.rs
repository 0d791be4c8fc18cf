use leptos::prelude::*;

use super::icons::Swatch;
use super::state::Ui;
use crate::format;

/// One entry per class found: its colour, name and how many boxes are shown. Names and
/// colours follow the labels of the model that made the result (`data-model`).
#[component]
pub fn Legend() -> impl IntoView {
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
                        None => classes.push((
                            d.class_id,
                            class_name(&s.response.model.labels, d),
                            shown,
                        )),
                    }
                }
            }
            classes.sort_by_key(|c| c.0);
            classes
        })
    };
    let model = move || {
        ui.shown
            .with(|s| s.as_ref().map(|s| s.response.model.name.clone()))
            .unwrap_or_default()
    };
    view! {
        <ul class="legend" id="legend" aria-label="Colours of the classes" data-model=model>
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

/// A class's name in the model's own labels, else the detection's label.
fn class_name(labels: &[String], d: &crate::types::DetectionOut) -> String {
    usize::try_from(d.class_id)
        .ok()
        .and_then(|i| labels.get(i))
        .filter(|l| !l.is_empty())
        .cloned()
        .unwrap_or_else(|| d.label.clone())
}
