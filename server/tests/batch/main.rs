//! Dataset exports on `POST /v1/detect`, and `POST /v1/detect/batch`: every export read back
//! by an independent reader with the boxes of the JSON answer, a bad item among good ones,
//! the limits, the key, and the fairness rule (a single request is not starved by a batch).
//!
//! Needs the readers' venv: `LOOKOUT_PYREADERS=$(scripts/pyreaders/venv.sh) cargo test -p
//! server --test batch` (`make unit` sets it).
//!
//! One test binary, in files by concern: `exports` (every export of a single image read back),
//! `items` (a batch's items in order, bad ones isolated, its exports), `limits` (the batch's limits,
//! refusals and the key) and `fairness` (a single request is not starved by a batch, and the route
//! documents the rule). The helpers below are shared by those files.

#[path = "../common/mod.rs"]
mod common;
#[path = "../pyreaders/mod.rs"]
mod pyreaders;

mod exports;
mod fairness;
mod items;
mod limits;

use std::io::Read;

use reqwest::multipart::Part;

use common::fixture;

const FORMATS: [(&str, &str); 4] = [
    ("coco", "lookout-coco.json"),
    ("yolo", "lookout-yolo.zip"),
    ("voc", "lookout-voc.zip"),
    ("csv", "lookout-detections.csv"),
];

fn shapes(i: usize) -> Vec<u8> {
    fixture(&format!("detector/tests/fixtures/shapes/{i:04}.png"))
}

fn png_of(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn image_part(bytes: Vec<u8>, name: &str) -> Part {
    Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str("image/png")
        .unwrap()
}

fn header_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Checks an export answer's headers and returns its bytes.
async fn download(response: reqwest::Response, file_name: &str) -> Vec<u8> {
    assert_eq!(response.status(), 200, "{file_name}");
    assert_eq!(
        header_of(&response, "content-disposition").as_deref(),
        Some(format!("attachment; filename=\"{file_name}\"").as_str())
    );
    response.bytes().await.unwrap().to_vec()
}

/// The entries of a ZIP: name and bytes.
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP");
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            (entry.name().unwrap().into_owned(), data)
        })
        .collect()
}
