//! Drawing a picture and its boxes on a 2D canvas by the one drawing rule
//! ([`crate::draw`]): the page's canvas (sized to its place, at the screen's pixel ratio),
//! full-resolution copies for downloads and exports, and the boxes alone over a live video
//! ([`super::overlay`]).

use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, HtmlElement, ImageBitmap};

use crate::components::state::Ui;
use crate::draw::{self, Style};
use crate::palette::class_rgb;
use crate::types::DetectionOut;

/// The canvas never gets taller than this share of the window.
const MAX_CANVAS_HEIGHT_SHARE: f64 = 0.72;
/// The label font (its size comes from [`Style`]).
const FONT_FAMILY: &str = "system-ui, -apple-system, \"Segoe UI\", Roboto, sans-serif";

/// One drawing: a picture, its frame (the server's image size) and the sizes to draw at.
pub(super) struct Paint<'a> {
    pub ctx: &'a CanvasRenderingContext2d,
    /// The picture; `None`: the boxes alone, on a transparent canvas (over a video).
    pub bitmap: Option<&'a ImageBitmap>,
    /// The image frame (the server's width and height).
    pub frame: (f64, f64),
    /// Canvas pixels per image pixel.
    pub scale: f64,
    pub style: Style,
}

impl Paint<'_> {
    /// Draws the picture and `detections`; `active` (an index into `detections`) is
    /// highlighted: everything else is dimmed.
    pub fn draw(&self, detections: &[&DetectionOut], active: Option<usize>) -> Result<(), JsValue> {
        let ctx = self.ctx;
        let (fw, fh) = self.frame;
        let (w, h) = (fw * self.scale, fh * self.scale);
        ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)?;
        ctx.clear_rect(0.0, 0.0, w, h);
        if let Some(bitmap) = self.bitmap {
            ctx.set_image_smoothing_enabled(true);
            ctx.draw_image_with_image_bitmap_and_dw_and_dh(bitmap, 0.0, 0.0, w, h)?;
        }

        if let Some((d, bitmap)) = active.and_then(|a| detections.get(a)).zip(self.bitmap) {
            ctx.set_fill_style_str("rgba(0, 0, 0, 0.45)");
            ctx.fill_rect(0.0, 0.0, w, h);
            let r = draw::box_rect(d, self.scale);
            let sx = f64::from(bitmap.width()) / fw;
            let sy = f64::from(bitmap.height()) / fh;
            ctx.draw_image_with_image_bitmap_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
                bitmap,
                r.x / self.scale * sx,
                r.y / self.scale * sy,
                r.w / self.scale * sx,
                r.h / self.scale * sy,
                r.x,
                r.y,
                r.w,
                r.h,
            )?;
        }

        let order = draw::paint_order(detections, active);
        ctx.set_line_join("miter");
        for &i in &order {
            let r = draw::box_rect(detections[i], self.scale);
            let line = if Some(i) == active {
                self.style.active_line
            } else {
                self.style.line
            };
            ctx.set_line_width(line);
            ctx.set_stroke_style_str(&rgb_css(class_rgb(detections[i].class_id)));
            ctx.stroke_rect(r.x, r.y, r.w, r.h);
        }
        ctx.set_font(&format!("600 {}px {FONT_FAMILY}", self.style.font));
        ctx.set_text_baseline("middle");
        for &i in &order {
            self.label(detections[i])?;
        }
        Ok(())
    }

    fn label(&self, d: &DetectionOut) -> Result<(), JsValue> {
        let ctx = self.ctx;
        let s = self.style;
        let text = draw::label_text(d);
        let tag_w = ctx.measure_text(&text)?.width() + 2.0 * s.pad;
        let (fw, fh) = self.frame;
        let tag = draw::tag_rect(
            draw::box_rect(d, self.scale),
            tag_w,
            s.tag_height(),
            s.line,
            fw * self.scale,
            fh * self.scale,
        );
        let rgb = class_rgb(d.class_id);
        ctx.set_fill_style_str(&rgb_css(rgb));
        ctx.fill_rect(tag.x, tag.y, tag.w, tag.h);
        ctx.set_fill_style_str(&rgb_css(draw::ink(rgb)));
        ctx.fill_text(&text, tag.x + s.pad, tag.y + tag.h / 2.0 + s.unit * 0.5)
    }
}

fn rgb_css((r, g, b): (u8, u8, u8)) -> String {
    format!("rgb({r}, {g}, {b})")
}

