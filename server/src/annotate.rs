//! Drawing detections onto the image, for `?format=png|jpeg|zip` and the no-JavaScript page.
//! (Which answer a request gets is decided in one place, [`crate::front::respond`].)

use std::io::Cursor;

use crate::error::ApiError;
use crate::front::Detected;

/// The annotated image of a detection, encoded, off the async executor.
pub async fn render(detected: &Detected, format: ImageFormat) -> Result<Vec<u8>, ApiError> {
    let image = std::sync::Arc::clone(&detected.image);
    let detections = detected.response.detections.clone();
    tokio::task::spawn_blocking(move || encode(&draw(&image, &detections), format))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

use image::{ImageFormat, Rgb, RgbImage};

use app::types::DetectionOut;

/// Boxes and labels in each class's palette colour, scaled to the image so they stay legible.
pub fn draw(image: &RgbImage, detections: &[DetectionOut]) -> RgbImage {
    let mut canvas = image.clone();
    let (w, h) = canvas.dimensions();
    let short = w.min(h);
    let thickness = (short / 200).clamp(2, 8);
    let text_scale = (short / 320).clamp(1, 4);
    // Draw the weakest first so the strongest boxes end on top.
    for detection in detections.iter().rev() {
        let (r, g, b) = app::palette::class_rgb(detection.class_id);
        let colour = Rgb([r, g, b]);
        let bx = detection.bbox;
        let x1 = bx.x1.max(0.0).round() as i64;
        let y1 = bx.y1.max(0.0).round() as i64;
        let x2 = bx.x2.round() as i64;
        let y2 = bx.y2.round() as i64;
        for t in 0..i64::from(thickness) {
            outline(&mut canvas, x1 + t, y1 + t, x2 - 1 - t, y2 - 1 - t, colour);
        }
        let text = format!("{} {:.0}%", detection.label, detection.score * 100.0);
        let glyph = 8 * i64::from(text_scale);
        let pad = i64::from(text_scale);
        let label_h = glyph + 2 * pad;
        let label_w = glyph * text.chars().count() as i64 + 2 * pad;
        // Above the box when there is room, else inside its top edge.
        let ly = if y1 >= label_h { y1 - label_h } else { y1 };
        fill(&mut canvas, x1, ly, x1 + label_w, ly + label_h, colour);
        let ink = if luminance(r, g, b) > 140.0 {
            Rgb([0, 0, 0])
        } else {
            Rgb([255, 255, 255])
        };
        text_at(&mut canvas, x1 + pad, ly + pad, &text, text_scale, ink);
    }
    canvas
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

fn luminance(r: u8, g: u8, b: u8) -> f32 {
    0.299 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b)
}

fn put(canvas: &mut RgbImage, x: i64, y: i64, colour: Rgb<u8>) {
    if x >= 0 && y >= 0 && x < i64::from(canvas.width()) && y < i64::from(canvas.height()) {
        canvas.put_pixel(x as u32, y as u32, colour);
    }
}

fn outline(canvas: &mut RgbImage, x1: i64, y1: i64, x2: i64, y2: i64, colour: Rgb<u8>) {
    if x2 < x1 || y2 < y1 {
        return;
    }
    for x in x1..=x2 {
        put(canvas, x, y1, colour);
        put(canvas, x, y2, colour);
    }
    for y in y1..=y2 {
        put(canvas, x1, y, colour);
        put(canvas, x2, y, colour);
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
}
