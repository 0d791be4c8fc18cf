//! The engine with the real onnxruntime and the bundled demo model.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use detector::{
    decode, BoundingBox, DetectOptions, Engine, EngineConfig, EngineError, Layout, Limits,
    ModelError,
};
use serde::Deserialize;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn model_path() -> PathBuf {
    repo().join("models/shapes.onnx")
}

fn config() -> EngineConfig {
    let mut config = EngineConfig::new(model_path());
    config.intra_threads = 2;
    config
}

fn engine() -> Arc<Engine> {
    Arc::new(Engine::load(&config()).expect("the demo model loads"))
}

#[derive(Deserialize)]
struct GroundTruth {
    images: Vec<GtImage>,
}

#[derive(Deserialize)]
struct GtImage {
    file: String,
    width: u32,
    height: u32,
    objects: Vec<GtObject>,
}

#[derive(Deserialize)]
struct GtObject {
    label: String,
    #[serde(rename = "box")]
    bbox: [f32; 4],
}

fn ground_truth(dir: &Path) -> GroundTruth {
    let text = std::fs::read_to_string(dir.join("ground_truth.json")).expect("fixtures present");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn model_metadata_is_read_at_load() {
    let engine = engine();
    let info = engine.info();
    assert_eq!(info.layout, Layout::Torchvision);
    assert_eq!(
        info.labels,
        vec![
            "__background__",
            "red_rectangle",
            "green_ellipse",
            "blue_triangle"
        ]
    );
    assert_eq!(info.label_source, detector::LabelSource::Metadata);
    assert_eq!(info.inputs.len(), 1);
    assert_eq!(info.inputs[0].name, "images");
    assert_eq!(info.inputs[0].dtype, "f32");
    assert_eq!(info.sha256.len(), 64);
    assert_eq!(info.intra_threads, 2);
}

fn check_against_ground_truth(dir: &Path, min_recall: f64, min_precision: f64) {
    let engine = engine();
    let truth = ground_truth(dir);
    let (mut matched, mut expected, mut reported) = (0usize, 0usize, 0usize);
    for image in &truth.images {
        let bytes = std::fs::read(dir.join(&image.file)).unwrap();
        let decoded = decode(&bytes, &Limits::default()).unwrap();
        assert_eq!(decoded.dimensions(), (image.width, image.height));
        let result = engine
            .detect_blocking(&decoded, &DetectOptions::default())
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
    let image = decode(&bytes, &Limits::default()).unwrap();
    let all = engine
        .detect_blocking(&image, &DetectOptions::new(0.0, 100).unwrap())
        .unwrap()
        .detections;
    let one = engine
        .detect_blocking(&image, &DetectOptions::new(0.0, 1).unwrap())
        .unwrap()
        .detections;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0], all[0]);
    let strict = engine
        .detect_blocking(&image, &DetectOptions::new(0.999_999, 100).unwrap())
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
            .detect_blocking(&decoded, &DetectOptions::new(0.0, 1000).unwrap())
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_busy_at_once_while_the_admitted_request_succeeds() {
    let mut config = config();
    config.queue_depth = 0;
    let engine = Arc::new(Engine::load(&config).unwrap());
    let image = Arc::new(image::RgbImage::from_pixel(
        640,
        480,
        image::Rgb([120, 120, 120]),
    ));
    let first = engine.detect(Arc::clone(&image), DetectOptions::default());
    let second = engine.detect(Arc::clone(&image), DetectOptions::default());
    let (first, second) = tokio::join!(first, second);
    assert!(first.is_ok(), "{first:?}");
    assert!(
        matches!(second, Err(EngineError::Busy { capacity: 1 })),
        "{second:?}"
    );
    // Capacity comes back once the first is done.
    assert!(engine.detect(image, DetectOptions::default()).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_session_serves_while_the_others_are_built() {
    let mut config = config();
    config.sessions = 2;
    config.intra_threads = 1;
    config.fill_quiet = Duration::from_millis(200);
    let engine = Arc::new(Engine::load_first(&config).unwrap());
    assert_eq!((engine.sessions_pooled(), engine.info().sessions), (1, 2));
    let dir = repo().join("detector/tests/fixtures/shapes");
    let bytes = std::fs::read(dir.join(&ground_truth(&dir).images[0].file)).unwrap();
    let image = Arc::new(decode(&bytes, &Limits::default()).unwrap());
    // While a request is in, the pool waits for a quiet moment (up to FILL_IDLE_WAIT)
    // rather than build beside it.
    let admitted = engine.admit().unwrap();
    let filler = Arc::clone(&engine);
    let filling = tokio::task::spawn_blocking(move || filler.fill_pool());
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(engine.sessions_pooled(), 1);
    let during = engine
        .detect_admitted(admitted, Arc::clone(&image), DetectOptions::default())
        .await
        .unwrap();
    filling.await.unwrap().unwrap();
    assert_eq!(engine.sessions_pooled(), 2);
    // A full pool is left as it is.
    engine.fill_pool().unwrap();
    assert_eq!(engine.sessions_pooled(), 2);
    let after = engine
        .detect(image, DetectOptions::default())
        .await
        .unwrap();
    assert!(!during.detections.is_empty());
    assert_eq!(during.detections, after.detections);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filling_stops_when_asked() {
    let mut config = config();
    config.sessions = 2;
    config.intra_threads = 1;
    let engine = Arc::new(Engine::load_first(&config).unwrap());
    // Busy, so the filler waits for a quiet moment (up to FILL_IDLE_WAIT)...
    let _admitted = engine.admit().unwrap();
    let filler = Arc::clone(&engine);
    let started = std::time::Instant::now();
    let filling = tokio::task::spawn_blocking(move || filler.fill_pool());
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ...until a shutdown says not to bother.
    engine.stop_filling();
    filling.await.unwrap().unwrap();
    assert!(
        started.elapsed() < detector::FILL_IDLE_WAIT / 2,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(engine.sessions_pooled(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_requests_wait_their_turn() {
    let mut config = config();
    config.queue_depth = 3;
    let engine = Arc::new(Engine::load(&config).unwrap());
    let image = Arc::new(image::RgbImage::from_pixel(
        320,
        320,
        image::Rgb([90, 90, 90]),
    ));
    let runs = (0..4).map(|_| engine.detect(Arc::clone(&image), DetectOptions::default()));
    let results = futures_join_all(runs).await;
    assert!(results.iter().all(Result::is_ok));
    let waited = results
        .iter()
        .filter(|r| r.as_ref().unwrap().timings.queue_ms > 0.5)
        .count();
    assert!(
        waited >= 1,
        "with one session, later requests wait in the queue"
    );
}

async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.collect();
    let mut out = Vec::new();
    // Poll them together so they contend for the one session.
    let mut pinned: Vec<_> = handles.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, f) in pinned.iter_mut().enumerate() {
            if done[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => done[i] = Some(v),
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.extend(done.into_iter().flatten());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_past_the_deadline_is_stopped_and_the_session_reused() {
    let mut config = config();
    config.deadline = Duration::from_millis(1);
    let engine = Arc::new(Engine::load(&config).unwrap());
    let big = Arc::new(image::RgbImage::from_pixel(
        3000,
        3000,
        image::Rgb([100, 100, 100]),
    ));
    let err = engine
        .detect(big, DetectOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::DeadlineExceeded { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("1 ms"), "{err}");
    // The session went back to the pool: a blocking run still works.
    let small = image::RgbImage::from_pixel(64, 64, image::Rgb([100, 100, 100]));
    assert!(engine
        .detect_blocking(&small, &DetectOptions::default())
        .is_ok());
}

#[test]
fn a_missing_model_is_named() {
    let err = Engine::load(&EngineConfig::new("/nonexistent/model.onnx")).unwrap_err();
    assert!(matches!(
        err,
        EngineError::Model(ModelError::NotFound { .. })
    ));
    assert!(err.to_string().contains("/nonexistent/model.onnx"));
}

#[test]
fn a_model_that_is_not_onnx_is_refused_clearly() {
    let path =
        std::env::temp_dir().join(format!("lookout-not-a-model-{}.onnx", std::process::id()));
    std::fs::write(&path, b"definitely not protobuf").unwrap();
    let err = Engine::load(&EngineConfig::new(&path)).unwrap_err();
    std::fs::remove_file(&path).ok();
    assert!(
        matches!(err, EngineError::Model(ModelError::Load { .. })),
        "{err:?}"
    );
}

#[test]
fn the_wrong_layout_says_what_was_expected_and_found() {
    let mut config = config();
    config.layout = Some(Layout::Zoo);
    config.warm_up = false;
    let err = Engine::load(&config).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, EngineError::Model(ModelError::Signature { .. })),
        "{err:?}"
    );
    assert!(text.contains("expected input `image`"), "{text}");
    assert!(text.contains("images: f32 [3, "), "{text}");
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
            .detect_blocking(&decoded, &DetectOptions::default())
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

/// A 4000x3000 grey photo with the 640x480 fixture pasted at its own scale in several places
/// (one across where tiles meet): the whole-image pass sees it shrunk three times.
fn large_scene() -> (image::RgbImage, Vec<(String, BoundingBox)>) {
    let dir = repo().join("detector/tests/fixtures/shapes");
    let truth = ground_truth(&dir);
    let first = &truth.images[0];
    let small = decode(
        &std::fs::read(dir.join(&first.file)).unwrap(),
        &Limits::default(),
    )
    .unwrap();
    let mut big = image::RgbImage::from_pixel(4000, 3000, image::Rgb([128, 128, 128]));
    let mut objects = Vec::new();
    for (ox, oy) in [
        (100u32, 100u32),
        (2900, 150),
        (1000, 1200),
        (2500, 2300),
        (600, 2400),
    ] {
        image::imageops::replace(&mut big, &small, i64::from(ox), i64::from(oy));
        for o in &first.objects {
            objects.push((
                o.label.clone(),
                BoundingBox {
                    x1: o.bbox[0] + ox as f32,
                    y1: o.bbox[1] + oy as f32,
                    x2: o.bbox[2] + ox as f32,
                    y2: o.bbox[3] + oy as f32,
                },
            ));
        }
    }
    (big, objects)
}

fn recall_precision(
    found: &[detector::Detection],
    objects: &[(String, BoundingBox)],
) -> (f64, f64) {
    let mut used = vec![false; found.len()];
    let mut matched = 0;
    for (label, want) in objects {
        if let Some((i, _)) = found
            .iter()
            .enumerate()
            .find(|(i, d)| !used[*i] && &d.label == label && d.bbox.iou(want) >= 0.5)
        {
            used[i] = true;
            matched += 1;
        }
    }
    (
        matched as f64 / objects.len() as f64,
        matched as f64 / found.len().max(1) as f64,
    )
}

#[test]
fn tiles_find_what_the_whole_image_pass_shrinks_away() {
    let engine = engine();
    let (big, objects) = large_scene();
    let plain = engine
        .detect_blocking(&big, &DetectOptions::default())
        .unwrap();
    assert_eq!(plain.tiles, None, "not asked for");
    let tiled_options = DetectOptions::default()
        .with_tiling(detector::TileMode::Auto, None)
        .unwrap();
    let tiled = engine.detect_blocking(&big, &tiled_options).unwrap();
    assert_eq!((tiled.width, tiled.height), (4000, 3000));
    let tiles = tiled.tiles.expect("asked for");
    assert!(tiles.count >= 4, "{tiles:?}");
    assert_eq!(tiles.skipped, 0, "no deadline on the calling thread");
    let (r0, p0) = recall_precision(&plain.detections, &objects);
    let (r1, p1) = recall_precision(&tiled.detections, &objects);
    eprintln!("whole image: recall {r0:.2} precision {p0:.2}; tiled ({} tiles): recall {r1:.2} precision {p1:.2}", tiles.count);
    assert!(r1 >= 0.9 && p1 >= 0.9, "tiled: recall {r1} precision {p1}");
    assert!(r1 >= r0, "tiling never loses what the whole pass found");
    assert!(
        tiled
            .detections
            .windows(2)
            .all(|w| w[0].score >= w[1].score),
        "sorted by score"
    );
    // A small image is not tiled whatever the request says.
    let small = image::RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128]));
    let small_tiles = engine
        .detect_blocking(&small, &tiled_options)
        .unwrap()
        .tiles
        .expect("asked for");
    assert_eq!((small_tiles.count, small_tiles.width), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiles_share_the_requests_admission_and_deadline() {
    let (big, objects) = large_scene();
    let big = Arc::new(big);
    let tiled = DetectOptions::default()
        .with_tiling(detector::TileMode::Auto, Some(0.25))
        .unwrap();
    // One place in the engine for the whole tiled request: a second request is refused while
    // the tiles run.
    let mut config = config();
    config.queue_depth = 0;
    let engine = Arc::new(Engine::load(&config).unwrap());
    let first = engine.detect(Arc::clone(&big), tiled);
    let second = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        engine
            .detect(Arc::clone(&big), DetectOptions::default())
            .await
    };
    let (first, second) = tokio::join!(first, second);
    let first = first.unwrap();
    let planned = first.tiles.expect("asked for");
    assert!(planned.count > 0 && planned.skipped == 0, "{planned:?}");
    assert!(recall_precision(&first.detections, &objects).0 >= 0.9);
    assert!(
        matches!(second, Err(EngineError::Busy { .. })),
        "{second:?}"
    );
    // The deadline bounds all the tiles together: with half the time the tiles took, the
    // plan is fewer, larger tiles, and the answer comes within the deadline
    // instead of a timeout.
    let took = first_took(&engine, &big, tiled).await;
    let whole = first_took(&engine, &big, DetectOptions::default()).await;
    let mut short = self::config();
    short.deadline = whole + took.saturating_sub(whole) / 2;
    let engine = Arc::new(Engine::load(&short).unwrap());
    // Its first request plans with an estimate from the whole image's run, the next with
    // the tile cost it measured; neither times out.
    for _ in 0..2 {
        let t0 = std::time::Instant::now();
        engine.detect(Arc::clone(&big), tiled).await.unwrap();
        assert!(
            t0.elapsed() < short.deadline + Duration::from_millis(100),
            "{:?}",
            t0.elapsed()
        );
    }
    let t0 = std::time::Instant::now();
    let fewer = engine.detect(Arc::clone(&big), tiled).await.unwrap();
    assert!(t0.elapsed() < short.deadline, "{:?}", t0.elapsed());
    // How many fit depends on this machine's speed (tile::tests checks the arithmetic):
    // fewer than with the whole deadline, larger ones when any.
    let fewer_tiles = fewer.tiles.expect("asked for");
    assert!(
        fewer_tiles.count < planned.count,
        "{fewer_tiles:?} against {planned:?} with the whole deadline"
    );
    assert!(
        fewer_tiles.count == 0 || fewer_tiles.width > planned.width,
        "larger tiles: {fewer_tiles:?}"
    );
    // With no time even for the whole image, the request times out as before.
    let mut tight = self::config();
    tight.deadline = Duration::from_millis(1);
    let engine_tight = Arc::new(Engine::load(&tight).unwrap());
    let err = engine_tight
        .detect(Arc::clone(&big), tiled)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::DeadlineExceeded { .. }),
        "{err:?}"
    );
    let small = image::RgbImage::from_pixel(64, 64, image::Rgb([100, 100, 100]));
    assert!(engine
        .detect_blocking(&small, &DetectOptions::default())
        .is_ok());
}

/// How long a tiled request takes on an idle engine (its second run: the first plans with
/// an estimate, later ones with the measured tile cost).
async fn first_took(
    engine: &Arc<Engine>,
    image: &Arc<image::RgbImage>,
    options: DetectOptions,
) -> Duration {
    let _ = engine.detect(Arc::clone(image), options).await.unwrap();
    let t0 = std::time::Instant::now();
    let _ = engine.detect(Arc::clone(image), options).await.unwrap();
    t0.elapsed()
}

/// A large JPEG decoded at half scale gives boxes in the original's pixels, where a full
/// decode finds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reduced_decode_answers_in_original_pixels() {
    let engine = engine();
    let (big, objects) = large_scene();
    let mut jpeg = std::io::Cursor::new(Vec::new());
    big.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
        &mut jpeg, 92,
    ))
    .unwrap();
    let bytes = jpeg.into_inner();
    let probe = detector::probe(&bytes, &Limits::default()).unwrap();
    let needed = engine.needed_size(4000, 3000);
    assert_eq!(needed, (1333, 999));
    let pitch = probe.pitch_for(needed);
    assert_eq!(pitch, 2);
    let reduced = detector::decode_reduced(&bytes, &Limits::default(), pitch).unwrap();
    assert_eq!(reduced.image.dimensions(), (2000, 1500));
    let admission = engine.admit().unwrap();
    let result = engine
        .detect_decoded(admission, reduced, DetectOptions::default())
        .await
        .unwrap();
    assert_eq!((result.width, result.height), (4000, 3000));
    let full = engine
        .detect_blocking(
            &decode(&bytes, &Limits::default()).unwrap(),
            &DetectOptions::default(),
        )
        .unwrap();
    // Same objects found, boxes in the same place (the half-scale decode is a little
    // smoother than the graph's own bilinear shrink, so not to the bit).
    let big_ones: Vec<_> = objects
        .iter()
        .filter(|(_, b)| b.width().min(b.height()) >= 96.0)
        .cloned()
        .collect();
    let (r_reduced, _) = recall_precision(&result.detections, &big_ones);
    let (r_full, _) = recall_precision(&full.detections, &big_ones);
    assert!(r_reduced >= r_full, "reduced {r_reduced} vs full {r_full}");
    for d in &full.detections {
        let best = result
            .detections
            .iter()
            .filter(|o| o.class_id == d.class_id)
            .map(|o| o.bbox.iou(&d.bbox))
            .fold(0f32, f32::max);
        assert!(best >= 0.8 || d.score < 0.7, "{d:?}: best IoU {best}");
    }
    // The memory a 12 MP request budgets is the working-size tensor and its copies, not the
    // photo's.
    assert!(engine.input_bytes(4000, 3000) < 100 * 1024 * 1024);
}
