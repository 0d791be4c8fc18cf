//! `lookout detect` over folders: recursion, non-images skipped, broken images reported with
//! a failing exit status, and every output format, the exports read back by the independent
//! readers (`LOOKOUT_PYREADERS=$(scripts/pyreaders/venv.sh)`, as `make unit` sets it). And the
//! command line as a door: a record is `POST /v1/detect`'s answer for the same bytes and
//! options, and a refused file is refused in its words under the same limits (every option
//! through every door, the command line's included: tests/front/options.rs).

mod common;
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
        // The API's answer, with the file's path.
        assert_eq!(r["model"]["name"], "shapes", "{r}");
        assert!(r["timing_ms"]["total"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r.get("tiles").is_none(), "no tiles unless asked: {r}");
        let detections = r["detections"].as_array().unwrap();
        assert!(!detections.is_empty(), "{r}");
        for d in detections {
            let label = d["label"].as_str().unwrap();
            assert!(
                ["red_rectangle", "green_ellipse", "blue_triangle"].contains(&label),
                "{d}"
            );
            assert!(d["score"].as_f64().unwrap() >= 0.5, "{d}");
            assert!(d["box"]["x2"].as_f64() > d["box"]["x1"].as_f64(), "{d}");
        }
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

/// [`lookout`] off the async runtime (the test's server keeps answering meanwhile).
async fn lookout_async(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        lookout(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap()
}

/// `POST /v1/detect?query` with the file's bytes, as an upload: the status and the answer.
async fn api(server: &common::TestServer, query: &str, bytes: &[u8]) -> (u16, Value) {
    let response = server
        .client
        .post(server.url(&format!("/v1/detect?{query}")))
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The line `lookout detect` writes for a problem with `file`: the server's title and detail.
fn problem_line(file: &str, problem: &Value) -> String {
    format!(
        "lookout: {file}: {}: {}",
        problem["title"].as_str().unwrap(),
        problem["detail"].as_str().unwrap()
    )
}

/// Two answers for the same image with the same options: the same model, size, tiles and
/// detections (the same engine in two processes; scores and boxes to float noise).
fn assert_same_answer(case: &str, cli: &Value, api: &Value) {
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.retain(|k| k != "file");
        k.sort();
        k
    };
    assert_eq!(
        keys(cli),
        keys(api),
        "{case}: the record is the API's answer"
    );
    for field in ["model", "image", "tiles"] {
        assert_eq!(cli[field], api[field], "{case}: {field}");
    }
    let (a, b) = (
        cli["detections"].as_array().unwrap(),
        api["detections"].as_array().unwrap(),
    );
    assert_eq!(a.len(), b.len(), "{case}: {cli} vs {api}");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x["label"], y["label"], "{case}");
        let close = |p: &Value, q: &Value, tol: f64| {
            (p.as_f64().unwrap() - q.as_f64().unwrap()).abs() <= tol
        };
        assert!(close(&x["score"], &y["score"], 1e-4), "{case}: {x} vs {y}");
        for c in ["x1", "y1", "x2", "y2"] {
            assert!(
                close(&x["box"][c], &y["box"][c], 0.05),
                "{case}: {x} vs {y}"
            );
        }
    }
}

/// A `width` x `height` grey PNG with the first shapes fixture pasted in three places: large
/// enough that `tile=auto` cuts it into tiles.
fn large_scene(path: &Path, width: u32, height: u32) {
    let small = image::open(shapes(0)).unwrap().to_rgb8();
    let mut big = image::RgbImage::from_pixel(width, height, image::Rgb([128, 128, 128]));
    for (x, y) in [(20, 30), (width - 800, 100), (width / 3, height - 700)] {
        image::imageops::replace(&mut big, &small, i64::from(x), i64::from(y));
    }
    big.save(path).unwrap();
}

