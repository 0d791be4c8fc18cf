//! What the engine finds with the bundled demo models, against ground truth and against
//! Python's onnxruntime on the same files.

mod common;

use common::{engine, ground_truth, repo};
use detector::{decode, BoundingBox, Decoded, DetectOptions, Engine, EngineConfig, Layout, Limits};
use serde::Deserialize;
use std::path::Path;

fn check_against_ground_truth(dir: &Path, min_recall: f64, min_precision: f64) {
    let engine = engine();
    let truth = ground_truth(dir);
    let (mut matched, mut expected, mut reported) = (0usize, 0usize, 0usize);
    for image in &truth.images {
        let bytes = std::fs::read(dir.join(&image.file)).unwrap();
        let decoded = Decoded::full(decode(&bytes, &Limits::default()).unwrap());
        assert_eq!(decoded.image.dimensions(), (image.width, image.height));
        let result = engine
            .detect_blocking(&decoded, DetectOptions::default())
            .unwrap();
        assert!(
            result
                .detections
                .windows(2)
                .all(|w| w[0].score >= w[1].score),
            "sorted by score"
        );
        expected += image.objects.len();
        reported += result.detections.len();
        let mut used = vec![false; result.detections.len()];
        for object in &image.objects {
            let want = BoundingBox {
                x1: object.bbox[0],
                y1: object.bbox[1],
                x2: object.bbox[2],
                y2: object.bbox[3],
            };
            let hit =
                result.detections.iter().enumerate().find(|(i, d)| {
                    !used[*i] && d.label == object.label && d.bbox.iou(&want) >= 0.5
                });
            if let Some((i, _)) = hit {
                used[i] = true;
                matched += 1;
            } else {
                eprintln!(
                    "{}: missed {} at {:?}; got {:?}",
                    image.file, object.label, object.bbox, result.detections
                );
            }
        }
    }
    let recall = matched as f64 / expected as f64;
    let precision = matched as f64 / reported.max(1) as f64;
    eprintln!("{}: recall {recall:.3} precision {precision:.3} ({matched}/{expected}, {reported} reported)", dir.display());
    assert!(recall >= min_recall, "recall {recall}");
    assert!(precision >= min_precision, "precision {precision}");
}

#[test]
fn finds_the_shapes_in_generated_png_images() {
    check_against_ground_truth(&repo().join("detector/tests/fixtures/shapes"), 0.9, 0.9);
}

#[test]
fn finds_the_shapes_in_jpeg_images() {
    check_against_ground_truth(
        &repo().join("detector/tests/fixtures/shapes/jpeg"),
        0.9,
        0.9,
    );
}

#[test]
fn threshold_and_max_detections_filter() {
    let engine = engine();
    let dir = repo().join("detector/tests/fixtures/shapes");
    let truth = ground_truth(&dir);
    let bytes = std::fs::read(dir.join(&truth.images[0].file)).unwrap();
    let image = Decoded::full(decode(&bytes, &Limits::default()).unwrap());
    let all = engine
        .detect_blocking(&image, DetectOptions::new(0.0, 100).unwrap())
        .unwrap()
        .detections;
    let one = engine
        .detect_blocking(&image, DetectOptions::new(0.0, 1).unwrap())
        .unwrap()
        .detections;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0], all[0]);
    let strict = engine
        .detect_blocking(&image, DetectOptions::new(0.999_999, 100).unwrap())
        .unwrap()
        .detections;
    assert!(strict.iter().all(|d| d.score >= 0.999_999));
    assert!(strict.len() <= all.len());
}

#[derive(Deserialize)]
struct ParityReference {
    model_sha256: String,
    images: Vec<ParityImage>,
}

#[derive(Deserialize)]
struct ParityImage {
    file: String,
    shape: Vec<usize>,
    input_sha256: String,
    boxes: Vec<[f32; 4]>,
    labels: Vec<i64>,
    scores: Vec<f32>,
}

