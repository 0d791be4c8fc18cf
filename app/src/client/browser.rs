//! Small helpers over the browser's API that every part of the browser code uses.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Words for a JavaScript error.
pub(super) fn js_error_text(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        String::from(err.message())
    } else if let Some(s) = e.as_string() {
        s
    } else {
        "unknown error".to_owned()
    }
}

pub(super) fn document() -> Result<web_sys::Document, JsValue> {
    web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("no document"))
}
