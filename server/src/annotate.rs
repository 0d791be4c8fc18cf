//! Drawing detections onto the image, for `?format=png|jpeg|zip` and the no-JavaScript page.
//! (Which answer a request gets is decided in one place, [`crate::front::respond`].)

use std::io::Cursor;
use std::sync::Arc;

use app::draw::{self as rule, Rect, Style};
use app::types::DetectionOut;
use image::{ImageFormat, Rgb, RgbImage};

use crate::error::ApiError;

/// `image` with `detections` drawn on it, encoded, off the async executor.
pub async fn render(
    image: Arc<RgbImage>,
    detections: Vec<DetectionOut>,
    format: ImageFormat,
) -> Result<Vec<u8>, ApiError> {
    tokio::task::spawn_blocking(move || encode(&draw(&image, &detections), format))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Boxes and labels drawn by the page's own rule ([`app::draw`]): the same colours, line
/// widths, label text, label placement and text colour as the canvas and its "Download PNG",
/// at the image's own resolution. (The text is an 8x8 bitmap font scaled to the label size.)
pub fn draw(image: &RgbImage, detections: &[DetectionOut]) -> RgbImage {
    let mut canvas = image.clone();
    let (w, h) = canvas.dimensions();
    let style = Style::for_image(w, h);
    let refs: Vec<&DetectionOut> = detections.iter().collect();
    let order = rule::paint_order(&refs, None);
    for &i in &order {
        let d = refs[i];
        stroke(&mut canvas, rule::box_rect(d, 1.0), style.line, colour(d));
    }
    let glyph_scale = (style.font / 8.0).floor().max(1.0);
    for &i in &order {
        let d = refs[i];
        let text = rule::label_text(d);
        let text_w = 8.0 * glyph_scale * text.chars().count() as f64;
        let tag = rule::tag_rect(
            rule::box_rect(d, 1.0),
            text_w + 2.0 * style.pad,
            style.tag_height().max(8.0 * glyph_scale),
            style.line,
            f64::from(w),
            f64::from(h),
        );
        let (x, y) = (tag.x.round() as i64, tag.y.round() as i64);
        let (x2, y2) = (
            (tag.x + tag.w).round() as i64,
            (tag.y + tag.h).round() as i64,
        );
        fill(&mut canvas, x, y, x2, y2, colour(d));
        let (r, g, b) = rule::ink(app::palette::class_rgb(d.class_id));
        let text_y = tag.y + (tag.h - 8.0 * glyph_scale) / 2.0;
        text_at(
            &mut canvas,
            (tag.x + style.pad).round() as i64,
            text_y.round() as i64,
            &text,
            glyph_scale as u32,
            Rgb([r, g, b]),
        );
    }
    canvas
}

fn colour(d: &DetectionOut) -> Rgb<u8> {
    let (r, g, b) = app::palette::class_rgb(d.class_id);
    Rgb([r, g, b])
}

/// A box's outline, `line` pixels wide and centred on its edge (as a canvas strokes it).
fn stroke(canvas: &mut RgbImage, r: Rect, line: f64, colour: Rgb<u8>) {
    let half = line / 2.0;
    let px = |v: f64| v.round() as i64;
    let (ox1, oy1, ox2, oy2) = (
        px(r.x - half),
        px(r.y - half),
        px(r.x + r.w + half),
        px(r.y + r.h + half),
    );
    let (ix1, iy1, ix2, iy2) = (
        px(r.x + half),
        px(r.y + half),
        px(r.x + r.w - half),
        px(r.y + r.h - half),
    );
    if ix2 <= ix1 || iy2 <= iy1 {
        fill(canvas, ox1, oy1, ox2, oy2, colour);
        return;
    }
    fill(canvas, ox1, oy1, ox2, iy1, colour);
    fill(canvas, ox1, iy2, ox2, oy2, colour);
    fill(canvas, ox1, iy1, ix1, iy2, colour);
    fill(canvas, ix2, iy1, ox2, iy2, colour);
}

/// Encodes as PNG or JPEG (quality 90).
pub fn encode(image: &RgbImage, format: ImageFormat) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => {
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
            image.write_with_encoder(encoder)?;
        }
        _ => image.write_to(&mut out, ImageFormat::Png)?,
    }
    Ok(out.into_inner())
}

