//! Every export, read back by an independent, well-known reader: pycocotools for COCO, globox
//! for YOLO and Pascal VOC, PyYAML for YOLO's data.yaml, Python's csv module for the CSV
//! (scripts/pyreaders/check_exports.py), each box within 0.5 px of what the detector gave.
//!
//! Needs the readers' venv: `LOOKOUT_PYREADERS=$(scripts/pyreaders/venv.sh) cargo test -p app
//! --features ssr --test export_readers` (the Makefile sets the variable).

use std::path::{Path, PathBuf};
use std::process::Command;

use app::export::{export, ExportFormat, ExportImage};
use app::types::{BoxPx, DetectionOut};
use serde_json::{json, Value};

/// torchvision's COCO label list: 91 slots, background at 0 and `N/A` placeholders.
#[rustfmt::skip]
const COCO91: [&str; 91] = [
    "__background__", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train",
    "truck", "boat", "traffic light", "fire hydrant", "N/A", "stop sign", "parking meter",
    "bench", "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
    "giraffe", "N/A", "backpack", "umbrella", "N/A", "N/A", "handbag", "tie", "suitcase",
    "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
    "skateboard", "surfboard", "tennis racket", "bottle", "N/A", "wine glass", "cup", "fork",
    "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot",
    "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed", "N/A",
    "dining table", "N/A", "N/A", "toilet", "N/A", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "N/A",
    "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
];

const THRESHOLD: f32 = 0.5;

struct Case {
    /// The name the user gave.
    given: &'static str,
    /// The name every export must use for it.
    exported: &'static str,
    width: u32,
    height: u32,
    detections: Vec<DetectionOut>,
}