pub(super) fn context_2d(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, JsValue> {
    canvas
        .get_context("2d")?
        .ok_or_else(|| JsValue::from_str("no 2D canvas"))?
        .dyn_into::<CanvasRenderingContext2d>()
        .map_err(|_| JsValue::from_str("no 2D canvas"))
}

/// A result's frame (the server's image size), else the decoded size.
pub(super) fn frame_of(size: Option<(u32, u32)>, bitmap: &ImageBitmap) -> (f64, f64) {
    size.map(|(w, h)| (f64::from(w), f64::from(h)))
        .filter(|(w, h)| *w > 0.0 && *h > 0.0)
        .unwrap_or((f64::from(bitmap.width()), f64::from(bitmap.height())))
}

/// The visible detections of the result on screen, with their indices.
fn visible_detections(ui: Ui) -> Vec<(usize, DetectionOut)> {
    let visible = ui.visible.get_untracked();
    ui.shown.with_untracked(|s| {
        s.as_ref()
            .map(|s| {
                visible
                    .iter()
                    .filter_map(|i| s.response.detections.get(*i).map(|d| (*i, d.clone())))
                    .collect()
            })
            .unwrap_or_default()
    })
}

pub(super) fn schedule_redraw(ui: Ui) {
    request_animation_frame(move || redraw(ui));
}

/// Sizes the canvas to its place in the page (times devicePixelRatio) and draws.
pub fn redraw(ui: Ui) {
    if let Err(e) = try_redraw(ui) {
        ui.notice.set(Some(format!(
            "The image could not be drawn ({}).",
            super::browser::js_error_text(&e)
        )));
    }
}

fn try_redraw(ui: Ui) -> Result<(), JsValue> {
    let (Some(canvas), Some(stage), Some(window), Some(client), Some(id)) = (
        ui.canvas.get_untracked(),
        ui.stage.get_untracked(),
        web_sys::window(),
        ui.client(),
        ui.current.get_untracked(),
    ) else {
        return Ok(());
    };
    let size = ui.shown.with_untracked(|s| {
        s.as_ref()
            .map(|s| (s.response.image.width, s.response.image.height))
    });
    let detections = visible_detections(ui);
    let refs: Vec<&DetectionOut> = detections.iter().map(|(_, d)| d).collect();
    let active = ui.active.get_untracked();
    let active_pos = active.and_then(|a| detections.iter().position(|(i, _)| *i == a));
    let drawn = super::bitmap::with_bitmap(ui, id, |bitmap| -> Result<(), JsValue> {
        let (fw, fh) = frame_of(size, bitmap);
        let available = f64::from(stage.client_width());
        client.stage_width.set_value(available);
        if available <= 0.0 {
            return Ok(());
        }
        let window_h = window.inner_height()?.as_f64().unwrap_or(800.0);
        let max_h = (window_h * MAX_CANVAS_HEIGHT_SHARE).max(240.0);
        let css_w = available.min(max_h * fw / fh).floor().max(1.0);
        let css_h = (css_w * fh / fw).round().max(1.0);
        let style = Style::at(window.device_pixel_ratio());
        let css = HtmlElement::style(&canvas);
        css.set_property("width", &format!("{css_w}px"))?;
        css.set_property("height", &format!("{css_h}px"))?;
        let (bw, bh) = (
            (css_w * style.unit).round() as u32,
            (css_h * style.unit).round() as u32,
        );
        if canvas.width() != bw {
            canvas.set_width(bw);
        }
        if canvas.height() != bh {
            canvas.set_height(bh);
        }
        let ctx = context_2d(&canvas)?;
        Paint {
            ctx: &ctx,
            bitmap: Some(bitmap),
            frame: (fw, fh),
            scale: f64::from(bw) / fw,
            style,
        }
        .draw(&refs, active_pos)?;
        canvas.set_attribute("data-frame-width", &fw.to_string())?;
        canvas.set_attribute("data-frame-height", &fh.to_string())
    });
    let Some(drawn) = drawn else {
        return Ok(());
    };
    drawn?;
    // What is on the canvas now, for the browser tests (never read by the page).
    let boxes = if size.is_some() {
        refs.len().to_string()
    } else {
        "pending".to_owned()
    };
    canvas.set_attribute("data-boxes", &boxes)?;
    canvas.set_attribute(
        "data-active",
        &active.map(|a| a.to_string()).unwrap_or_default(),
    )?;
    canvas.set_attribute("data-request", &id.to_string())
}

/// The pointer moved over the canvas: highlight the smallest box under it.
pub fn canvas_hover(ui: Ui, ev: ev::MouseEvent) {
    let Some(canvas) = ui.canvas.get_untracked() else {
        return;
    };
    let Some((fw, fh)) = ui.shown.with_untracked(|s| {
        s.as_ref().map(|s| {
            (
                f64::from(s.response.image.width),
                f64::from(s.response.image.height),
            )
        })
    }) else {
        return;
    };
    let rect = canvas.get_bounding_client_rect();
    if rect.width() <= 0.0 || rect.height() <= 0.0 {
        return;
    }
    let x = (f64::from(ev.client_x()) - rect.left()) / rect.width() * fw;
    let y = (f64::from(ev.client_y()) - rect.top()) / rect.height() * fh;
    let hit = visible_detections(ui)
        .into_iter()
        .filter(|(_, d)| {
            let b = d.bbox;
            x >= f64::from(b.x1)
                && x <= f64::from(b.x2)
                && y >= f64::from(b.y1)
                && y <= f64::from(b.y2)
        })
        .min_by(|a, b| area(&a.1).total_cmp(&area(&b.1)))
        .map(|(i, _)| i);
    if ui.active.get_untracked() != hit {
        ui.active.set(hit);
    }
}

fn area(d: &DetectionOut) -> f64 {
    let b = d.bbox;
    f64::from(b.x2 - b.x1).max(0.0) * f64::from(b.y2 - b.y1).max(0.0)
}

/// On a small screen the result appears below the fold: bring it into view once.
pub(super) fn reveal_result(ui: Ui) {
    request_animation_frame(move || {
        let (Some(section), Some(window)) = (ui.result.get_untracked(), web_sys::window()) else {
            return;
        };
        let height = window
            .inner_height()
            .ok()
            .and_then(|h| h.as_f64())
            .unwrap_or(0.0);
        if section.get_bounding_client_rect().top() > height - 80.0 {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Start);
            options.set_behavior(web_sys::ScrollBehavior::Instant);
            section.scroll_into_view_with_scroll_into_view_options(&options);
        }
    });
}
