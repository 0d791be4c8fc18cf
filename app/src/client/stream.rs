//! The streaming door's client: one WebSocket to `/v1/detect/stream`; each frame goes out as
//! one binary message (an encoded image) and each answer comes back as JSON text: `frame`
//! (the server's count of binary messages), `dropped`, and the `/v1/detect` result or a
//! `problem`. The tab's key travels as the subprotocol `lookout.bearer.<base64url(key)>`
//! beside `lookout` (a browser cannot set headers on a WebSocket, and a key in the URL would
//! end up in logs); the server selects `lookout`.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, CloseEvent, MessageEvent, WebSocket};

use crate::types::{DetectResponse, Problem, UI_SCORE_FLOOR};

/// The streaming door.
pub const PATH: &str = "/v1/detect/stream";
/// The subprotocol the server selects.
const PROTOCOL: &str = "lookout";
/// The key's subprotocol: this, then the key in unpadded base64url.
const KEY_PROTOCOL_PREFIX: &str = "lookout.bearer.";

/// What the socket reports.
pub(super) enum Event {
    Opened,
    Answer(Answer),
    /// The connection ended (`code` and `reason` of the close frame; 1006 when it broke or
    /// never opened).
    Closed {
        code: u16,
        reason: String,
    },
}

/// One answer: to frame `frame` (absent for the answer to a text message).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Answer {
    pub frame: Option<u64>,
    /// Frames the server replaced by newer ones since the previous answer.
    pub dropped: u64,
    pub outcome: Result<DetectResponse, Problem>,
}