fn det(class_id: i64, score: f32, b: [f32; 4]) -> DetectionOut {
    let label = usize::try_from(class_id)
        .ok()
        .and_then(|i| COCO91.get(i))
        .filter(|n| **n != "N/A")
        .map_or_else(|| format!("class_{class_id}"), |n| (*n).to_owned());
    DetectionOut {
        label,
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

fn cases() -> Vec<Case> {
    vec![
        Case {
            given: "street,corner.jpg",
            exported: "street,corner.jpg",
            width: 640,
            height: 480,
            detections: vec![
                det(1, 0.98, [12.3, 45.6, 78.9, 401.2]),
                det(3, 0.87, [300.25, 200.75, 620.5, 330.125]),
                det(10, 0.45, [500.0, 10.0, 520.0, 60.0]), // below the threshold
                det(2, 0.5, [100.5, 250.5, 180.49, 380.51]), // at the threshold: kept
                det(1, 0.51, [0.0, 0.0, 640.0, 480.0]),    // the whole image
            ],
        },
        Case {
            given: "../../photos/dog.png",
            exported: "dog.png",
            width: 1024,
            height: 768,
            detections: vec![
                det(18, 0.91, [100.0, 120.0, 700.0, 760.0]),
                // A placeholder slot, as an untrained model can predict: a class of its own.
                det(12, 0.7, [5.5, 6.5, 50.5, 60.5]),
            ],
        },
        Case {
            given: r"C:\Users\me\dog.png",
            exported: "dog-2.png",
            width: 333,
            height: 500,
            detections: vec![det(17, 0.6, [0.0, 0.0, 333.0, 500.0])],
        },
        Case {
            given: "empty.webp",
            exported: "empty.webp",
            width: 200,
            height: 100,
            detections: vec![det(1, 0.2, [1.0, 1.0, 2.0, 2.0])],
        },
        Case {
            given: "=SUM(1,2)'s.jpg",
            exported: "=SUM(1,2)'s.jpg",
            width: 300,
            height: 200,
            detections: vec![det(44, 0.77, [10.0, 20.0, 30.0, 40.0])],
        },
        Case {
            given: "café & <bar>.jpg",
            exported: "café & _bar_.jpg",
            width: 800,
            height: 600,
            detections: vec![
                det(47, 0.66, [400.4, 300.6, 420.4, 340.6]),
                det(62, 0.95, [1.25, 2.5, 799.75, 599.5]),
            ],
        },
        Case {
            given: "IMG_0001.JPG",
            exported: "IMG_0001.JPG",
            width: 4032,
            height: 3024,
            detections: vec![
                det(1, 0.99, [1234.567, 987.654, 2345.678, 3023.999]),
                det(90, 0.55, [3999.5, 0.5, 4031.5, 31.5]),
                det(28, 0.8, [0.333, 1000.666, 1.999, 1001.001]),
            ],
        },
    ]
}

/// What the readers must find, worked out here from the inputs, not by the export code.
fn expected(cases: &[Case], files: &Value) -> Value {
    let mut classes: Vec<Value> = COCO91
        .iter()
        .enumerate()
        .filter(|(_, n)| !matches!(**n, "__background__" | "N/A"))
        .map(|(id, n)| json!({"id": id, "name": n}))
        .collect();
    assert_eq!(classes.len(), 80);
    // The one kept detection of a placeholder slot comes after the model's classes.
    classes.push(json!({"id": 12, "name": "class_12"}));
    let images: Vec<Value> = cases
        .iter()
        .map(|c| {
            let boxes: Vec<Value> = c
                .detections
                .iter()
                .filter(|d| d.score >= THRESHOLD)
                .map(|d| {
                    json!({
                        "class_id": d.class_id,
                        "score": d.score,
                        "x1": d.bbox.x1, "y1": d.bbox.y1, "x2": d.bbox.x2, "y2": d.bbox.y2,
                    })
                })
                .collect();
            json!({"file_name": c.exported, "width": c.width, "height": c.height, "boxes": boxes})
        })
        .collect();
    json!({"tolerance_px": 0.5, "files": files, "classes": classes, "images": images})
}

fn python() -> PathBuf {
    match std::env::var_os("LOOKOUT_PYREADERS") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => panic!(
            "LOOKOUT_PYREADERS is not set: this test reads every export back with pycocotools, \
             globox and PyYAML. Run `scripts/pyreaders/venv.sh` (it creates .cache/pyreaders and \
             prints its python), then `LOOKOUT_PYREADERS=$(scripts/pyreaders/venv.sh) cargo test \
             -p app --features ssr --test export_readers`, or use `make unit`."
        ),
    }
}

#[test]
fn independent_readers_read_every_export_back() {
    let python = python();
    let cases = cases();
    let images: Vec<ExportImage<'_>> = cases
        .iter()
        .map(|c| ExportImage {
            file_name: c.given,
            width: c.width,
            height: c.height,
            detections: &c.detections,
        })
        .collect();
    let labels: Vec<String> = COCO91.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(labels.len(), 91);

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("export_readers");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("clear the previous run's folder");
    }
    std::fs::create_dir_all(&dir).expect("create the output folder");
    let mut files = serde_json::Map::new();
    for format in ExportFormat::ALL {
        let e = export(format, &images, &labels, THRESHOLD)
            .unwrap_or_else(|err| panic!("{format} export failed: {err}"));
        std::fs::write(dir.join(e.file_name), &e.bytes).expect("write the export");
        files.insert(format.as_str().to_owned(), json!(e.file_name));
    }
    let expected = expected(&cases, &Value::Object(files));
    std::fs::write(
        dir.join("expected.json"),
        serde_json::to_vec_pretty(&expected).expect("JSON"),
    )
    .expect("write expected.json");

    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pyreaders/check_exports.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "could not run {} (LOOKOUT_PYREADERS): {e}; run scripts/pyreaders/venv.sh",
                python.display()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "the readers disagree with the exports in {} ({}):\n{stdout}{stderr}",
        dir.display(),
        out.status
    );
    assert!(stdout.contains("all exports read back"), "{stdout}");
}
