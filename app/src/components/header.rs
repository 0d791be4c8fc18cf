use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;

use super::icons::Logo;
use super::state::Ui;
use crate::client;
use crate::types::Problem;
use crate::ui_server_fns::{ModelChoice, UiSettings};

/// The name, and the model: a picker when the server has several.
#[component]
pub fn Header(settings: Result<UiSettings, Problem>) -> impl IntoView {
    let models = match settings {
        Ok(settings) => Either::Left(view! { <Models models=settings.models /> }),
        Err(p) => Either::Right(view! {
            <span class="model-error" id="model-name" title=p.detail>
                {p.title}
            </span>
        }),
    };
    view! {
        <header class="top">
            <h1 class="brand">
                <Logo />
                <span>"Lookout"</span>
            </h1>
            <div class="model">{models}</div>
        </header>
    }
}

/// The loaded models: the one there is, or a picker of several (remembered for the tab; a
/// change runs the batch again with the new model).
#[component]
fn Models(models: Vec<ModelChoice>) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let Some(default) = models.first().cloned() else {
        return EitherOf3::A(view! {
            <span class="model-error" id="model-name">"Model loading"</span>
        });
    };
    let classes = |m: &ModelChoice| format!(" · {} classes", m.classes);
    if models.len() == 1 {
        return EitherOf3::B(view! {
            <span class="model-label">"Model"</span>
            " "
            <strong class="model-name" id="model-name">{default.name.clone()}</strong>
            <span class="model-classes">{classes(&default)}</span>
        });
    }
    // On the server: the default, or the model of a form's result; in the browser, the
    // tab's choice once it is read.
    let chosen = move || ui.model.get().unwrap_or_else(|| default.name.clone());
    let initial = chosen();
    let options = models
        .iter()
        .map(|m| {
            view! {
                <option value=m.name.clone() selected=m.name == initial>
                    {format!("{}{}", m.name, classes(m))}
                </option>
            }
        })
        .collect_view();
    EitherOf3::C(view! {
        <label class="model-label" for="model-picker">"Model"</label>
        " "
        <select
            id="model-picker"
            class="model-picker js-only"
            prop:value=chosen.clone()
            on:change=move |ev| client::pick_model(ui, event_target_value(&ev))
        >
            {options}
        </select>
        <strong class="model-name nojs-only" id="model-name">{initial}</strong>
    })
}
