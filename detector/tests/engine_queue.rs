//! The engine's queue and sessions: admission, waiting for a session, the deadline, and
//! filling the pool after the first session.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{config, detect, ground_truth, repo};
use detector::{decode, Decoded, DetectOptions, Engine, EngineError, Limits};

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
    let first = detect(&engine, Arc::clone(&image), DetectOptions::default());
    let second = detect(&engine, Arc::clone(&image), DetectOptions::default());
    let (first, second) = tokio::join!(first, second);
    assert!(first.is_ok(), "{first:?}");
    assert!(
        matches!(second, Err(EngineError::Busy { capacity: 1 })),
        "{second:?}"
    );
    // Capacity comes back once the first is done.
    assert!(detect(&engine, image, DetectOptions::default())
        .await
        .is_ok());
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
        .detect(admitted, Arc::clone(&image), DetectOptions::default())
        .await
        .unwrap();
    filling.await.unwrap().unwrap();
    assert_eq!(engine.sessions_pooled(), 2);
    // A full pool is left as it is.
    engine.fill_pool().unwrap();
    assert_eq!(engine.sessions_pooled(), 2);
    let after = detect(&engine, image, DetectOptions::default())
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
    let runs = (0..4).map(|_| detect(&engine, Arc::clone(&image), DetectOptions::default()));
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
    let err = detect(&engine, big, DetectOptions::default())
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
        .detect_blocking(&Decoded::full(small), DetectOptions::default())
        .is_ok());
}