/// An open (or opening) stream. Dropping it closes it, and its callbacks are never called
/// again.
pub(super) struct Socket {
    ws: WebSocket,
    _callbacks: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Socket {
    /// Opens a stream to this host for `model` (`None`: the server's default), asking for
    /// every detection above the page's floor (the slider filters the rest), with the tab's
    /// `key` if one was given. `on_event` hears what happens.
    pub(super) fn open(
        model: Option<&str>,
        key: Option<&str>,
        on_event: impl Fn(Event) + 'static,
    ) -> Result<Self, JsValue> {
        let location = web_sys::window()
            .ok_or_else(|| JsValue::from_str("no window"))?
            .location();
        let url = stream_url(&location.protocol()?, &location.host()?, model);
        let protocols = js_sys::Array::of1(&JsValue::from_str(PROTOCOL));
        if let Some(key) = key {
            let offered = format!("{KEY_PROTOCOL_PREFIX}{}", base64url(key.as_bytes()));
            protocols.push(&JsValue::from_str(&offered));
        }
        let ws = WebSocket::new_with_str_sequence(&url, &protocols)?;
        let on_event = Rc::new(on_event);
        let f = Rc::clone(&on_event);
        let opened = Closure::<dyn FnMut(JsValue)>::new(move |_| f(Event::Opened));
        let f = Rc::clone(&on_event);
        let message = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let text = e
                .dyn_ref::<MessageEvent>()
                .and_then(|m| m.data().as_string());
            if let Some(answer) = text.and_then(|t| parse_answer(&t)) {
                f(Event::Answer(answer));
            }
        });
        let f = on_event;
        let closed = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let (code, reason) = e
                .dyn_ref::<CloseEvent>()
                .map(|c| (c.code(), c.reason()))
                .unwrap_or((1006, String::new()));
            f(Event::Closed { code, reason });
        });
        ws.set_onopen(Some(opened.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(closed.as_ref().unchecked_ref()));
        Ok(Self {
            ws,
            _callbacks: vec![opened, message, closed],
        })
    }

    pub(super) fn is_open(&self) -> bool {
        self.ws.ready_state() == WebSocket::OPEN
    }

    /// Sends one frame.
    pub(super) fn send(&self, frame: &Blob) -> Result<(), JsValue> {
        self.ws.send_with_blob(frame)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

/// `ws://host/v1/detect/stream?threshold=0.05&model=...` (`wss:` on an HTTPS page).
fn stream_url(page_protocol: &str, host: &str, model: Option<&str>) -> String {
    let scheme = if page_protocol == "https:" {
        "wss"
    } else {
        "ws"
    };
    let mut url = format!("{scheme}://{host}{PATH}?threshold={UI_SCORE_FLOOR}");
    if let Some(model) = model {
        url.push_str("&model=");
        url.push_str(&percent_encode(model));
    }
    url
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Unpadded base64url (RFC 4648 §5).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// Reads one answer; `None` for text that is not one (nothing the page can use).
fn parse_answer(text: &str) -> Option<Answer> {
    let answer: wire::StreamAnswer = serde_json::from_str(text).ok()?;
    Some(Answer {
        frame: answer.frame,
        dropped: answer.dropped,
        outcome: answer.outcome(),
    })
}

/// What the page says when the stream ends without the page asking: `opened` tells a
/// connection that never opened (refused before the upgrade: a wrong or missing key, an
/// unknown model, too many streams) from one the server closed.
pub(super) fn close_message(code: u16, reason: &str, opened: bool, key_required: bool) -> String {
    if !opened {
        let mut text = "The live stream could not be opened".to_owned();
        if key_required {
            text.push_str(": this server needs an API key; check the key given above");
        } else {
            text.push_str("; the server may be busy or unreachable");
        }
        return format!("{text}. Press Resume to try again.");
    }
    let why = match (code, reason.trim()) {
        (_, reason) if !reason.is_empty() => reason.to_owned(),
        (1001, _) => "the server went away".to_owned(),
        (1009, _) => "a frame was larger than the server accepts".to_owned(),
        (1011, _) => "the server hit a problem".to_owned(),
        (1006, _) => "the connection was lost".to_owned(),
        (code, _) => format!("code {code}"),
    };
    format!("The server closed the stream ({why}, {code}). Press Resume to start again.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_keys() {
        assert_eq!(
            stream_url("http:", "127.0.0.1:3000", None),
            "ws://127.0.0.1:3000/v1/detect/stream?threshold=0.05"
        );
        assert_eq!(
            stream_url("https:", "x.test", Some("my model/2")),
            "wss://x.test/v1/detect/stream?threshold=0.05&model=my%20model%2F2"
        );
        for (raw, want) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("secret", "c2VjcmV0"),
            ("\u{fb}\u{ff}", "w7vDvw"),
        ] {
            assert_eq!(base64url(raw.as_bytes()), want, "{raw:?}");
        }
        assert_eq!(base64url(&[0xfb, 0xff, 0xfe]), "-__-");
    }

    #[test]
    fn answers() {
        let ok = r#"{"frame":3,"dropped":1,"model":{"name":"shapes","layout":"torchvision","sha256":"x","labels":["__background__","red"]},
            "image":{"width":640,"height":480},"detections":[{"label":"red","class_id":1,"score":0.9,"box":{"x1":1,"y1":2,"x2":3,"y2":4}}],
            "timing_ms":{"decode":1,"queue":0,"inference":20,"total":22}}"#;
        let a = parse_answer(ok).unwrap();
        assert_eq!((a.frame, a.dropped), (Some(3), 1));
        let r = a.outcome.unwrap();
        assert_eq!((r.image.width, r.detections.len()), (640, 1));

        let bad = r#"{"frame":4,"dropped":0,"problem":{"type":"urn:lookout:problem:corrupt-image","title":"Corrupt image","status":400,"detail":"the image is truncated"}}"#;
        let a = parse_answer(bad).unwrap();
        assert_eq!(a.outcome.unwrap_err().status, 400);
        let text = parse_answer(
            r#"{"dropped":0,"problem":{"type":"about:blank","title":"x","status":415,"detail":"y"}}"#,
        )
        .unwrap();
        assert_eq!((text.frame, text.outcome.unwrap_err().status), (None, 415));
        assert!(parse_answer("[1]").is_none());
        assert!(parse_answer("not json").is_none());
        assert!(parse_answer(r#"{"frame":1,"dropped":0}"#)
            .unwrap()
            .outcome
            .is_err());
    }

    #[test]
    fn close_messages() {
        assert!(close_message(1006, "", false, true).contains("needs an API key"));
        assert!(!close_message(1006, "", false, false).contains("key"));
        assert_eq!(
            close_message(1001, "the server is shutting down", true, false),
            "The server closed the stream (the server is shutting down, 1001). Press Resume to start again."
        );
        assert!(close_message(1009, "", true, false).contains("larger"));
    }
}