#[test]
fn matches_python_onnxruntime_bit_for_bit_on_the_input_and_within_1e3_on_boxes() {
    use sha2::{Digest, Sha256};
    let dir = repo().join("detector/tests/fixtures/parity");
    let reference: ParityReference =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let engine = engine();
    assert_eq!(
        engine.info().sha256,
        reference.model_sha256,
        "reference made with this model file"
    );
    for image in &reference.images {
        let bytes = std::fs::read(dir.join(&image.file)).unwrap();
        let decoded = decode(&bytes, &Limits::default()).unwrap();
        let tensor = detector::tensor::torchvision(&decoded);
        assert_eq!(tensor.shape.to_vec(), image.shape, "{}", image.file);
        let raw: Vec<u8> = tensor.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            hex(&Sha256::digest(&raw)),
            image.input_sha256,
            "{}: input tensor differs",
            image.file
        );

        let result = engine
            .detect_blocking(
                &Decoded::full(decoded),
                DetectOptions::new(0.0, 1000).unwrap(),
            )
            .unwrap();
        assert_eq!(
            result.detections.len(),
            image.scores.len(),
            "{}: detection count",
            image.file
        );
        for (i, d) in result.detections.iter().enumerate() {
            assert_eq!(d.class_id, image.labels[i], "{} #{i}", image.file);
            assert!(
                (d.score - image.scores[i]).abs() < 1e-4,
                "{} #{i}: score {} vs {}",
                image.file,
                d.score,
                image.scores[i]
            );
            let got = [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2];
            for k in 0..4 {
                assert!(
                    (got[k] - image.boxes[i][k]).abs() <= 1e-3,
                    "{} #{i}: box {got:?} vs {:?}",
                    image.file,
                    image.boxes[i]
                );
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn exif_orientations_all_come_out_upright() {
    let dir = repo().join("detector/tests/fixtures/formats");
    let reference = decode(
        &std::fs::read(dir.join("reference.png")).unwrap(),
        &Limits::default(),
    )
    .unwrap();
    for n in 1..=8 {
        let bytes = std::fs::read(dir.join(format!("exif/orientation_{n}.jpg"))).unwrap();
        let img = decode(&bytes, &Limits::default()).unwrap();
        assert_eq!(img.dimensions(), reference.dimensions(), "orientation {n}");
        let diff: u64 = img
            .as_raw()
            .iter()
            .zip(reference.as_raw())
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        let mean = diff as f64 / img.as_raw().len() as f64;
        assert!(mean < 6.0, "orientation {n}: mean difference {mean}");
    }
}

#[derive(Deserialize)]
struct ZooReference {
    model_sha256: String,
    images: Vec<ZooImage>,
}

#[derive(Deserialize)]
struct ZooImage {
    file: String,
    resized_size: [u32; 2],
    input_shape: Vec<usize>,
    detections: Vec<ZooDetection>,
}

#[derive(Deserialize)]
struct ZooDetection {
    #[serde(rename = "box")]
    bbox: [f32; 4],
    label: i64,
    score: f32,
}

/// The ONNX-model-zoo layout (caller-side resize, BGR minus mean, padding, boxes mapped
/// back), checked on a shapes model wrapped in that layout. Resampling differs between
/// libraries, so boxes are compared by overlap rather than to the bit.
#[test]
fn zoo_layout_matches_the_python_pipeline() {
    let dir = repo().join("detector/tests/fixtures/parity");
    let reference: ZooReference =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference_zoo.json")).unwrap())
            .unwrap();
    let mut config = EngineConfig::new(repo().join("models/shapes-zoo.onnx"));
    config.warm_up = false;
    let engine = Engine::load(&config).unwrap();
    assert_eq!(
        engine.info().layout,
        Layout::Zoo,
        "chosen from the input name `image`"
    );
    assert_eq!(engine.info().sha256, reference.model_sha256);
    assert_eq!(
        engine.labels().name(3),
        "blue_triangle",
        "labels from metadata beat the COCO-80 default"
    );
    for image in &reference.images {
        let decoded = decode(
            &std::fs::read(dir.join(&image.file)).unwrap(),
            &Limits::default(),
        )
        .unwrap();
        let (w, h) = detector::tensor::zoo_resized_size(decoded.width(), decoded.height());
        assert_eq!([w, h], image.resized_size, "{}", image.file);
        assert_eq!(
            detector::tensor::zoo(&decoded).shape.to_vec(),
            image.input_shape,
            "{}",
            image.file
        );
        let got = engine
            .detect_blocking(&Decoded::full(decoded), DetectOptions::default())
            .unwrap()
            .detections;
        assert_eq!(got.len(), image.detections.len(), "{}: {got:?}", image.file);
        for want in &image.detections {
            let want_box = BoundingBox {
                x1: want.bbox[0],
                y1: want.bbox[1],
                x2: want.bbox[2],
                y2: want.bbox[3],
            };
            let best = got
                .iter()
                .filter(|d| d.class_id == want.label)
                .map(|d| (d.bbox.iou(&want_box), d.score))
                .fold((0.0f32, 0.0f32), |a, b| if b.0 > a.0 { b } else { a });
            assert!(
                best.0 >= 0.8,
                "{}: class {} IoU {}",
                image.file,
                want.label,
                best.0
            );
            assert!(
                (best.1 - want.score).abs() <= 0.1,
                "{}: score {} vs {}",
                image.file,
                best.1,
                want.score
            );
        }
    }
}
