//! Tiled detection through the engine, and a large JPEG decoded at a reduced scale.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{config, detect, engine, ground_truth, repo};
use detector::{decode, BoundingBox, Decoded, DetectOptions, Engine, EngineError, Limits};

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
    let big = Decoded::full(big);
    let plain = engine
        .detect_blocking(&big, DetectOptions::default())
        .unwrap();
    assert_eq!(plain.tiles, None, "not asked for");
    let tiled_options = DetectOptions::default()
        .with_tiling(detector::TileMode::Auto, None)
        .unwrap();
    let tiled = engine.detect_blocking(&big, tiled_options).unwrap();
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
        .detect_blocking(&Decoded::full(small), tiled_options)
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
    let first = detect(&engine, Arc::clone(&big), tiled);
    let second = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        detect(&engine, Arc::clone(&big), DetectOptions::default()).await
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
    short.tile_deadline = short.deadline;
    let engine = Arc::new(Engine::load(&short).unwrap());
    // Its first request plans with an estimate from the whole image's run, the next with
    // the tile cost it measured; neither times out.
    for _ in 0..2 {
        let t0 = std::time::Instant::now();
        detect(&engine, Arc::clone(&big), tiled).await.unwrap();
        assert!(
            t0.elapsed() < short.deadline + Duration::from_millis(100),
            "{:?}",
            t0.elapsed()
        );
    }
    let t0 = std::time::Instant::now();
    let fewer = detect(&engine, Arc::clone(&big), tiled).await.unwrap();
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
    // The same deadline for the whole image, and a longer one for tiled requests: every
    // tile runs again.
    let mut longer = short.clone();
    longer.tile_deadline = took * 4;
    let engine_longer = Arc::new(Engine::load(&longer).unwrap());
    let all = detect(&engine_longer, Arc::clone(&big), tiled)
        .await
        .unwrap();
    assert_eq!(all.tiles, Some(planned), "the tiles' own deadline");
    // With no time even for the whole image, the request times out as before.
    let mut tight = self::config();
    tight.deadline = Duration::from_millis(1);
    let engine_tight = Arc::new(Engine::load(&tight).unwrap());
    let err = detect(&engine_tight, Arc::clone(&big), tiled)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::DeadlineExceeded { .. }),
        "{err:?}"
    );
    let small = image::RgbImage::from_pixel(64, 64, image::Rgb([100, 100, 100]));
    assert!(engine
        .detect_blocking(&Decoded::full(small), DetectOptions::default())
        .is_ok());
}

/// How long a tiled request takes on an idle engine (its second run: the first plans with
/// an estimate, later ones with the measured tile cost).
async fn first_took(
    engine: &Arc<Engine>,
    image: &Arc<image::RgbImage>,
    options: DetectOptions,
) -> Duration {
    let _ = detect(engine, Arc::clone(image), options).await.unwrap();
    let t0 = std::time::Instant::now();
    let _ = detect(engine, Arc::clone(image), options).await.unwrap();
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
        .detect(admission, reduced, DetectOptions::default())
        .await
        .unwrap();
    assert_eq!((result.width, result.height), (4000, 3000));
    let full = engine
        .detect_blocking(
            &Decoded::full(decode(&bytes, &Limits::default()).unwrap()),
            DetectOptions::default(),
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
