//! Uploading a picture to the detection server function, with progress: `XMLHttpRequest`
//! (fetch cannot report upload progress), the tab's key as `Authorization: Bearer`, and the
//! chosen model and tiling as form fields.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, FormData, ProgressEvent, XmlHttpRequest};

use super::browser::js_error_text;
use super::handles::{Client, Inflight};
use crate::components::items::Phase;
use crate::components::state::Ui;
use crate::format;
use crate::server_fns::DetectUpload;
use crate::types::{DetectResponse, Problem};

/// How long an upload plus detection may take before the page gives up.
const UPLOAD_TIMEOUT_MS: u32 = 180_000;

/// What is done with an upload's answer (the detections, or the problem) for item `id`:
/// called once per upload, and only while that attempt of the item is still wanted.
pub(super) type Done = fn(Ui, u64, Result<DetectResponse, Problem>);

/// Uploads item `id`'s picture (this `attempt` of it); `done` takes the answer.
pub(super) fn send(
    ui: Ui,
    client: Client,
    (id, attempt): (u64, u32),
    blob: &Blob,
    name: &str,
    done: Done,
) {
    ui.set_phase(id, Phase::Uploading { percent: Some(0) });
    if let Err(e) = try_send(ui, client, (id, attempt), blob, name, done) {
        done(
            ui,
            id,
            Err(Problem::new(
                0,
                "Could not start the upload",
                format!("the browser refused it ({})", js_error_text(&e)),
            )),
        );
    }
}

fn try_send(
    ui: Ui,
    client: Client,
    (id, attempt): (u64, u32),
    blob: &Blob,
    name: &str,
    done: Done,
) -> Result<(), JsValue> {
    let xhr = XmlHttpRequest::new()?;
    xhr.open_with_async("POST", <DetectUpload as ServerFn>::PATH, true)?;
    xhr.set_request_header("Accept", "application/json")?;
    if let Some(value) = super::storage::authorization() {
        xhr.set_request_header("Authorization", &value)?;
    }
    xhr.set_timeout(UPLOAD_TIMEOUT_MS);
    let form = FormData::new()?;
    if let Some(model) = ui.model.get_untracked() {
        form.append_with_str("model", &model)?;
    }
    if ui.tile.get_untracked() {
        form.append_with_str("tile", "auto")?;
    }
    form.append_with_blob_and_filename("image", blob, name)?;

    let on_progress = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        if let Some(e) = e.dyn_ref::<ProgressEvent>() {
            if e.length_computable() && e.total() > 0.0 {
                let percent = ((e.loaded() / e.total()) * 100.0).clamp(0.0, 100.0).floor() as u32;
                ui.set_phase(
                    id,
                    Phase::Uploading {
                        percent: Some(percent),
                    },
                );
            }
        }
    });
    let on_sent = Closure::<dyn FnMut(JsValue)>::new(move |_| ui.set_phase(id, Phase::Detecting));
    let done_xhr = xhr.clone();
    let on_load = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        let status = done_xhr.status().unwrap_or(0);
        let body = done_xhr.response_text().ok().flatten().unwrap_or_default();
        settle(ui, client, (id, attempt), answer(status, &body), done);
    });
    let on_error = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        settle(
            ui,
            client,
            (id, attempt),
            Err(format::network_problem()),
            done,
        )
    });
    let on_timeout = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        settle(
            ui,
            client,
            (id, attempt),
            Err(Problem::new(
                504,
                "Timed out",
                "the server took too long to answer; try again, or try a smaller image",
            )),
            done,
        )
    });

    let upload = xhr.upload()?;
    upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    upload.set_onload(Some(on_sent.as_ref().unchecked_ref()));
    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    xhr.set_ontimeout(Some(on_timeout.as_ref().unchecked_ref()));
    xhr.send_with_opt_form_data(Some(&form))?;

    let request = Inflight {
        xhr,
        _callbacks: vec![on_progress, on_sent, on_load, on_error, on_timeout],
    };
    client.inflight.update_value(|m| m.push((id, request)));
    Ok(())
}

/// The server's answer: the detections, or the problem it reported.
fn answer(status: u16, body: &str) -> Result<DetectResponse, Problem> {
    if (200..300).contains(&status) {
        serde_json::from_str::<DetectResponse>(body).map_err(|e| {
            Problem::new(
                502,
                "Unexpected answer",
                format!("the server's answer could not be read ({e})"),
            )
        })
    } else {
        Err(format::problem_from_http(status, body))
    }
}

fn settle(
    ui: Ui,
    client: Client,
    (id, attempt): (u64, u32),
    result: Result<DetectResponse, Problem>,
    done: Done,
) {
    // The request's callbacks are running: drop them once this one has returned.
    leptos::task::spawn_local(async move {
        let done = client.inflight.try_update_value(|m| {
            let at = m.iter().position(|(i, _)| *i == id);
            at.map(|at| m.remove(at))
        });
        drop(done);
    });
    if ui.wants(id, attempt) {
        done(ui, id, result);
    }
}
