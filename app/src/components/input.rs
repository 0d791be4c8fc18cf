use leptos::prelude::*;

use super::actions;
use super::icons::ImageIcon;
use super::state::Ui;
use crate::types::DEFAULT_THRESHOLD;

/// Every way to give an image: drop zone (click, drop, paste), URL field, samples, and the
/// plain form that posts to `/detect` when JavaScript is off.
#[component]
pub fn InputPanel() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let config = ui.config;
    let limit_text = move || {
        Suspend::new(async move {
            match config.await {
                Ok(c) => format!(", up to {}", super::format::bytes(c.max_upload_bytes)),
                Err(_) => String::new(),
            }
        })
    };

    view! {
        <section class="card input-card" aria-labelledby="input-title">
            <h2 id="input-title" class="card-title">"Find the objects in an image"</h2>
            <form
                id="upload-form"
                class="upload-form"
                method="post"
                action="/detect"
                enctype="multipart/form-data"
                on:submit=move |ev| actions::upload_form_submit(ui, ev)
            >
                <button
                    type="button"
                    id="dropzone"
                    class="dropzone js-only"
                    class:dragging=move || ui.dragging.get()
                    aria-describedby="dropzone-hint"
                    on:click=move |_| actions::choose_file(ui)
                >
                    <ImageIcon />
                    <span class="dz-title">
                        "Drop an image here or " <span class="dz-link">"choose a file"</span>
                    </span>
                    <span class="dz-hint" id="dropzone-hint">
                        "You can also paste an image (Ctrl+V or ⌘V). JPEG, PNG, WebP, GIF, BMP or TIFF"
                        <Suspense fallback=|| ()>{limit_text}</Suspense>
                        "."
                    </span>
                </button>
                <div class="nojs-only nojs-fields">
                    <div class="field">
                        <label for="image-input">"Image file"</label>
                        <input
                            id="image-input"
                            type="file"
                            name="image"
                            accept="image/*"
                            required
                            node_ref=ui.file_input
                            on:change=move |ev| actions::file_chosen(ui, ev)
                        />
                    </div>
                    <div class="field field-narrow">
                        <label for="nojs-threshold">"Score threshold"</label>
                        <input
                            id="nojs-threshold"
                            type="number"
                            name="threshold"
                            min="0"
                            max="1"
                            step="0.05"
                            value=DEFAULT_THRESHOLD.to_string()
                        />
                    </div>
                    <button type="submit" class="btn primary">
                        "Detect objects"
                    </button>
                </div>
            </form>

            <form
                id="url-form"
                class="url-form js-only"
                novalidate
                on:submit=move |ev| actions::url_submit(ui, ev)
            >
                <label for="url-input">"Or give the address of an image"</label>
                <div class="url-row">
                    <input
                        id="url-input"
                        type="url"
                        name="url"
                        inputmode="url"
                        autocomplete="off"
                        spellcheck="false"
                        placeholder="https://example.com/photo.jpg"
                        prop:value=move || ui.url_text.get()
                        on:input=move |ev| ui.url_text.set(event_target_value(&ev))
                    />
                    <button type="submit" id="url-submit" class="btn primary">
                        "Detect"
                    </button>
                </div>
            </form>

            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let samples = config.await.map(|c| c.samples).unwrap_or_default();
                    (!samples.is_empty()).then(|| view! { <Samples samples /> })
                })}
            </Suspense>
        </section>
    }
    .into_any()
}

/// Buttons that fetch a sample image from this site and upload it.
#[component]
fn Samples(samples: Vec<String>) -> impl IntoView {
    let ui = expect_context::<Ui>();
    view! {
        <div class="samples js-only" role="group" aria-labelledby="samples-label">
            <span id="samples-label" class="samples-label">"Or try a sample"</span>
            <ul class="sample-list">
                {samples
                    .into_iter()
                    .map(|url| {
                        let name = url.rsplit('/').next().unwrap_or_default().to_owned();
                        let click_url = url.clone();
                        let data_url = url.clone();
                        let label = format!("Detect objects in the sample {name}");
                        view! {
                            <li>
                                <button
                                    type="button"
                                    class="sample"
                                    data-sample=data_url
                                    aria-label=label
                                    title=name
                                    on:click=move |_| actions::sample_click(ui, click_url.clone())
                                >
                                    <img src=url alt="" width="96" height="72" loading="lazy" decoding="async" />
                                </button>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </div>
    }
    .into_any()
}
