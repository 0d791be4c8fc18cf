//! Helpers for the exports' tests.

use crate::types::{BoxPx, DetectionOut};

pub fn det(label: &str, class_id: i64, score: f32, b: [f32; 4]) -> DetectionOut {
    DetectionOut {
        label: label.to_owned(),
        class_id,
        score,
        bbox: BoxPx {
            x1: b[0],
            y1: b[1],
            x2: b[2],
            y2: b[3],
        },
    }
}

pub fn labels(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// The entries of a ZIP archive, in order, as text.
pub fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP archive");
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).expect("an entry");
            let mut text = String::new();
            std::io::Read::read_to_string(&mut f, &mut text).expect("UTF-8 text");
            (f.name().expect("a UTF-8 name").into_owned(), text)
        })
        .collect()
}
