//! CSV (RFC 4180): a header, then one row per kept detection, images in input order. A
//! video's frames ([`super::frames`]) put `frame,time_s` in front of the same columns.
//!
//! `file,label,class_id,score,x1,y1,x2,y2,image_width,image_height` (`label` is the class's
//! name, as in the other formats), CRLF line ends, UTF-8
//! without a byte-order mark. Numbers are written in full (the shortest text that reads back
//! as the same `f32`). A field with a comma, a double quote, CR or LF is quoted, its quotes
//! doubled. Images without detections have no row (the COCO export lists every image).
//!
//! Formula injection: spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (and some
//! with a tab or CR) as a formula, and file names and labels come from users. Such a text cell
//! gets a leading `'` (OWASP's advice), which spreadsheets show as text and which a program
//! reading the CSV can strip. Numeric cells are never prefixed.

use std::borrow::Cow;
use std::fmt::Write;

use super::Prepared;

pub(super) const HEADER: &str = "file,label,class_id,score,x1,y1,x2,y2,image_width,image_height";
/// The columns a video's frames add in front: the frame's number and its time in seconds
/// (to the millisecond).
pub(super) const FRAME_COLUMNS: &str = "frame,time_s";

pub(super) fn write(set: &Prepared<'_>) -> Vec<u8> {
    rows(set, None)
}

/// The CSV of a video's frames: `frames` holds each image's frame number and time in
/// milliseconds (written as seconds).
pub(super) fn write_frames(set: &Prepared<'_>, frames: &[(u64, u64)]) -> Vec<u8> {
    rows(set, Some(frames))
}

fn rows(set: &Prepared<'_>, frames: Option<&[(u64, u64)]>) -> Vec<u8> {
    let mut out = String::new();
    if frames.is_some() {
        out.push_str(FRAME_COLUMNS);
        out.push(',');
    }
    out.push_str(HEADER);
    out.push_str("\r\n");
    for (i, im) in set.images.iter().enumerate() {
        let file = text_cell(&im.name);
        let lead = match frames.and_then(|f| f.get(i)) {
            Some((number, ms)) => format!("{number},{}.{:03},", ms / 1000, ms % 1000),
            None => String::new(),
        };
        for d in &im.dets {
            let _ = write!(
                out,
                "{lead}{file},{},{},{},{},{},{},{},{},{}\r\n",
                text_cell(set.class_name(d)),
                d.class_id,
                d.score,
                d.x1,
                d.y1,
                d.x2,
                d.y2,
                im.width,
                im.height,
            );
        }
    }
    out.into_bytes()
}

/// A text field, guarded against formula injection and quoted when it must be.
fn text_cell(s: &str) -> Cow<'_, str> {
    let guarded: Cow<'_, str> = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", guarded.replace('"', "\"\"")))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{det, labels};
    use super::super::{export, ExportFormat, ExportImage};
    use super::*;

    #[test]
    fn text_cells() {
        let cases = [
            ("plain.jpg", "plain.jpg"),
            ("a,b.jpg", "\"a,b.jpg\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\""),
            ("+1.jpg", "'+1.jpg"),
            ("-2.jpg", "'-2.jpg"),
            ("@SUM(A1).jpg", "'@SUM(A1).jpg"),
            ("\tx", "'\tx"),
            ("a=b", "a=b"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(text_cell(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn one_row_per_kept_detection() {
        let names = labels(&["__background__", "cat, \"big\"", "=dog"]);
        let a = [
            det("cat, \"big\"", 1, 0.75, [1.5, 2.0, 30.25, 40.0]),
            det("=dog", 2, 0.25, [0.0, 0.0, 1.0, 1.0]), // below the threshold
        ];
        let b = [det("=dog", 2, 0.5, [10.0, 20.0, 30.0, 40.0])];
        let images = [
            ExportImage {
                file_name: "dir/a,1.jpg",
                width: 64,
                height: 48,
                detections: &a,
            },
            ExportImage {
                file_name: "none.jpg",
                width: 1,
                height: 1,
                detections: &[],
            },
            ExportImage {
                file_name: "-rm.png",
                width: 100,
                height: 50,
                detections: &b,
            },
        ];
        let e = export(ExportFormat::Csv, &images, &names, 0.5).unwrap();
        assert_eq!(e.mime, "text/csv; charset=utf-8");
        assert_eq!(
            String::from_utf8(e.bytes).unwrap(),
            "file,label,class_id,score,x1,y1,x2,y2,image_width,image_height\r\n\
             \"a,1.jpg\",\"cat, \"\"big\"\"\",1,0.75,1.5,2,30.25,40,64,48\r\n\
             '-rm.png,'=dog,2,0.5,10,20,30,40,100,50\r\n"
        );
    }

    #[test]
    fn coordinates_round_trip_exactly() {
        let b = [0.1f32, 1.0 / 3.0, 4031.999, 3023.123];
        let dets = [det("a", 1, 0.123_456_79, b)];
        let images = [ExportImage {
            file_name: "x.jpg",
            width: 4032,
            height: 3024,
            detections: &dets,
        }];
        let e = export(ExportFormat::Csv, &images, &labels(&["", "a"]), 0.0).unwrap();
        let text = String::from_utf8(e.bytes).unwrap();
        let row: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
        let back: Vec<f32> = row[4..8].iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(back, b);
        assert_eq!(row[3].parse::<f32>().unwrap(), 0.123_456_79);
    }
}