fn put(canvas: &mut RgbImage, x: i64, y: i64, colour: Rgb<u8>) {
    if x >= 0 && y >= 0 && x < i64::from(canvas.width()) && y < i64::from(canvas.height()) {
        canvas.put_pixel(x as u32, y as u32, colour);
    }
}

fn fill(canvas: &mut RgbImage, x1: i64, y1: i64, x2: i64, y2: i64, colour: Rgb<u8>) {
    let (w, h) = (i64::from(canvas.width()), i64::from(canvas.height()));
    for y in y1.max(0)..y2.min(h) {
        for x in x1.max(0)..x2.min(w) {
            canvas.put_pixel(x as u32, y as u32, colour);
        }
    }
}

fn text_at(canvas: &mut RgbImage, x: i64, y: i64, text: &str, scale: u32, colour: Rgb<u8>) {
    use font8x8::UnicodeFonts;
    let scale = i64::from(scale);
    for (i, ch) in text.chars().enumerate() {
        let glyph = font8x8::BASIC_FONTS
            .get(ch)
            .or_else(|| font8x8::BASIC_FONTS.get('?'))
            .unwrap_or([0; 8]);
        let gx = x + i as i64 * 8 * scale;
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) != 0 {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            put(
                                canvas,
                                gx + col * scale + dx,
                                y + row as i64 * scale + dy,
                                colour,
                            );
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::types::BoxPx;

    #[test]
    fn box_edges_take_the_class_colour() {
        let image = RgbImage::from_pixel(400, 300, Rgb([128, 128, 128]));
        let detection = DetectionOut {
            label: "thing".into(),
            class_id: 2,
            score: 0.9,
            bbox: BoxPx {
                x1: 100.0,
                y1: 100.0,
                x2: 200.0,
                y2: 250.0,
            },
        };
        let out = draw(&image, &[detection]);
        let (r, g, b) = app::palette::class_rgb(2);
        assert_eq!(out.get_pixel(100, 180), &Rgb([r, g, b]), "left edge");
        assert_eq!(out.get_pixel(199, 180), &Rgb([r, g, b]), "right edge");
        assert_eq!(
            out.get_pixel(150, 180),
            &Rgb([128, 128, 128]),
            "inside untouched"
        );
        let png = encode(&out, ImageFormat::Png).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn labels_follow_the_page_rule() {
        // A light class (yellow, dark text) near the top: no room above, so below the box;
        // a dark class (blue, white text) lower down: above it.
        let image = RgbImage::from_pixel(400, 300, Rgb([128, 128, 128]));
        let det = |class_id, y1, y2| DetectionOut {
            label: "thing".into(),
            class_id,
            score: 0.9,
            bbox: BoxPx {
                x1: 50.0,
                y1,
                x2: 150.0,
                y2,
            },
        };
        let (light, dark) = (3, 4);
        assert_eq!(
            app::draw::ink(app::palette::class_rgb(light)),
            app::draw::DARK_INK
        );
        assert_eq!(
            app::draw::ink(app::palette::class_rgb(dark)),
            app::draw::LIGHT_INK
        );
        let out = draw(&image, &[det(light, 5.0, 60.0), det(dark, 150.0, 250.0)]);
        let style = Style::for_image(400, 300);
        let tag_h = style.tag_height();
        let rgb = |c| {
            let (r, g, b) = app::palette::class_rgb(c);
            Rgb([r, g, b])
        };
        // The tag's colour just under the light box (its left edge, clear of the text)...
        assert_eq!(
            out.get_pixel(50, (60.0 + 1.0 + tag_h / 2.0) as u32),
            &rgb(light)
        );
        // ...and just above the dark one.
        assert_eq!(
            out.get_pixel(50, (150.0 - 1.0 - tag_h / 2.0) as u32),
            &rgb(dark)
        );
        // The text is drawn in the ink colour somewhere on each tag.
        let inked = |c: i64, y0: f64| {
            let (r, g, b) = app::draw::ink(app::palette::class_rgb(c));
            (50..150).any(|x| {
                (0..tag_h as u32).any(|dy| out.get_pixel(x, y0 as u32 + dy) == &Rgb([r, g, b]))
            })
        };
        assert!(inked(light, 61.0), "dark text on the light tag");
        assert!(
            inked(dark, 150.0 - 1.0 - tag_h),
            "white text on the dark tag"
        );
    }
}