/// A file's record is the API's answer for its bytes with the same options, after its path
/// (every option, valid and invalid, through the command line and every HTTP door:
/// tests/front/options.rs); the model is the one it starts with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_is_the_apis_answer() {
    let server = common::TestServer::start(&[]).await;
    let dir = pyreaders::fresh_dir("cli_record");
    let large = dir.join("large.png");
    large_scene(&large, 2400, 1600);
    for (flags, query) in [
        (&["--default-model", "shapes"][..], "model=shapes"),
        (
            &["--tile", "auto", "--tile-overlap", "0.3"],
            "tile=auto&tile_overlap=0.3",
        ),
        (
            &["--default-model", "", "--max-detections", "2"],
            "model=&max_detections=2",
        ),
    ] {
        let mut args = vec![path_str(&large).to_owned()];
        args.extend(flags.iter().map(|f| f.to_string()));
        let out = lookout_async(args).await;
        assert!(
            out.status.success(),
            "{query}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(cli["file"], path_str(&large), "{query}");
        let (status, answer) = api(&server, query, &std::fs::read(&large).unwrap()).await;
        assert_eq!(status, 200, "{query}: {answer}");
        assert_same_answer(query, &cli, &answer);
        if query.contains("tile=auto") {
            let tiles = cli["tiles"]["count"].as_u64().unwrap();
            assert!(tiles >= 2, "{query}: {}", cli["tiles"]);
        }
    }
    // A model that is not loaded is refused when the command starts, as the server's start
    // refuses it.
    let out = lookout_async(vec![
        path_str(&large).to_owned(),
        "--default-model".into(),
        "nope".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "lookout: --default-model `nope` is not one of the models (shapes)"
    );
}

/// Files the front refuses, refused in the words `POST /v1/detect` answers the same bytes
/// with under the same limits; a file over --max-body-bytes is refused without being read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_refusals_match_the_api() {
    let limits = ["--max-body-bytes", "500000", "--max-megapixels", "0.1"];
    let server = common::TestServer::start(&limits).await;
    let dir = pyreaders::fresh_dir("cli_refusals");
    let over_limit = dir.join("large.png"); // 1 MB
    std::fs::copy(shapes(0), &over_limit).unwrap();
    let too_many_pixels = dir.join("wide.png"); // 330x501, 290 KB
    std::fs::copy(shapes(3), &too_many_pixels).unwrap();
    let text = dir.join("notes.txt");
    std::fs::write(&text, "not a picture\n").unwrap();
    for (file, status) in [(&over_limit, 413), (&too_many_pixels, 413), (&text, 415)] {
        let mut args = vec![path_str(file).to_owned()];
        args.extend(limits.iter().map(|f| f.to_string()));
        let out = lookout_async(args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let (got, problem) = api(&server, "", &std::fs::read(file).unwrap()).await;
        assert_eq!(got, status, "{problem}");
        assert_eq!(stderr.trim(), problem_line(path_str(file), &problem));
    }

    // A file far over the limit (sparse: 1 TiB that takes no disk) is refused at once.
    let huge = dir.join("huge.png");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(1 << 40)
        .unwrap();
    let started = std::time::Instant::now();
    let out = lookout_async(vec![path_str(&huge).to_owned()]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "huge.png: Request too large: the request body is larger than the 32 MiB limit"
        ),
        "{stderr}"
    );
    assert!(started.elapsed().as_secs() < 60, "not read");
    std::fs::remove_file(&huge).unwrap();

    // Found in a folder, a file that turns out not to be an image (an image's extension, other
    // bytes; or nothing at all) is skipped, not failed.
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    std::fs::copy(shapes(1), photos.join("a.png")).unwrap();
    std::fs::write(photos.join("fake.jpg"), "not a picture\n").unwrap();
    std::fs::write(photos.join("empty.png"), "").unwrap();
    let out = lookout_async(vec![path_str(&photos).to_owned()]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("fake.jpg: skipped, Not an image: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("empty.png: skipped, No image: "),
        "{stderr}"
    );
    let results: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results.as_array().unwrap().len(), 1);
}
