use leptos::html;
use leptos::prelude::*;

use super::header::Header;
use super::input::InputPanel;
use super::items::Phase;
use super::key::KeyPanel;
use super::live;
use super::result::ResultPanel;
use super::state::{ImageView, Ui};
use super::status::StatusBar;
use super::strip::Strip;
use crate::client;
use crate::ui_server_fns::{ui_config, UiSettings};

/// The one screen: header, input area, status, the batch's thumbnails, then the result.
/// The same components render the page answering a form post without JavaScript
/// ([`crate::nojs::Plain`] in context).
#[component]
pub fn HomePage() -> impl IntoView {
    let config = Resource::new(|| (), |_| ui_config());
    let plain = crate::nojs::plain();
    let ui = Ui::new(config, plain.as_ref());
    provide_context(ui);
    let plain = plain.is_some();

    let hydrated = RwSignal::new(false);
    let live_root = NodeRef::<html::Div>::new();
    // Effects run only in the browser: `data-hydrated` proves hydration happened, and the
    // browser-side wiring (paste, drag and drop, resize) starts here; then the settings
    // say whether to ask for a key.
    Effect::new(move |started: Option<()>| {
        if started.is_none() {
            untrack(|| client::init(ui));
            untrack(|| live::mount(ui, live_root));
            hydrated.set(true);
        }
        if config.with(|c| matches!(c, Some(Ok(_)))) {
            untrack(|| client::settings_loaded(ui));
        }
    });
    // Decode the picture of the item on screen whenever another one is shown.
    Effect::new(move |_| {
        ui.current.track();
        untrack(|| client::bitmap::show_current(ui));
    });
    // Redraw the canvas whenever what it shows changes.
    Effect::new(move |_| {
        ui.shown.track();
        ui.image.track();
        ui.threshold.track();
        ui.active.track();
        untrack(|| client::paint::redraw(ui));
    });

    view! {
        <div
            class="app"
            data-hydrated=move || hydrated.get().to_string()
            data-phase=move || ui.phase.with(Phase::name)
            data-image=move || ui.image.with(ImageView::name)
        >
            <a class="skip-link" href="#input-title">"Skip to the image input"</a>
            // The settings are awaited in two places only (the server renders the page complete,
            // with or without JavaScript); below them, everything takes plain values. The
            // result and the batch need none, so they hydrate without waiting.
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    view! { <Header settings=config.await /> }
                })}
            </Suspense>
            <main class="page" id="main">
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        view! { <Inputs settings=config.await.ok() plain /> }
                    })}
                </Suspense>
                // The camera and video panel: made in the browser (it needs JavaScript).
                <div class="live-root" node_ref=live_root></div>
                <StatusBar />
                <Strip />
                <ResultPanel />
            </main>
            <footer class="foot">
                <p>"Lookout finds objects in images with a Faster R-CNN model running on this server."</p>
            </footer>
        </div>
    }
}

/// What comes before the result: the key (when the server wants one), the way back from a
/// form's result, and the inputs.
#[component]
fn Inputs(settings: Option<UiSettings>, plain: bool) -> impl IntoView {
    let required = settings.as_ref().is_some_and(|s| s.key_required);
    view! {
        <KeyPanel required />
        {plain
            .then(|| {
                view! {
                    <p class="back">
                        <a class="btn" href="/">"← Detect another image"</a>
                    </p>
                }
            })}
        <InputPanel settings />
    }
}
