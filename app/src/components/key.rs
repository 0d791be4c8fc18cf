use leptos::html;
use leptos::prelude::*;

use super::state::{KeyState, Ui};
use crate::client;

/// When the server wants an API key: asks for it once (kept for this tab, in session
/// storage, never in the URL), says when the server refused it, and lets it be forgotten.
/// Without a key on the server there is nothing here. (The form without JavaScript has its
/// own key field.)
#[component]
pub fn KeyPanel(required: bool) -> impl IntoView {
    required.then(|| view! { <KeyCard /> })
}

#[component]
fn KeyCard() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let input = NodeRef::<html::Input>::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Some(field) = input.get_untracked() {
            client::give_key(ui, field.value());
            field.set_value("");
        }
    };
    let given = move || ui.key.get() == KeyState::Given;
    view! {
        <section class="card key-card js-only" id="key" aria-labelledby="key-title" data-key=move || key_name(&ui.key.get())>
            <h2 id="key-title" class="card-title">"This server needs a key"</h2>
            <Show
                when=given
                fallback=move || {
                    view! {
                        <p class="key-hint" id="key-hint">
                            "Detections need the API key Lookout was started with. It is kept in this tab only."
                        </p>
                        {move || {
                            (ui.key.get() == KeyState::Refused)
                                .then(|| {
                                    view! {
                                        <p class="key-refused" id="key-refused" role="alert">
                                            "The server did not accept that key. Check it and enter it again."
                                        </p>
                                    }
                                })
                        }}
                        <form id="key-form" class="key-form" on:submit=submit>
                            <label for="key-input">"API key"</label>
                            <div class="url-row">
                                <input
                                    id="key-input"
                                    type="password"
                                    name="api_key"
                                    autocomplete="off"
                                    spellcheck="false"
                                    required
                                    aria-describedby="key-hint"
                                    node_ref=input
                                />
                                <button type="submit" id="key-submit" class="btn primary">"Use key"</button>
                            </div>
                        </form>
                    }
                }
            >
                <p class="key-given">
                    "The API key is set for this tab. "
                    <button type="button" id="key-forget" class="btn" on:click=move |_| client::forget_key(ui)>
                        "Forget it"
                    </button>
                </p>
            </Show>
        </section>
    }
}

fn key_name(state: &KeyState) -> &'static str {
    match state {
        KeyState::NotNeeded | KeyState::Missing => "missing",
        KeyState::Given => "given",
        KeyState::Refused => "refused",
    }
}
