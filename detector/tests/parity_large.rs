//! Full-size parity: Lookout resizes a 12-megapixel photo itself before the model (so the
//! graph's own resize does nothing), and must answer what Python onnxruntime answers when it
//! is handed the whole photo. Reference: models/reference/make_parity_large.py.

use std::path::{Path, PathBuf};

use detector::{Decoded, DetectOptions, Engine, EngineConfig, FeedPlan};
use image::RgbImage;
use serde::Deserialize;
use sha2::{Digest, Sha256};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[derive(Deserialize)]
struct Reference {
    models: Vec<ModelCases>,
}

#[derive(Deserialize)]
struct ModelCases {
    file: String,
    sha256: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    fixture: String,
    width: u32,
    height: u32,
    rgb_sha256: String,
    graph_working_size: [u32; 2],
    working_size_maps_to_itself: bool,
    boxes: Vec<[f32; 4]>,
    labels: Vec<i64>,
    scores: Vec<f32>,
}

/// Nearest-neighbour upscale with integer arithmetic, as the reference script does it.
fn upscale(small: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (w, h) = small.dimensions();
    let row_bytes = width as usize * 3;
    let mut raw = vec![0u8; row_bytes * height as usize];
    let mut last: Option<(u32, usize)> = None;
    for y in 0..height {
        let sy = (u64::from(y) * u64::from(h) / u64::from(height)) as u32;
        let at = y as usize * row_bytes;
        match last {
            Some((prev_sy, prev_at)) if prev_sy == sy => {
                raw.copy_within(prev_at..prev_at + row_bytes, at)
            }
            _ => {
                let src = &small.as_raw()[sy as usize * w as usize * 3..][..w as usize * 3];
                for (x, px) in raw[at..at + row_bytes].chunks_exact_mut(3).enumerate() {
                    let sx = (x as u64 * u64::from(w) / u64::from(width)) as usize;
                    px.copy_from_slice(&src[sx * 3..sx * 3 + 3]);
                }
            }
        }
        last = Some((sy, at));
    }
    RgbImage::from_raw(width, height, raw).expect("sized")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Detections scoring at least this are compared (lower ones are the model's noise floor,
/// where a borderline proposal may flip either way).
const FLOOR: f32 = 0.1;
const BOX_TOLERANCE_PX: f32 = 1.0;
const SCORE_TOLERANCE: f32 = 0.01;

#[test]
fn twelve_megapixel_photos_get_the_answers_of_the_whole_photo() {
    let dir = repo().join("detector/tests/fixtures/parity");
    let reference: Reference = serde_json::from_str(
        &std::fs::read_to_string(dir.join("reference_large.json")).expect("reference present"),
    )
    .unwrap();
    let mut fixtures = std::collections::HashMap::new();
    let mut worst_overall = 0f32;
    let mut compensated = 0;
    for model in &reference.models {
        let path = if model.file == "shapes.onnx" {
            repo().join("models/shapes.onnx")
        } else {
            dir.join(&model.file)
        };
        let mut config = EngineConfig::new(&path);
        config.intra_threads = 2;
        config.warm_up = false;
        let engine = Engine::load(&config).expect("model loads");
        assert_eq!(
            engine.info().sha256,
            model.sha256,
            "{}: reference made with this file",
            model.file
        );
        let rule = engine.resize_rule();
        for case in &model.cases {
            let small = fixtures.entry(case.fixture.clone()).or_insert_with(|| {
                detector::decode(
                    &std::fs::read(dir.join(&case.fixture)).unwrap(),
                    &Default::default(),
                )
                .unwrap()
            });
            let big = upscale(small, case.width, case.height);
            let name = format!(
                "{} {} {}x{}",
                model.file, case.fixture, case.width, case.height
            );
            assert_eq!(
                hex(&Sha256::digest(big.as_raw())),
                case.rgb_sha256,
                "{name}: input"
            );
            let working = rule.working_size(case.width, case.height);
            assert_eq!(
                [working.0, working.1],
                case.graph_working_size,
                "{name}: working size"
            );
            let plan = rule.plan(case.width, case.height);
            match plan {
                FeedPlan::Working { .. } => assert!(case.working_size_maps_to_itself, "{name}"),
                FeedPlan::Compensated { .. } => {
                    assert!(!case.working_size_maps_to_itself, "{name}");
                    compensated += 1;
                }
                other => panic!("{name}: a 12 MP photo planned as {other:?}"),
            }
            let got = engine
                .detect_blocking(&Decoded::full(big), DetectOptions::new(0.0, 1000).unwrap())
                .unwrap()
                .detections;
            let mut worst = 0f32;
            let partner = |label: i64, b: [f32; 4], score: f32, side: &[(i64, [f32; 4], f32)]| {
                side.iter()
                    .filter(|(l, _, _)| *l == label)
                    .map(|(_, o, s)| {
                        let d = (0..4).map(|k| (b[k] - o[k]).abs()).fold(0f32, f32::max);
                        (d, (score - s).abs())
                    })
                    .min_by(|a, b| a.0.total_cmp(&b.0))
            };
            let ours: Vec<(i64, [f32; 4], f32)> = got
                .iter()
                .map(|d| {
                    (
                        d.class_id,
                        [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2],
                        d.score,
                    )
                })
                .collect();
            let theirs: Vec<(i64, [f32; 4], f32)> = (0..case.scores.len())
                .map(|i| (case.labels[i], case.boxes[i], case.scores[i]))
                .collect();
            for (side, other, who) in [(&theirs, &ours, "Python"), (&ours, &theirs, "Lookout")] {
                for &(label, b, score) in side.iter().filter(|d| d.2 >= FLOOR + SCORE_TOLERANCE) {
                    let (d, ds) = partner(label, b, score, other).unwrap_or_else(|| {
                        panic!("{name}: {who}'s class {label} {b:?} ({score}) has no partner")
                    });
                    assert!(
                        d <= BOX_TOLERANCE_PX && ds <= SCORE_TOLERANCE,
                        "{name}: {who}'s class {label} {b:?} ({score}): nearest partner {d} px / score {ds} away"
                    );
                    worst = worst.max(d);
                }
            }
            eprintln!(
                "{name}: {plan:?}, {} detections >= {FLOOR}, boxes within {worst:.5} px",
                theirs.iter().filter(|d| d.2 >= FLOOR).count()
            );
            worst_overall = worst_overall.max(worst);
        }
    }
    eprintln!("worst box difference over all cases: {worst_overall:.5} px");
    assert!(
        compensated >= 6,
        "the non-idempotent sizes are covered ({compensated})"
    );
}
