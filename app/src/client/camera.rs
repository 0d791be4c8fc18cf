//! The camera: asking for it (`getUserMedia`, the back camera by preference, or the one
//! chosen), listing the cameras to choose from, stopping it, and the words for each way
//! asking can fail.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    HtmlSelectElement, MediaDevices, MediaStream, MediaStreamConstraints, MediaStreamTrack,
};

/// A camera the browser offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CameraChoice {
    pub id: String,
    pub label: String,
}

/// Why there is no camera picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum CameraError {
    /// `navigator.mediaDevices` is missing: a page on plain HTTP (other than localhost).
    Insecure,
    /// The person (or the browser's settings) refused the camera.
    Refused,
    /// No camera, or none that fits.
    NoCamera,
    /// Another program holds the camera.
    Busy,
    /// Anything else, in the browser's words.
    Other(String),
}

impl CameraError {
    fn from_js(e: &JsValue) -> Self {
        let field = |name: &str| {
            Reflect::get(e, &JsValue::from_str(name))
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default()
        };
        match field("name").as_str() {
            "NotAllowedError" | "SecurityError" | "PermissionDeniedError" => Self::Refused,
            "NotFoundError" | "OverconstrainedError" | "DevicesNotFoundError" => Self::NoCamera,
            "NotReadableError" | "TrackStartError" | "AbortError" => Self::Busy,
            name => Self::Other(match field("message") {
                m if m.is_empty() => name.to_owned(),
                m => m,
            }),
        }
    }

    /// What the page says.
    pub(super) fn message(&self) -> String {
        match self {
            Self::Insecure => "The camera needs a secure page: open Lookout over HTTPS (or on localhost).".to_owned(),
            Self::Refused => "The camera was not allowed. Allow it for this site in the browser's address bar, then press Camera again.".to_owned(),
            Self::NoCamera => "No camera was found. Connect one, or analyse a video file instead.".to_owned(),
            Self::Busy => "The camera could not be started: another program may be using it.".to_owned(),
            Self::Other(why) => format!("The camera could not be started ({why})."),
        }
    }
}

/// The browser's media devices, if the page may use them.
pub(super) fn media_devices() -> Result<MediaDevices, CameraError> {
    let navigator = web_sys::window().ok_or(CameraError::Insecure)?.navigator();
    let devices = Reflect::get(&navigator, &JsValue::from_str("mediaDevices"))
        .ok()
        .filter(|d| !d.is_undefined() && !d.is_null())
        .ok_or(CameraError::Insecure)?;
    devices.dyn_into().map_err(|_| CameraError::Insecure)
}

/// Asks for a camera: `device` (an id from [`cameras`]), else the back one where there is
/// a choice. Sized like a phone's video; frames are scaled down before they are sent.
pub(super) async fn open(
    devices: &MediaDevices,
    device: Option<&str>,
) -> Result<MediaStream, CameraError> {
    let constraints = constraints(device).map_err(|e| CameraError::from_js(&e))?;
    let promise = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|e| CameraError::from_js(&e))?;
    let stream = JsFuture::from(promise)
        .await
        .map_err(|e| CameraError::from_js(&e))?;
    stream
        .dyn_into::<MediaStream>()
        .map_err(|_| CameraError::Other("no video".to_owned()))
}

fn constraints(device: Option<&str>) -> Result<MediaStreamConstraints, JsValue> {
    let video = Object::new();
    let set = |target: &Object, key: &str, value: &JsValue| {
        Reflect::set(target, &JsValue::from_str(key), value).map(|_| ())
    };
    let ideal = |value: JsValue| -> Result<JsValue, JsValue> {
        let o = Object::new();
        set(&o, "ideal", &value)?;
        Ok(o.into())
    };
    match device {
        Some(id) => {
            let exact = Object::new();
            set(&exact, "exact", &JsValue::from_str(id))?;
            set(&video, "deviceId", &exact)?;
        }
        None => set(
            &video,
            "facingMode",
            &ideal(JsValue::from_str("environment"))?,
        )?,
    }
    set(&video, "width", &ideal(JsValue::from_f64(1280.0))?)?;
    set(&video, "height", &ideal(JsValue::from_f64(720.0))?)?;
    let constraints = Object::new();
    set(&constraints, "video", &video)?;
    set(&constraints, "audio", &JsValue::FALSE)?;
    Ok(constraints.unchecked_into())
}

/// The cameras the browser offers (named once the camera has been allowed).
pub(super) async fn cameras(devices: &MediaDevices) -> Vec<CameraChoice> {
    let Ok(promise) = devices.enumerate_devices() else {
        return Vec::new();
    };
    let Ok(list) = JsFuture::from(promise).await else {
        return Vec::new();
    };
    let text = |d: &JsValue, key: &str| {
        Reflect::get(d, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    js_sys::Array::from(&list)
        .iter()
        .filter(|d| text(d, "kind") == "videoinput")
        .enumerate()
        .map(|(i, d)| CameraChoice {
            id: text(&d, "deviceId"),
            label: match text(&d, "label") {
                l if l.is_empty() => format!("Camera {}", i + 1),
                l => l,
            },
        })
        .filter(|c| !c.id.is_empty())
        .collect()
}

/// Puts `cameras` in the camera picker, `chosen` selected.
pub(super) fn fill_picker(
    select: &HtmlSelectElement,
    cameras: &[CameraChoice],
    chosen: Option<&str>,
) {
    select.set_text_content(None);
    let Ok(document) = super::browser::document() else {
        return;
    };
    for camera in cameras {
        if let Ok(option) = document.create_element("option") {
            let _ = option.set_attribute("value", &camera.id);
            option.set_text_content(Some(&camera.label));
            let _ = select.append_child(&option);
        }
    }
    if let Some(chosen) = chosen {
        select.set_value(chosen);
    }
}

/// The id of the camera `stream` comes from.
pub(super) fn device_of(stream: &MediaStream) -> Option<String> {
    let track = stream.get_video_tracks().get(0);
    let settings = track.dyn_into::<MediaStreamTrack>().ok()?.get_settings();
    Reflect::get(&settings, &JsValue::from_str("deviceId"))
        .ok()?
        .as_string()
}

/// Turns the camera off.
pub(super) fn stop(stream: &MediaStream) {
    for track in stream.get_tracks().iter() {
        if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
            track.stop();
        }
    }
}
