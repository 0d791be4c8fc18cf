//! One colour per class, the same on the canvas, in the legend and in annotated images.

/// Distinct, readable on light and dark backgrounds, and kind to the common colour-vision
/// deficiencies (Okabe-Ito first, then Tableau).
const PALETTE: [(u8, u8, u8); 12] = [
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (240, 228, 66),
    (0, 114, 178),
    (213, 94, 0),
    (204, 121, 167),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
];

/// The colour for a class id as RGB.
pub fn class_rgb(class_id: i64) -> (u8, u8, u8) {
    let i = class_id.rem_euclid(PALETTE.len() as i64) as usize;
    PALETTE[i]
}

/// The colour for a class id as a CSS hex string, e.g. `#e69f00`.
pub fn class_css(class_id: i64) -> String {
    let (r, g, b) = class_rgb(class_id);
    format!("#{r:02x}{g:02x}{b:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_classes_differ_and_ids_wrap() {
        assert_ne!(class_rgb(1), class_rgb(2));
        assert_ne!(class_rgb(2), class_rgb(3));
        assert_eq!(class_rgb(1), class_rgb(13));
        assert_eq!(class_css(0), "#e69f00");
        assert_eq!(class_rgb(-1), class_rgb(11));
    }
}
