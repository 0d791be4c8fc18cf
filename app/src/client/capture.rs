//! Turning the video's current picture into a frame to send: scaled so that its long side is
//! at most [`LONG_SIDE`] pixels (the demo model works at that size, and a camera's full
//! picture would only cost bandwidth and decoding), encoded as JPEG.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, HtmlCanvasElement, HtmlVideoElement};

use super::paint::context_2d;

/// The longest side of a frame sent, in pixels.
pub(super) const LONG_SIDE: u32 = 640;
/// JPEG quality of the frames sent.
const QUALITY: f64 = 0.8;

/// The size a `width` x `height` picture is sent at: never enlarged, the aspect kept.
pub(super) fn frame_size(width: u32, height: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= LONG_SIDE || long == 0 {
        return (width.max(1), height.max(1));
    }
    let scale = f64::from(LONG_SIDE) / f64::from(long);
    let fit = |side: u32| ((f64::from(side) * scale).round() as u32).clamp(1, LONG_SIDE);
    (fit(width), fit(height))
}

/// Draws the video's current picture on `canvas` at the size it is sent at, and encodes it.
pub(super) async fn frame(
    canvas: &HtmlCanvasElement,
    video: &HtmlVideoElement,
) -> Result<Blob, JsValue> {
    let (w, h) = frame_size(video.video_width(), video.video_height());
    if canvas.width() != w {
        canvas.set_width(w);
    }
    if canvas.height() != h {
        canvas.set_height(h);
    }
    let ctx = context_2d(canvas)?;
    ctx.draw_image_with_html_video_element_and_dw_and_dh(
        video,
        0.0,
        0.0,
        f64::from(w),
        f64::from(h),
    )?;
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        if let Err(e) = canvas.to_blob_with_type_and_encoder_options(
            &resolve,
            "image/jpeg",
            &JsValue::from_f64(QUALITY),
        ) {
            let _ = reject.call1(&JsValue::NULL, &e);
        }
    });
    JsFuture::from(promise)
        .await?
        .dyn_into::<Blob>()
        .map_err(|_| JsValue::from_str("the browser made no JPEG"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_scaled_to_the_long_side() {
        assert_eq!(frame_size(1280, 720), (640, 360));
        assert_eq!(frame_size(720, 1280), (360, 640));
        assert_eq!(frame_size(1920, 1080), (640, 360));
        assert_eq!(frame_size(640, 480), (640, 480));
        assert_eq!(frame_size(320, 240), (320, 240));
        assert_eq!(frame_size(4000, 10), (640, 2));
        assert_eq!(frame_size(0, 0), (1, 1));
    }
}
