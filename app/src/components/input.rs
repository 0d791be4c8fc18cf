use leptos::prelude::*;

use super::classes::ModelClasses;
use super::icons::{CameraIcon, ImageIcon, VideoIcon};
use super::state::Ui;
use crate::client::{self, events, live};
use crate::ui_server_fns::UiSettings;

/// What the model finds, then every way to give images: drop zone (click, drop, paste; several
/// files or a folder), the camera or a video (the live panel), URL field, samples, and the
/// plain form that posts to `/detect` when JavaScript is off.
#[component]
pub fn InputPanel(settings: Option<UiSettings>) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let limit_text = settings
        .as_ref()
        .map(|c| format!(", up to {} each", crate::format::bytes(c.max_upload_bytes)))
        .unwrap_or_default();
    let samples = settings
        .as_ref()
        .map(|c| c.samples.clone())
        .filter(|s| !s.is_empty());

    view! {
        <section class="card input-card" aria-labelledby="input-title">
            <h2 id="input-title" class="card-title">"Find the objects in images"</h2>
            {settings.as_ref().map(|c| view! { <ModelClasses models=c.models.clone() /> })}
            <form
                id="upload-form"
                class="upload-form"
                method="post"
                action=crate::nojs::FORM_PATH
                enctype="multipart/form-data"
                on:submit=move |ev| events::upload_form_submit(ui, ev)
            >
                <button
                    type="button"
                    id="dropzone"
                    class="dropzone js-only"
                    class:dragging=move || ui.dragging.get()
                    aria-describedby="dropzone-hint"
                    on:click=move |_| events::choose_file(ui)
                >
                    <ImageIcon />
                    <span class="dz-title">
                        "Drop images here or " <span class="dz-link">"choose files"</span>
                    </span>
                    <span class="dz-hint" id="dropzone-hint">
                        "Several at once, or a whole folder. You can also paste an image (Ctrl+V or ⌘V). JPEG, PNG, WebP, GIF, BMP or TIFF"
                        {limit_text}
                        "."
                    </span>
                </button>
                <p class="folder-row js-only">
                    <button type="button" id="choose-folder" class="btn" on:click=move |_| events::choose_folder(ui)>
                        "Choose a folder"
                    </button>
                    <button type="button" id="camera-start" class="btn" on:click=move |_| live::start_camera(ui)>
                        <CameraIcon />
                        "Camera"
                    </button>
                    <button type="button" id="choose-video" class="btn" on:click=move |_| live::choose_video(ui)>
                        <VideoIcon />
                        "Video"
                    </button>
                    <input
                        id="video-input"
                        class="sr-only"
                        type="file"
                        accept="video/*"
                        tabindex="-1"
                        aria-hidden="true"
                        node_ref=ui.live.video_input
                        on:change=move |ev| live::video_chosen(ui, ev)
                    />
                    <input
                        id="folder-input"
                        class="sr-only"
                        type="file"
                        accept="image/*"
                        multiple
                        tabindex="-1"
                        aria-hidden="true"
                        node_ref=ui.folder_input
                        on:change=move |ev| events::files_chosen(ui, ev, true)
                    />
                </p>
                <p class="option-row">
                    <input
                        id="tile-toggle"
                        type="checkbox"
                        name="tile"
                        value="auto"
                        aria-describedby="tile-hint"
                        checked=ui.tile.get_untracked()
                        prop:checked=move || ui.tile.get()
                        on:change=move |ev| client::set_tiling(ui, event_target_checked(&ev))
                    />
                    " "
                    <label for="tile-toggle">"Find small objects"</label>
                    " "
                    <span id="tile-hint" class="option-hint">
                        "Also looks at a large photo piece by piece, for objects a few dozen pixels wide. Takes longer."
                    </span>
                </p>
                <div class="nojs-only nojs-fields">
                    {settings.map(|settings| view! { <PlainFields settings /> })}
                    <div class="field">
                        <label for="image-input">"Image file"</label>
                        <input
                            id="image-input"
                            type="file"
                            name="image"
                            accept="image/*"
                            required
                            node_ref=ui.file_input
                            on:change=move |ev| events::files_chosen(ui, ev, false)
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
                            value=ui.threshold.get_untracked().to_string()
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
                on:submit=move |ev| events::url_submit(ui, ev)
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

            {samples.map(|samples| view! { <Samples samples /> })}
        </section>
    }
}

/// The plain form's fields before the file: the API key when the server wants one, and the
/// model when there are several (the form's result page shows the model it used).
#[component]
fn PlainFields(settings: UiSettings) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let chosen = ui.model.get_untracked();
    let key = settings.key_required.then(|| {
        view! {
            <div class="field">
                <label for="nojs-key">"API key"</label>
                <input id="nojs-key" type="password" name="api_key" autocomplete="off" required />
            </div>
        }
    });
    let model = (settings.models.len() > 1).then(|| {
        let options = settings
            .models
            .iter()
            .map(|m| {
                let selected = chosen.as_deref() == Some(m.name.as_str());
                view! {
                    <option value=m.name.clone() selected=selected>
                        {format!("{} · {} classes", m.name, m.classes)}
                    </option>
                }
            })
            .collect_view();
        view! {
            <div class="field">
                <label for="nojs-model">"Model"</label>
                <select id="nojs-model" name="model">{options}</select>
            </div>
        }
    });
    (key, model)
}

/// Buttons that fetch a sample image from this site and detect it.
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
                                    on:click=move |_| events::sample_click(ui, click_url.clone())
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
}
