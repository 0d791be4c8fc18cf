//! Pascal VOC: a ZIP with `Annotations/<stem>.xml` for every image (no `object` when nothing
//! was kept): `folder` `images`, `filename`, `size` (width, height, depth 3), `segmented` 0,
//! and per box an `object` with `name`, `pose` Unspecified, `truncated` 0, `difficult` 0 and
//! `bndbox` xmin/ymin/xmax/ymax.
//!
//! Coordinates are whole pixels, as VOC tools expect: each box edge is rounded to the nearest
//! integer (halves away from zero), so no edge moves more than 0.5 px. They are written as they
//! are in Lookout, 0-based pixel edges, without the +1 of the original VOC devkit's 1-based
//! convention (which labelImg, CVAT and most readers do not apply either). No score is
//! written: VOC has no field for it.

use std::fmt::Write;

use super::{Image, Prepared};

pub(super) fn files(set: &Prepared<'_>) -> Vec<(String, Vec<u8>)> {
    set.images
        .iter()
        .map(|im| {
            (
                format!("Annotations/{}.xml", im.stem),
                annotation(set, im).into_bytes(),
            )
        })
        .collect()
}

fn annotation(set: &Prepared<'_>, im: &Image<'_>) -> String {
    let mut out = String::from("<annotation>\n\t<folder>images</folder>\n");
    let _ = writeln!(out, "\t<filename>{}</filename>", xml_text(&im.name));
    out.push_str("\t<source>\n\t\t<database>Lookout</database>\n\t</source>\n");
    let _ = writeln!(
        out,
        "\t<size>\n\t\t<width>{}</width>\n\t\t<height>{}</height>\n\t\t<depth>3</depth>\n\t</size>",
        im.width, im.height
    );
    out.push_str("\t<segmented>0</segmented>\n");
    for d in &im.dets {
        let _ = writeln!(
            out,
            "\t<object>\n\t\t<name>{}</name>\n\t\t<pose>Unspecified</pose>\n\
             \t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n\
             \t\t<bndbox>\n\t\t\t<xmin>{}</xmin>\n\t\t\t<ymin>{}</ymin>\n\
             \t\t\t<xmax>{}</xmax>\n\t\t\t<ymax>{}</ymax>\n\t\t</bndbox>\n\t</object>",
            xml_text(set.class_name(d)),
            px(d.x1),
            px(d.y1),
            px(d.x2),
            px(d.y2),
        );
    }
    out.push_str("</annotation>\n");
    out
}

/// A coordinate in whole pixels; clamped to the image before, so it fits.
fn px(v: f32) -> i64 {
    v.round() as i64
}

/// Text escaped for XML 1.0; characters XML cannot carry at all become U+FFFD.
fn xml_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}' => {
                out.push(c)
            }
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{det, labels, unzip};
    use super::super::{export, ExportFormat, ExportImage};
    use super::*;

    #[test]
    fn one_annotation_per_image() {
        let names = labels(&["__background__", "a<b>&\"c'"]);
        let a = [
            det("a<b>&\"c'", 1, 0.7, [10.4, 10.5, 20.6, 29.49]),
            det("a<b>&\"c'", 1, 0.1, [0.0, 0.0, 1.0, 1.0]), // below the threshold
        ];
        let images = [
            ExportImage {
                file_name: "../R&D <1>.jpg",
                width: 64,
                height: 48,
                detections: &a,
            },
            ExportImage {
                file_name: "empty.png",
                width: 8,
                height: 8,
                detections: &[],
            },
        ];
        let e = export(ExportFormat::Voc, &images, &names, 0.5).unwrap();
        let files = unzip(&e.bytes);
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].0, "Annotations/R&D _1_.xml");
        assert_eq!(
            files[0].1,
            "<annotation>\n\t<folder>images</folder>\n\t<filename>R&amp;D _1_.jpg</filename>\n\
             \t<source>\n\t\t<database>Lookout</database>\n\t</source>\n\
             \t<size>\n\t\t<width>64</width>\n\t\t<height>48</height>\n\t\t<depth>3</depth>\n\t</size>\n\
             \t<segmented>0</segmented>\n\
             \t<object>\n\t\t<name>a&lt;b&gt;&amp;&quot;c&apos;</name>\n\t\t<pose>Unspecified</pose>\n\
             \t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n\
             \t\t<bndbox>\n\t\t\t<xmin>10</xmin>\n\t\t\t<ymin>11</ymin>\n\
             \t\t\t<xmax>21</xmax>\n\t\t\t<ymax>29</ymax>\n\t\t</bndbox>\n\t</object>\n\
             </annotation>\n"
        );
        assert_eq!(files[1].0, "Annotations/empty.xml");
        assert!(!files[1].1.contains("<object>"));
        assert!(files[1].1.contains("<filename>empty.png</filename>"));
    }

    #[test]
    fn rounding_moves_no_edge_more_than_half_a_pixel() {
        for v in [0.0f32, 0.49, 0.5, 0.51, 1.5, 2.5, 639.5, 4031.999] {
            assert!((px(v) as f32 - v).abs() <= 0.5, "{v}");
        }
        assert_eq!(px(2.5), 3);
    }

    #[test]
    fn xml_escaping() {
        assert_eq!(
            xml_text("a\u{0}b\u{1B}c\u{FFFF}"),
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}"
        );
        assert_eq!(xml_text("tab\tok é"), "tab\tok é");
    }
}
