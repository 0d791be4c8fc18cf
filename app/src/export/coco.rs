//! COCO: one dataset JSON that `pycocotools.coco.COCO` loads, whose `annotations` list also
//! works as `COCO.loadRes` results against it.
//!
//! - `images`: `id` (1-based, in input order), `file_name`, `width`, `height`.
//! - `categories`: `id` = the model's class id (so a COCO-91 model keeps COCO's ids), `name`,
//!   `supercategory` "" (the model's classes, background and `N/A` slots left out).
//! - `annotations`: `id` (1-based), `image_id`, `category_id`, `bbox` `[x, y, w, h]` in pixels,
//!   `area` = w * h, `segmentation` `[]` (boxes only; some importers, CVAT's among them,
//!   require the key), `iscrowd` 0, `score`. Coordinates are rounded to 1/1000 px.

use serde::Serialize;

use super::Prepared;

#[derive(Serialize)]
struct Dataset<'a> {
    info: Info,
    licenses: [(); 0],
    images: Vec<Image<'a>>,
    categories: Vec<Category<'a>>,
    annotations: Vec<Annotation>,
}

#[derive(Serialize)]
struct Info {
    description: &'static str,
    version: &'static str,
    contributor: &'static str,
    /// Detections with a lower score were left out.
    score_threshold: f32,
}

#[derive(Serialize)]
struct Image<'a> {
    id: u64,
    file_name: &'a str,
    width: u32,
    height: u32,
}

#[derive(Serialize)]
struct Category<'a> {
    id: i64,
    name: &'a str,
    supercategory: &'static str,
}

#[derive(Serialize)]
struct Annotation {
    id: u64,
    image_id: u64,
    category_id: i64,
    bbox: [f64; 4],
    area: f64,
    segmentation: [(); 0],
    iscrowd: u8,
    score: f32,
}

fn milli(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

pub(super) fn write(set: &Prepared<'_>, threshold: f32) -> Vec<u8> {
    let mut annotations = Vec::new();
    let mut images = Vec::with_capacity(set.images.len());
    for (image_id, im) in (1u64..).zip(&set.images) {
        images.push(Image {
            id: image_id,
            file_name: &im.name,
            width: im.width,
            height: im.height,
        });
        for d in &im.dets {
            let (x, y) = (milli(f64::from(d.x1)), milli(f64::from(d.y1)));
            let w = milli(milli(f64::from(d.x2)) - x);
            let h = milli(milli(f64::from(d.y2)) - y);
            annotations.push(Annotation {
                id: annotations.len() as u64 + 1,
                image_id,
                category_id: d.class_id,
                bbox: [x, y, w, h],
                area: milli(w * h),
                segmentation: [],
                iscrowd: 0,
                score: d.score,
            });
        }
    }
    let dataset = Dataset {
        info: Info {
            description: "Object detections exported by Lookout",
            version: "1.0",
            contributor: "Lookout",
            score_threshold: threshold,
        },
        licenses: [],
        images,
        categories: set
            .classes
            .iter()
            .map(|c| Category {
                id: c.id,
                name: &c.name,
                supercategory: "",
            })
            .collect(),
        annotations,
    };
    // Serialising plain structs of numbers and strings to a Vec cannot fail.
    serde_json::to_vec(&dataset).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::test_support::{det, labels};
    use super::super::{export, ExportFormat, ExportImage};

    fn coco(images: &[ExportImage<'_>], names: &[String], threshold: f32) -> Value {
        let e = export(ExportFormat::Coco, images, names, threshold).unwrap();
        assert_eq!(e.mime, "application/json");
        serde_json::from_slice(&e.bytes).unwrap()
    }

    #[test]
    fn a_complete_dataset() {
        let names = labels(&["__background__", "person", "N/A", "dog \"Rex\" & <co>"]);
        let a = [
            det("person", 1, 0.9, [10.5, 20.25, 110.5, 220.75]),
            det("dog \"Rex\" & <co>", 3, 0.49, [0.0, 0.0, 5.0, 5.0]), // below 0.5
            det("dog \"Rex\" & <co>", 3, 0.5, [1.0, 2.0, 3.0, 4.0]),  // at 0.5: kept
        ];
        let images = [
            ExportImage {
                file_name: "../x/photo.jpg",
                width: 640,
                height: 480,
                detections: &a,
            },
            ExportImage {
                file_name: "y/photo.jpg",
                width: 32,
                height: 16,
                detections: &[],
            },
        ];
        let v = coco(&images, &names, 0.5);
        assert_eq!(v["info"]["score_threshold"], json!(0.5));
        assert_eq!(
            v["images"],
            json!([
                {"id": 1, "file_name": "photo.jpg", "width": 640, "height": 480},
                {"id": 2, "file_name": "photo-2.jpg", "width": 32, "height": 16},
            ])
        );
        assert_eq!(
            v["categories"],
            json!([
                {"id": 1, "name": "person", "supercategory": ""},
                {"id": 3, "name": "dog \"Rex\" & <co>", "supercategory": ""},
            ])
        );
        assert_eq!(
            v["annotations"],
            json!([
                {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10.5, 20.25, 100.0, 200.5],
                 "area": 20050.0, "segmentation": [], "iscrowd": 0, "score": 0.9},
                {"id": 2, "image_id": 1, "category_id": 3, "bbox": [1.0, 2.0, 2.0, 2.0],
                 "area": 4.0, "segmentation": [], "iscrowd": 0, "score": 0.5},
            ])
        );
    }

    #[test]
    fn coordinates_round_trip_within_a_thousandth() {
        let boxes = [
            [0.1f32, 0.2, 0.3, 0.4],
            [123.456_79, 7.0001, 4000.999, 2999.5],
            [1.0 / 3.0, 2.0 / 3.0, 639.999, 479.999],
        ];
        let dets: Vec<_> = boxes.iter().map(|b| det("a", 1, 1.0, *b)).collect();
        let images = [ExportImage {
            file_name: "big.png",
            width: 4032,
            height: 3024,
            detections: &dets,
        }];
        let v = coco(&images, &labels(&["__background__", "a"]), 0.0);
        for (b, ann) in boxes.iter().zip(v["annotations"].as_array().unwrap()) {
            let bb: Vec<f64> = ann["bbox"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_f64().unwrap())
                .collect();
            let back = [bb[0], bb[1], bb[0] + bb[2], bb[1] + bb[3]];
            for (got, want) in back.iter().zip(b) {
                assert!((got - f64::from(*want)).abs() <= 0.0011, "{got} vs {want}");
            }
        }
    }
}
