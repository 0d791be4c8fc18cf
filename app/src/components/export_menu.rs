use leptos::html;
use leptos::prelude::*;

use super::icons::ExportIcon;
use super::state::Ui;
use crate::client::export::{export, ExportChoice};

/// The Export menu: the batch's results as COCO, YOLO, VOC or CSV, or its annotated images
/// as a ZIP, made in the browser from what is on the page. A disclosure (`<details>`), so
/// the keyboard and screen readers work it like any other.
#[component]
pub fn ExportMenu() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let menu = NodeRef::<html::Details>::new();
    let ready = move || {
        ui.items.with(|items| {
            items.iter().any(|i| i.response.is_some())
                && !items.iter().any(|i| i.phase.is_pending())
        })
    };
    view! {
        <details class="export-menu" id="export" node_ref=menu class:disabled=move || !ready()>
            <summary class="btn" aria-disabled=move || (!ready()).then_some("true")>
                <ExportIcon />
                "Export"
            </summary>
            <ul class="export-list" role="list">
                {ExportChoice::ALL
                    .into_iter()
                    .map(|choice| {
                        view! {
                            <li>
                                <button
                                    type="button"
                                    class="export-item"
                                    data-export=choice.key()
                                    disabled=move || !ready()
                                    on:click=move |_| {
                                        if let Some(details) = menu.get_untracked() {
                                            details.set_open(false);
                                        }
                                        export(ui, choice);
                                    }
                                >
                                    {choice.label()}
                                </button>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </details>
    }
}
