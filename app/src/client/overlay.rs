//! The boxes over the live video: a transparent canvas laid exactly over the picture the
//! video element shows (letterboxed inside its box), drawn by the one drawing rule
//! ([`super::paint::Paint`] without a picture) at the screen's pixel ratio. Boxes come in the
//! pixels of the frame as sent and are scaled to the picture on screen.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::HtmlElement;

use super::paint::{context_2d, Paint};
use crate::components::state::Ui;
use crate::draw::Style;
use crate::format;
use crate::types::DetectionOut;

/// Where a `vw` x `vh` picture shows inside a `bw` x `bh` box (`object-fit: contain`):
/// left, top, width, height.
fn contain(bw: f64, bh: f64, vw: f64, vh: f64) -> (f64, f64, f64, f64) {
    if bw <= 0.0 || bh <= 0.0 || vw <= 0.0 || vh <= 0.0 {
        return (0.0, 0.0, 0.0, 0.0);
    }
    let scale = (bw / vw).min(bh / vh);
    let (w, h) = (vw * scale, vh * scale);
    ((bw - w) / 2.0, (bh - h) / 2.0, w, h)
}

/// Lays the overlay over the video's picture and draws the newest answer's boxes that pass
/// the threshold.
pub fn redraw(ui: Ui) {
    let _ = try_redraw(ui);
}

fn try_redraw(ui: Ui) -> Result<(), JsValue> {
    let live = ui.live;
    let (Some(video), Some(canvas), Some(window)) = (
        live.video.get_untracked(),
        live.overlay.get_untracked(),
        web_sys::window(),
    ) else {
        return Ok(());
    };
    let (x, y, w, h) = contain(
        f64::from(video.client_width()),
        f64::from(video.client_height()),
        f64::from(video.video_width()),
        f64::from(video.video_height()),
    );
    let style = Style::at(window.device_pixel_ratio());
    let css = HtmlElement::style(&canvas);
    css.set_property("left", &format!("{x}px"))?;
    css.set_property("top", &format!("{y}px"))?;
    css.set_property("width", &format!("{w}px"))?;
    css.set_property("height", &format!("{h}px"))?;
    let (bw, bh) = (
        (w * style.unit).round().max(1.0) as u32,
        (h * style.unit).round().max(1.0) as u32,
    );
    if canvas.width() != bw {
        canvas.set_width(bw);
    }
    if canvas.height() != bh {
        canvas.set_height(bh);
    }
    let ctx = context_2d(&canvas)?;
    ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)?;
    ctx.clear_rect(0.0, 0.0, f64::from(bw), f64::from(bh));
    let threshold = ui.threshold.get_untracked();
    let frame = live.view.with_untracked(|v| v.frame);
    let drawn = live
        .result
        .with_untracked(|r| -> Result<Option<Drawn>, JsValue> {
            let Some(r) = r else {
                return Ok(None);
            };
            let size = (r.image.width, r.image.height);
            let (fw, fh) = (f64::from(size.0), f64::from(size.1));
            if fw <= 0.0 || fh <= 0.0 || w <= 0.0 {
                return Ok(None);
            }
            let shown: Vec<&DetectionOut> = r
                .detections
                .iter()
                .filter(|d| format::passes(d, threshold))
                .collect();
            Paint {
                ctx: &ctx,
                bitmap: None,
                frame: (fw, fh),
                scale: f64::from(bw) / fw,
                style,
            }
            .draw(&shown, None)?;
            Ok(Some(Drawn {
                frame,
                size,
                boxes: shown.len(),
            }))
        })?;
    // What is drawn, for the browser tests (never read by the page): the frame answered, its
    // size as sent, and the boxes shown.
    let text = |v: Option<String>| v.unwrap_or_default();
    canvas.set_attribute(
        "data-frame",
        &text(drawn.as_ref().map(|d| d.frame.to_string())),
    )?;
    canvas.set_attribute(
        "data-frame-width",
        &text(drawn.as_ref().map(|d| d.size.0.to_string())),
    )?;
    canvas.set_attribute(
        "data-frame-height",
        &text(drawn.as_ref().map(|d| d.size.1.to_string())),
    )?;
    canvas.set_attribute(
        "data-boxes",
        &drawn.map_or_else(|| "0".to_owned(), |d| d.boxes.to_string()),
    )
}

/// What the overlay shows.
struct Drawn {
    frame: u64,
    size: (u32, u32),
    boxes: usize,
}

#[cfg(test)]
mod tests {
    use super::contain;

    #[test]
    fn the_picture_is_letterboxed_in_its_box() {
        assert_eq!(
            contain(800.0, 450.0, 640.0, 480.0),
            (100.0, 0.0, 600.0, 450.0)
        );
        assert_eq!(
            contain(640.0, 480.0, 1280.0, 720.0),
            (0.0, 60.0, 640.0, 360.0)
        );
        assert_eq!(contain(0.0, 480.0, 1280.0, 720.0), (0.0, 0.0, 0.0, 0.0));
    }
}
