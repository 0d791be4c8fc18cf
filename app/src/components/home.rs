use leptos::prelude::*;

use super::actions;
use super::input::InputPanel;
use super::result::ResultPanel;
use super::state::{ImageView, Phase, Ui};
use super::status::StatusBar;
use crate::server_fns::model_info;
use crate::ui_server_fns::ui_config;

/// The one screen: header, input area, status, then the result.
#[component]
pub fn HomePage() -> impl IntoView {
    let config = Resource::new(|| (), |_| ui_config());
    let ui = Ui::new(config);
    provide_context(ui);

    let hydrated = RwSignal::new(false);
    // Effects run only in the browser: `data-hydrated` proves hydration happened, and the
    // browser-side wiring (paste, drag and drop, resize) starts here.
    Effect::new(move |_| {
        untrack(|| actions::init(ui));
        hydrated.set(true);
    });
    // Redraw the canvas whenever what it shows changes.
    Effect::new(move |_| {
        ui.shown.track();
        ui.image.track();
        ui.threshold.track();
        ui.active.track();
        untrack(|| actions::redraw(ui));
    });

    view! {
        <div
            class="app"
            data-hydrated=move || hydrated.get().to_string()
            data-phase=move || ui.phase.with(Phase::name)
            data-image=move || ui.image.with(ImageView::name)
        >
            <a class="skip-link" href="#input-title">"Skip to the image input"</a>
            <Header />
            <main class="page" id="main">
                <InputPanel />
                <StatusBar />
                <ResultPanel />
            </main>
            <footer class="foot">
                <p>"Lookout finds objects in images with a Faster R-CNN model running on this server."</p>
            </footer>
        </div>
    }
    .into_any()
}

/// The name, and the model the server has loaded.
#[component]
pub fn Header() -> impl IntoView {
    let model = Resource::new(|| (), |_| model_info());
    view! {
        <header class="top">
            <h1 class="brand">
                <super::icons::Logo />
                <span>"Lookout"</span>
            </h1>
            <p class="model">
                <Suspense fallback=|| view! { <span class="model-pending">"Loading model…"</span> }>
                    {move || Suspend::new(async move {
                        match model.await {
                            Ok(m) => {
                                let classes = super::format::class_count(&m.labels);
                                view! {
                                    <span class="model-label">"Model"</span>
                                    " "
                                    <strong class="model-name" id="model-name" title=m.sha256.clone()>
                                        {m.name.clone()}
                                    </strong>
                                    <span class="model-classes">
                                        {format!(" · {classes} classes")}
                                    </span>
                                }
                                    .into_any()
                            }
                            Err(p) => {
                                view! {
                                    <span class="model-error" id="model-name" title=p.detail.clone()>
                                        {p.title.clone()}
                                    </span>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Suspense>
            </p>
        </header>
    }
    .into_any()
}
