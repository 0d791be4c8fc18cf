//! `lookout detect` over folders: recursion, non-images skipped, broken images reported with
//! a failing exit status, and every output format, the exports read back by the independent
//! readers (`LOOKOUT_PYREADERS=$(scripts/pyreaders/venv.sh)`, as `make unit` sets it).

mod pyreaders;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn shapes(i: usize) -> PathBuf {
    repo().join(format!("detector/tests/fixtures/shapes/{i:04}.png"))
}

fn lookout(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lookout"))
        .current_dir(repo())
        .stdin(Stdio::null())
        .arg("detect")
        .args(args)
        .args(["--threads", "2"])
        .output()
        .unwrap()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// photos/a.png, photos/notes.txt, photos/nested/b.png, photos/nested/deeper/c (a PNG without
/// an extension).
fn photo_folder(name: &str) -> PathBuf {
    let root = pyreaders::fresh_dir(name);
    let photos = root.join("photos");
    std::fs::create_dir_all(photos.join("nested/deeper")).unwrap();
    std::fs::copy(shapes(0), photos.join("a.png")).unwrap();
    std::fs::write(photos.join("notes.txt"), "not a picture\n").unwrap();
    std::fs::copy(shapes(1), photos.join("nested/b.png")).unwrap();
    std::fs::copy(shapes(3), photos.join("nested/deeper/c")).unwrap();
    photos
}

#[test]
fn a_folder_is_searched_for_images_and_other_files_are_skipped() {
    let photos = photo_folder("cli_folder");
    let out = lookout(&[path_str(&photos)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("notes.txt: skipped, not an image"),
        "{stderr}"
    );
    let results: Value = serde_json::from_slice(&out.stdout).unwrap();
    let files: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    let want: Vec<String> = ["a.png", "nested/b.png", "nested/deeper/c"]
        .iter()
        .map(|f| photos.join(f).display().to_string())
        .collect();
    assert_eq!(files, want, "every image, in name order, and nothing else");
    for r in results.as_array().unwrap() {
        assert!(!r["detections"].as_array().unwrap().is_empty(), "{r}");
    }

    // A broken image is reported and counts as failed; the others still come out.
    std::fs::write(
        photos.join("broken.png"),
        &std::fs::read(shapes(2)).unwrap()[..5000],
    )
    .unwrap();
    let out = lookout(&[path_str(&photos)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("broken.png"), "{stderr}");
    assert!(stderr.contains("3 images detected, 1 failed"), "{stderr}");
    let results: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results.as_array().unwrap().len(), 3);

    // A path that does not exist fails too, after the others ran.
    let out = lookout(&[path_str(&photos.join("nested")), "/nonexistent/photos"]);
    assert_eq!(out.status.code(), Some(1));
    let results: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results.as_array().unwrap().len(), 2);
}

#[test]
fn every_output_format_of_a_folder_reads_back() {
    let photos = photo_folder("cli_formats");
    let work = photos.parent().unwrap().to_path_buf();
    let threshold = "0.6";
    let json_out = lookout(&[path_str(&photos), "--threshold", threshold]);
    assert!(json_out.status.success());
    let results: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    let images: Vec<Value> = results
        .as_array()
        .unwrap()
        .iter()
        .zip(["a.png", "b.png", "c"])
        .map(|(r, name)| {
            pyreaders::expected_image(
                name,
                r["image"]["width"].as_u64().unwrap(),
                r["image"]["height"].as_u64().unwrap(),
                &r["detections"],
                0.6,
            )
        })
        .collect();

    let exports = work.join("exports");
    std::fs::create_dir_all(&exports).unwrap();
    // COCO and CSV on stdout, YOLO into a folder, VOC as a ZIP.
    for (format, file) in [("coco", "coco.json"), ("csv", "detections.csv")] {
        let out = lookout(&[
            path_str(&photos),
            "--threshold",
            threshold,
            "--format",
            format,
        ]);
        assert!(out.status.success(), "{format}");
        std::fs::write(exports.join(file), &out.stdout).unwrap();
    }
    let yolo = exports.join("yolo");
    let out = lookout(&[
        path_str(&photos),
        "--threshold",
        threshold,
        "--format",
        "yolo",
        "--out",
        path_str(&yolo),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(yolo.join("labels/a.txt").is_file() && yolo.join("data.yaml").is_file());
    let voc = exports.join("voc.zip");
    let out = lookout(&[
        path_str(&photos),
        "--threshold",
        threshold,
        "--format",
        "voc",
        "--out",
        path_str(&voc),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    pyreaders::check(
        &exports,
        json!({"coco": "coco.json", "csv": "detections.csv", "yolo": "yolo", "voc": "voc.zip"}),
        pyreaders::shapes_classes(),
        images,
    );

    // --out as a folder for a one-file format; YOLO/VOC without --out is refused up front.
    let out = lookout(&[
        path_str(&photos),
        "--format",
        "coco",
        "--out",
        path_str(&exports),
    ]);
    assert!(out.status.success());
    assert!(exports.join("lookout-coco.json").is_file());
    let out = lookout(&[path_str(&photos), "--format", "voc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out"));
}
