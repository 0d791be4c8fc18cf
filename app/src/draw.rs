//! How a detection is drawn: one rule for the page's canvas and the server's annotated
//! PNG/JPEG, so a downloaded picture matches the screen. Pure arithmetic; each side only
//! rasterises (the canvas with the browser's font, the server with a bitmap font).
//!
//! The rule: a box is stroked in its class's colour, the stroke centred on the box's edge;
//! its label (`name 0.93`) sits on a tag of the same colour above the box when there is
//! room, else below it, else just inside its top edge, never outside the picture; the text
//! is dark on light colours and white on dark ones; weaker boxes are drawn first, so
//! stronger ones (and the highlighted one) end up on top.

use crate::types::DetectionOut;

/// Line width of a box, in CSS pixels (the `unit`).
pub const LINE: f64 = 2.0;
/// Line width of the highlighted box.
pub const ACTIVE_LINE: f64 = 3.0;
/// Label text height.
pub const FONT: f64 = 12.0;
/// Space around the label text on its tag.
pub const PAD: f64 = 4.0;
/// An image at its own resolution is drawn as it looks on a screen this many pixels wide.
pub const REFERENCE_SIDE: f64 = 900.0;
/// Labels on colours lighter than this get dark text.
pub const LIGHT_LUMINANCE: f64 = 140.0;
/// Dark label text.
pub const DARK_INK: (u8, u8, u8) = (17, 17, 17);
/// Light label text.
pub const LIGHT_INK: (u8, u8, u8) = (255, 255, 255);

/// Sizes in device pixels for one drawing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Device pixels per CSS pixel.
    pub unit: f64,
    pub line: f64,
    pub active_line: f64,
    pub font: f64,
    pub pad: f64,
}

impl Style {
    /// Sizes for `unit` device pixels per CSS pixel (the screen's `devicePixelRatio`).
    pub fn at(unit: f64) -> Self {
        let unit = if unit.is_finite() && unit > 0.0 {
            unit
        } else {
            1.0
        };
        Self {
            unit,
            line: (LINE * unit).round().max(1.0),
            active_line: (ACTIVE_LINE * unit).round().max(1.0),
            font: (FONT * unit).round().max(1.0),
            pad: (PAD * unit).round(),
        }
    }

    /// Sizes for drawing on an image at its own resolution (downloads, annotated images).
    pub fn for_image(width: u32, height: u32) -> Self {
        Self::at((f64::from(width.max(height)) / REFERENCE_SIDE).max(1.0))
    }

    /// The height of a label's tag.
    pub fn tag_height(&self) -> f64 {
        self.font + 2.0 * self.pad
    }
}

/// The perceived brightness of a colour, 0..255.
pub fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
    0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b)
}

/// The colour of label text on a tag of colour `tag`.
pub fn ink(tag: (u8, u8, u8)) -> (u8, u8, u8) {
    if luminance(tag) > LIGHT_LUMINANCE {
        DARK_INK
    } else {
        LIGHT_INK
    }
}

/// What a box's label says: `red_rectangle 0.93`.
pub fn label_text(d: &DetectionOut) -> String {
    format!("{} {:.2}", d.label, d.score)
}

/// A rectangle in device pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// A detection's box on a drawing `scale` device pixels per image pixel, snapped to whole
/// pixels, at least one pixel wide and high.
pub fn box_rect(d: &DetectionOut, scale: f64) -> Rect {
    let b = d.bbox;
    let x1 = (f64::from(b.x1) * scale).round();
    let y1 = (f64::from(b.y1) * scale).round();
    let x2 = (f64::from(b.x2) * scale).round();
    let y2 = (f64::from(b.y2) * scale).round();
    Rect {
        x: x1,
        y: y1,
        w: (x2 - x1).max(1.0),
        h: (y2 - y1).max(1.0),
    }
}

