//! YOLO, as Ultralytics reads it for training: a ZIP with
//!
//! - `labels/<stem>.txt` for every image (empty when nothing was kept): one line per box,
//!   `class x_center y_center width height`, normalised to 0..1 by the image size, 6 decimals
//!   (at most 0.008 px off on a 16384 px side). `class` is the 0-based position of the class
//!   in `classes.txt` (the model's classes without background and `N/A` slots).
//!   **No score column**: these are training labels (Ultralytics' trainer refuses a 6th
//!   column); scores are in the COCO and CSV exports, and the threshold chose the boxes.
//! - `classes.txt`: one class name per line (the darknet / CVAT / Label Studio convention).
//! - `data.yaml`: `train`/`val` = `images`, `nc`, `names`, relative to the file's folder:
//!   put the images in `images/` beside `labels/` and Ultralytics trains on it.

use std::fmt::Write;

use super::{Image, Prepared};

pub(super) fn files(set: &Prepared<'_>) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::with_capacity(set.images.len() + 2);
    files.push(("data.yaml".to_owned(), data_yaml(set).into_bytes()));
    let classes: String = set
        .classes
        .iter()
        .map(|c| format!("{}\n", one_line(&c.name)))
        .collect();
    files.push(("classes.txt".to_owned(), classes.into_bytes()));
    for im in &set.images {
        files.push((
            format!("labels/{}.txt", im.stem),
            label_file(im).into_bytes(),
        ));
    }
    files
}

fn label_file(im: &Image<'_>) -> String {
    let (w, h) = (f64::from(im.width), f64::from(im.height));
    let mut out = String::new();
    for d in &im.dets {
        let (x1, y1, x2, y2) = (
            f64::from(d.x1),
            f64::from(d.y1),
            f64::from(d.x2),
            f64::from(d.y2),
        );
        let _ = writeln!(
            out,
            "{} {:.6} {:.6} {:.6} {:.6}",
            d.class_index,
            (x1 + x2) / 2.0 / w,
            (y1 + y2) / 2.0 / h,
            (x2 - x1) / w,
            (y2 - y1) / h,
        );
    }
    out
}

fn data_yaml(set: &Prepared<'_>) -> String {
    let mut out = String::from(
        "# Lookout detections as YOLO labels (Ultralytics format).\n\
         # labels/<image stem>.txt: class x_center y_center width height, normalised to 0..1.\n\
         # Put the images in images/ beside labels/ to train on them.\n\
         train: images\n\
         val: images\n",
    );
    let _ = writeln!(out, "nc: {}", set.classes.len());
    if set.classes.is_empty() {
        out.push_str("names: []\n");
    }
    for (i, c) in set.classes.iter().enumerate() {
        if i == 0 {
            out.push_str("names:\n");
        }
        let _ = writeln!(out, "  - {}", yaml_quoted(&c.name));
    }
    out
}

/// A YAML double-quoted scalar; characters YAML does not allow raw are escaped.
fn yaml_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' => out.push(c),
            c if u32::from(c) > 0xFFFF => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

/// A name on one line of `classes.txt`.
fn one_line(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{det, labels, unzip};
    use super::super::{export, ExportFormat, ExportImage};
    use super::*;

    #[test]
    fn labels_classes_and_data_yaml() {
        let names = labels(&["__background__", "person", "N/A", "car", "tab\there \"q\""]);
        let a = [
            det("car", 3, 0.8, [100.0, 50.0, 300.0, 150.0]),
            det("person", 1, 0.2, [0.0, 0.0, 10.0, 10.0]), // below the threshold
            det("tab", 4, 0.6, [0.0, 0.0, 400.0, 200.0]),
        ];
        let images = [
            ExportImage {
                file_name: "dir/street.jpg",
                width: 400,
                height: 200,
                detections: &a,
            },
            ExportImage {
                file_name: "other/street.png",
                width: 10,
                height: 10,
                detections: &[],
            },
        ];
        let e = export(ExportFormat::Yolo, &images, &names, 0.3).unwrap();
        assert_eq!(e.mime, "application/zip");
        let files = unzip(&e.bytes);
        let got: Vec<(&str, &str)> = files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        assert_eq!(got[1], ("classes.txt", "person\ncar\ntab here \"q\"\n"));
        assert_eq!(
            got[2],
            (
                "labels/street.txt",
                "1 0.500000 0.500000 0.500000 0.500000\n2 0.500000 0.500000 1.000000 1.000000\n"
            )
        );
        assert_eq!(got[3], ("labels/street-2.txt", ""));
        assert_eq!(got.len(), 4);
        let yaml = got[0].1;
        assert!(
            yaml.contains("\ntrain: images\nval: images\nnc: 3\n"),
            "{yaml}"
        );
        assert!(
            yaml.ends_with(
                "names:\n  - \"person\"\n  - \"car\"\n  - \"tab\\u0009here \\\"q\\\"\"\n"
            ),
            "{yaml}"
        );
    }

    #[test]
    fn coordinates_round_trip() {
        let cases: [((u32, u32), [f32; 4]); 3] = [
            ((640, 480), [12.3, 45.6, 78.9, 101.2]),
            ((16384, 9), [0.0, 0.0, 16384.0, 9.0]),
            ((4032, 3024), [1000.25, 2000.75, 3000.5, 3024.0]),
        ];
        for ((w, h), b) in cases {
            let dets = [det("a", 1, 1.0, b)];
            let images = [ExportImage {
                file_name: "x.jpg",
                width: w,
                height: h,
                detections: &dets,
            }];
            let e = export(ExportFormat::Yolo, &images, &labels(&["a", "a"]), 0.0).unwrap();
            let files = unzip(&e.bytes);
            let line = &files[2].1;
            let v: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .map(|s| s.parse().unwrap())
                .collect();
            let (w, h) = (f64::from(w), f64::from(h));
            let back = [
                (v[0] - v[2] / 2.0) * w,
                (v[1] - v[3] / 2.0) * h,
                (v[0] + v[2] / 2.0) * w,
                (v[1] + v[3] / 2.0) * h,
            ];
            for (got, want) in back.iter().zip(b) {
                assert!((got - f64::from(want)).abs() < 0.01, "{got} vs {want}");
            }
        }
    }

    #[test]
    fn yaml_quoting() {
        assert_eq!(yaml_quoted("plain"), "\"plain\"");
        assert_eq!(yaml_quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(
            yaml_quoted("x\u{7F}\u{85}\u{FFFE}y"),
            "\"x\\u007F\\u0085\\uFFFEy\""
        );
        assert_eq!(yaml_quoted("日本 🐕"), "\"日本 🐕\"");
    }
}
