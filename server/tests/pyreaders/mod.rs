//! The independent export readers (scripts/pyreaders/check_exports.py: pycocotools, globox,
//! PyYAML, Python's csv) run over exports the server or the CLI wrote, against what its JSON
//! answer said. Needs `LOOKOUT_PYREADERS=$(scripts/pyreaders/venv.sh)` (`make unit` sets it).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

pub fn python() -> PathBuf {
    match std::env::var_os("LOOKOUT_PYREADERS") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => panic!(
            "LOOKOUT_PYREADERS is not set: this test reads every export back with pycocotools, \
             globox and PyYAML. Run `scripts/pyreaders/venv.sh` (it creates .cache/pyreaders and \
             prints its python), then `LOOKOUT_PYREADERS=$(scripts/pyreaders/venv.sh) cargo test \
             -p server --test batch`, or use `make unit`."
        ),
    }
}

/// A fresh folder under the target dir for one check.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("clear the previous run's folder");
    }
    std::fs::create_dir_all(&dir).expect("create the folder");
    dir
}

/// What the readers must find for one image: `detections` as `POST /v1/detect` answers them
/// (`[{"label", "class_id", "score", "box": {x1, y1, x2, y2}}]`), those at or above `threshold`.
pub fn expected_image(
    file_name: &str,
    width: u64,
    height: u64,
    detections: &Value,
    threshold: f64,
) -> Value {
    let boxes: Vec<Value> = detections
        .as_array()
        .expect("a detections list")
        .iter()
        .filter(|d| d["score"].as_f64().unwrap() >= threshold)
        .map(|d| {
            let b = if d["box"].is_object() {
                &d["box"]
            } else {
                &d["bbox"]
            };
            json!({
                "class_id": d["class_id"], "score": d["score"],
                "x1": b["x1"], "y1": b["y1"], "x2": b["x2"], "y2": b["y2"],
            })
        })
        .collect();
    json!({"file_name": file_name, "width": width, "height": height, "boxes": boxes})
}

/// The shapes model's classes, in YOLO order.
pub fn shapes_classes() -> Value {
    json!([
        {"id": 1, "name": "red_rectangle"},
        {"id": 2, "name": "green_ellipse"},
        {"id": 3, "name": "blue_triangle"},
    ])
}

/// Runs the readers over `dir`, which holds the exports named in `files` (`{"coco": ...,
/// "yolo": ..., "voc": ..., "csv": ...}`; YOLO/VOC as a .zip or an unpacked folder).
pub fn check(dir: &Path, files: Value, classes: Value, images: Vec<Value>) {
    let expected =
        json!({"tolerance_px": 0.5, "files": files, "classes": classes, "images": images});
    std::fs::write(
        dir.join("expected.json"),
        serde_json::to_vec_pretty(&expected).unwrap(),
    )
    .unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pyreaders/check_exports.py");
    let python = python();
    let out = Command::new(&python)
        .arg(&script)
        .arg(dir)
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
        "the readers disagree with the exports in {}:\n{stdout}{stderr}",
        dir.display()
    );
    assert!(stdout.contains("all exports read back"), "{stdout}");
}
