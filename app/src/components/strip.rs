use leptos::prelude::*;

use super::items::{Item, Phase};
use super::state::Ui;
use crate::client;
use crate::format;

/// The batch: one thumbnail per image with its state (waiting, detecting, done, error); a
/// thumbnail puts its image on screen. Shown when more than one image was given.
#[component]
pub fn Strip() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let several = move || ui.items.with(|i| i.len() > 1);
    let ids = move || {
        ui.items
            .with(|items| items.iter().map(|i| i.id).collect::<Vec<_>>())
    };
    let progress = move || {
        ui.items.with(|items| {
            let finished = items.iter().filter(|i| !i.phase.is_pending()).count();
            format!("{finished} of {} finished", format::images(items.len()))
        })
    };
    view! {
        <section id="batch" class="card strip" aria-labelledby="batch-title" hidden=move || !several()>
            <h2 class="card-title" id="batch-title">
                "Images " <span class="count" id="batch-count">{progress}</span>
            </h2>
            <ul class="thumbs" role="list">
                <For each=ids key=|id| *id children=move |id| view! { <Thumb id /> } />
            </ul>
        </section>
    }
}

#[component]
fn Thumb(id: u64) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let item = move || {
        ui.items
            .with(|items| items.iter().find(|i| i.id == id).cloned())
    };
    let state = move || item().map(|i| i.phase.strip_state()).unwrap_or("waiting");
    let current = move || ui.current.get() == Some(id);
    let name = ui.item(id).map(|i| i.name).unwrap_or_default();
    let label = move || item().map(|i| describe(&i)).unwrap_or_default();
    let (data_name, title) = (name.clone(), name.clone());
    view! {
        <li>
            <button
                type="button"
                class="thumb"
                class:current=current
                data-state=state
                data-name=data_name
                aria-current=move || current().then_some("true")
                aria-label=label
                title=title
                on:click=move |_| client::view_item(ui, id)
            >
                {move || {
                    item()
                        .and_then(|i| i.thumb)
                        .map(|src| view! { <img src=src alt="" loading="lazy" decoding="async" /> })
                }}
                <span class="thumb-name">{name}</span>
                <span class="thumb-state">{move || state_text(item().as_ref())}</span>
            </button>
        </li>
    }
}

/// `a.png: done, 3 objects` for screen readers.
fn describe(item: &Item) -> String {
    format!("{}: {}", item.name, state_text(Some(item)))
}

fn state_text(item: Option<&Item>) -> String {
    let Some(item) = item else {
        return String::new();
    };
    match &item.phase {
        Phase::Idle | Phase::Waiting => "waiting".to_owned(),
        Phase::Uploading { .. } | Phase::Detecting => "detecting".to_owned(),
        Phase::Done => {
            let n = item
                .response
                .as_ref()
                .map(|r| r.detections.len())
                .unwrap_or(0);
            format!("done, {}", format::objects(n))
        }
        Phase::Failed => "error".to_owned(),
    }
}