/// Where a label tag `tag_w` x `tag_h` goes for box `b` stroked `line` wide, on a picture
/// `frame_w` x `frame_h`: above the box when there is room, else below it, else just
/// inside its top edge; shifted left or up as needed to stay on the picture.
pub fn tag_rect(b: Rect, tag_w: f64, tag_h: f64, line: f64, frame_w: f64, frame_h: f64) -> Rect {
    let x = (b.x - line / 2.0).min(frame_w - tag_w).max(0.0);
    let above = b.y - line / 2.0 - tag_h;
    let below = b.y + b.h + line / 2.0;
    let y = if above >= 0.0 {
        above
    } else if below + tag_h <= frame_h {
        below
    } else {
        (b.y + line / 2.0).min(frame_h - tag_h).max(0.0)
    };
    Rect {
        x,
        y,
        w: tag_w,
        h: tag_h,
    }
}

/// The order to draw `detections` (indices into the slice): weakest first, the highlighted
/// one (`active`, an index into the slice) last.
pub fn paint_order(detections: &[&DetectionOut], active: Option<usize>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..detections.len()).collect();
    order.sort_by(|a, b| detections[*a].score.total_cmp(&detections[*b].score));
    if let Some(a) = active {
        order.sort_by_key(|i| *i == a);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::BoxPx;

    fn det(score: f32, b: [f32; 4]) -> DetectionOut {
        DetectionOut {
            label: "thing".into(),
            class_id: 1,
            score,
            bbox: BoxPx {
                x1: b[0],
                y1: b[1],
                x2: b[2],
                y2: b[3],
            },
        }
    }

    #[test]
    fn sizes_scale_with_the_unit_and_the_image() {
        let s = Style::at(2.0);
        assert_eq!(
            (s.line, s.active_line, s.font, s.pad),
            (4.0, 6.0, 24.0, 8.0)
        );
        assert_eq!(Style::at(f64::NAN), Style::at(1.0));
        assert_eq!(Style::for_image(640, 480), Style::at(1.0));
        assert_eq!(Style::for_image(4000, 3000).unit, 4000.0 / 900.0);
        assert_eq!(Style::at(1.0).tag_height(), 20.0);
    }

    #[test]
    fn text_is_dark_on_light_tags_and_white_on_dark_ones() {
        assert_eq!(ink((240, 228, 66)), DARK_INK);
        assert_eq!(ink((0, 114, 178)), LIGHT_INK);
        assert_eq!(label_text(&det(0.934, [0.0; 4])), "thing 0.93");
    }

    #[test]
    fn tags_go_above_then_below_then_inside_and_stay_on_the_picture() {
        let table = [
            // box, expected tag y
            ([10.0, 50.0, 60.0, 90.0], 50.0 - 1.0 - 20.0),
            ([10.0, 5.0, 60.0, 40.0], 40.0 + 1.0),
            ([10.0, 5.0, 60.0, 95.0], 5.0 + 1.0),
        ];
        for (b, y) in table {
            let r = box_rect(&det(0.9, b), 1.0);
            let tag = tag_rect(r, 30.0, 20.0, 2.0, 100.0, 100.0);
            assert_eq!(tag.y, y, "{b:?}");
        }
        // Near the right edge the tag shifts left.
        let r = box_rect(&det(0.9, [90.0, 50.0, 99.0, 60.0]), 1.0);
        assert_eq!(tag_rect(r, 30.0, 20.0, 2.0, 100.0, 100.0).x, 70.0);
    }

    #[test]
    fn boxes_snap_and_strong_ones_paint_last() {
        let a = det(0.3, [1.4, 2.6, 3.0, 2.6]);
        let b = det(0.9, [0.0; 4]);
        let c = det(0.5, [0.0; 4]);
        assert_eq!(
            box_rect(&a, 2.0),
            Rect {
                x: 3.0,
                y: 5.0,
                w: 3.0,
                h: 1.0
            }
        );
        assert_eq!(paint_order(&[&a, &b, &c], None), vec![0, 2, 1]);
        assert_eq!(paint_order(&[&a, &b, &c], Some(0)), vec![2, 1, 0]);
    }
}
