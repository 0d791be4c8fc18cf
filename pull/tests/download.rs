//! One source at a time against a file server on a loopback port: clean downloads, resumes,
//! servers that ignore or refuse ranges, corrupt files, stalls and unreachable hosts.
//! Nothing here contacts anything but 127.0.0.1.

mod common;

use std::time::{Duration, Instant};

use common::*;
use pull::{pull, Answer, PullError, PullOptions, Pulled};

fn only_failure(err: &PullError) -> &Answer {
    match err {
        PullError::AllSourcesFailed(failed) if failed.failures.len() == 1 => {
            &failed.failures[0].answer
        }
        other => panic!("expected one failed source, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_download_lands_verified() {
    let body = content();
    let served = Served::new(body.clone());
    let addr = start(served.clone()).await;
    let dir = TempDir::new("clean");

    let plan = plan(vec![url_source(addr, "/model.onnx")], &body);
    let pulled = pull(&plan, &dir.0, &options()).await.unwrap();

    assert_eq!(
        pulled,
        Pulled {
            path: dir.target(),
            already_present: false,
            fetched: LEN as u64,
            resumed_from: 0,
            source: Some(addr.to_string()),
            retries: 0,
        }
    );
    assert_eq!(read(&dir.target()), body);
    assert!(!dir.part().exists());
    assert_eq!(served.ranges_seen(), vec![None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_download_resumes_with_a_range_request() {
    let body = content();
    let served = Served::new(body.clone());
    let addr = start(served.clone()).await;
    let dir = TempDir::new("resume");
    let half = LEN / 2;
    std::fs::write(dir.part(), &body[..half]).unwrap();

    let plan = plan(vec![url_source(addr, "/model.onnx")], &body);
    let pulled = pull(&plan, &dir.0, &options()).await.unwrap();

    assert_eq!(served.ranges_seen(), vec![Some(format!("bytes={half}-"))]);
    assert_eq!(pulled.resumed_from, half as u64);
    assert_eq!(pulled.fetched, (LEN - half) as u64);
    assert_eq!(read(&dir.target()), body);
    assert!(!dir.part().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_prefix_is_hashed_too() {
    // The server is honest but the prefix on disk is not the file's: the hash covers it.
    let body = content();
    let addr = start(Served::new(body.clone())).await;
    let dir = TempDir::new("bad-prefix");
    let mut prefix = body[..LEN / 3].to_vec();
    prefix[10] ^= 0xff;
    std::fs::write(dir.part(), &prefix).unwrap();

    let plan = plan(vec![url_source(addr, "/model.onnx")], &body);
    let err = pull(&plan, &dir.0, &options()).await.unwrap_err();

    match &err {
        PullError::HashMismatch(mismatch) => {
            assert_eq!(mismatch.resumed_from, (LEN / 3) as u64)
        }
        other => panic!("expected a hash mismatch, got {other:?}"),
    }
    assert!(err.to_string().contains("earlier attempt"), "{err}");
    assert!(!dir.part().exists());
    assert!(!dir.target().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_file_is_refused_and_deleted() {
    let pinned = content();
    let mut corrupt = pinned.clone();
    corrupt[LEN / 2] ^= 0x01;
    let addr = start(Served::new(corrupt.clone())).await;
    let dir = TempDir::new("corrupt");

    let plan = plan(vec![url_source(addr, "/model.onnx")], &pinned);
    let err = pull(&plan, &dir.0, &options()).await.unwrap_err();

    match &err {
        PullError::HashMismatch(mismatch) => {
            assert_eq!(mismatch.file, FILE);
            assert_eq!(mismatch.from, addr.to_string());
            assert_eq!(mismatch.expected, sha256_hex(&pinned));
            assert_eq!(mismatch.actual, sha256_hex(&corrupt));
            assert_eq!(mismatch.resumed_from, 0);
        }
        other => panic!("expected a hash mismatch, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(&sha256_hex(&pinned)), "{message}");
    assert!(message.contains(&sha256_hex(&corrupt)), "{message}");
    assert!(message.contains("deleted"), "{message}");
    assert!(!dir.part().exists());
    assert!(!dir.target().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_the_wrong_size_is_refused_before_it_is_downloaded() {
    let pinned = content();
    let mut longer = pinned.clone();
    longer.extend_from_slice(b"trailing");
    let addr = start(Served::new(longer)).await;
    let dir = TempDir::new("size");

    let plan = plan(vec![url_source(addr, "/model.onnx")], &pinned);
    let err = pull(&plan, &dir.0, &options()).await.unwrap_err();

    assert_eq!(
        only_failure(&err),
        &Answer::SizeMismatch {
            expected: LEN as u64,
            actual: LEN as u64 + 8
        }
    );
    assert!(!dir.part().exists());
    assert!(!dir.target().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_ignores_ranges_still_gives_a_verified_file() {
    let body = content();
    let served = Served {
        ranges: Ranges::Ignore,
        ..Served::new(body.clone())
    };
    let addr = start(served.clone()).await;
    let dir = TempDir::new("ignore");
    let half = LEN / 2;
    // Garbage in the partial file proves it was discarded, not appended to.
    std::fs::write(dir.part(), vec![0u8; half]).unwrap();

    let plan = plan(vec![url_source(addr, "/model.onnx")], &body);
    let pulled = pull(&plan, &dir.0, &options()).await.unwrap();

    assert_eq!(served.ranges_seen(), vec![Some(format!("bytes={half}-"))]);
    assert_eq!(pulled.resumed_from, 0);
    assert_eq!(pulled.fetched, LEN as u64);
    assert_eq!(read(&dir.target()), body);
    assert!(!dir.part().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_range_starts_again_from_zero() {
    let body = content();
    let served = Served {
        ranges: Ranges::Refuse,
        ..Served::new(body.clone())
    };
    let addr = start(served.clone()).await;
    let dir = TempDir::new("refuse");
    std::fs::write(dir.part(), &body[..1000]).unwrap();

    let plan = plan(vec![url_source(addr, "/model.onnx")], &body);
    let pulled = pull(&plan, &dir.0, &options()).await.unwrap();

    assert_eq!(
        served.ranges_seen(),
        vec![Some("bytes=1000-".to_owned()), None]
    );
    assert_eq!(pulled.resumed_from, 0);
    assert_eq!(read(&dir.target()), body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_and_keep_the_range() {
    let body = content();
    let served = Served::new(body.clone());
    let addr = start(served.clone()).await;
    let dir = TempDir::new("redirect");
    let third = LEN / 3;
    std::fs::write(dir.part(), &body[..third]).unwrap();

    let plan = plan(vec![url_source(addr, "/moved")], &body);
    let pulled = pull(&plan, &dir.0, &options()).await.unwrap();

    assert_eq!(served.ranges_seen(), vec![Some(format!("bytes={third}-"))]);
    assert_eq!(pulled.resumed_from, third as u64);
    assert_eq!(read(&dir.target()), body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_host_fails_fast_with_a_clear_message() {
    let addr = refused_addr();
    let body = content();
    let dir = TempDir::new("refused");

    let started = Instant::now();
    let plan = plan(vec![url_source(addr, "/model.onnx")], &body);
    let err = pull(&plan, &dir.0, &options()).await.unwrap_err();

    // No retries: a host that refuses connections is given up at once.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    match only_failure(&err) {
        Answer::Unreachable { host, .. } => assert_eq!(host, &addr.to_string()),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    let message = err.to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    assert!(message.contains(&addr.to_string()), "{message}");
    assert!(message.contains("--url"), "{message}");
    assert!(!dir.target().exists());
    assert!(!dir.part().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_target_is_not_downloaded_again() {
    let body = content();
    let served = Served::new(body.clone());
    let addr = start(served.clone()).await;
    let dir = TempDir::new("present");
    std::fs::write(dir.target(), &body).unwrap();

    let plan = plan(vec![url_source(addr, "/model.onnx")], &body);
    let pulled = pull(&plan, &dir.0, &options()).await.unwrap();

    assert!(pulled.already_present);
    assert_eq!(pulled.fetched, 0);
    assert_eq!(served.ranges_seen(), Vec::<Option<String>>::new());

    // --force downloads it again.
    let forced = PullOptions {
        force: true,
        ..options()
    };
    let pulled = pull(&plan, &dir.0, &forced).await.unwrap();
    assert!(!pulled.already_present);
    assert_eq!(served.ranges_seen(), vec![None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_part_is_verified_without_a_request() {
    let body = content();
    let served = Served::new(body.clone());
    let addr = start(served.clone()).await;
    let dir = TempDir::new("complete-part");
    std::fs::write(dir.part(), &body).unwrap();

    let plan = plan(vec![url_source(addr, "/model.onnx")], &body);
    let pulled = pull(&plan, &dir.0, &options()).await.unwrap();

    assert_eq!(pulled.fetched, 0);
    assert_eq!(read(&dir.target()), body);
    assert!(served.seen().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_does_not_match_is_replaced_once_the_download_verifies() {
    let body = content();
    let addr = start(Served::new(body.clone())).await;
    let dir = TempDir::new("stale");
    std::fs::write(dir.target(), b"an older, different model").unwrap();

    let plan = plan(vec![url_source(addr, "/model.onnx")], &body);
    let pulled = pull(&plan, &dir.0, &options()).await.unwrap();

    assert!(!pulled.already_present);
    assert_eq!(read(&dir.target()), body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_download_keeps_its_part_and_the_next_run_resumes() {
    let body = content();
    let first = 100 * 1024;
    let stalling = Served {
        stall_after: Some(first),
        ..Served::new(body.clone())
    };
    let addr = start(stalling.clone()).await;
    let dir = TempDir::new("stall");
    let quick = PullOptions {
        stall_timeout: Duration::from_secs(1),
        retries: 1,
        ..options()
    };

    let started = Instant::now();
    let plan_stalling = plan(vec![url_source(addr, "/model.onnx")], &body);
    let err = pull(&plan_stalling, &dir.0, &quick).await.unwrap_err();
    assert!(
        matches!(only_failure(&err), Answer::Stalled { secs: 1, .. }),
        "{err}"
    );
    // Asked once more, from the bytes on disk, before giving up.
    assert_eq!(
        stalling.ranges_seen(),
        vec![None, Some(format!("bytes={first}-"))]
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(err.to_string().contains("is kept"), "{err}");
    assert_eq!(read(&dir.part()), &body[..first]);
    assert!(!dir.target().exists());

    let healthy = Served::new(body.clone());
    let addr = start(healthy.clone()).await;
    let plan_healthy = plan(vec![url_source(addr, "/model.onnx")], &body);
    let pulled = pull(&plan_healthy, &dir.0, &options()).await.unwrap();
    assert_eq!(healthy.ranges_seen(), vec![Some(format!("bytes={first}-"))]);
    assert_eq!(pulled.resumed_from, first as u64);
    assert_eq!(read(&dir.target()), body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_status_is_reported() {
    let body = content();
    let served = Served {
        status: Some(axum::http::StatusCode::NOT_FOUND),
        ..Served::new(body.clone())
    };
    let addr = start(served.clone()).await;
    let dir = TempDir::new("status");

    let plan = plan(vec![url_source(addr, "/missing.onnx")], &body);
    let err = pull(&plan, &dir.0, &options()).await.unwrap_err();

    assert_eq!(
        only_failure(&err),
        &Answer::Status {
            status: 404,
            via: None
        }
    );
    assert!(err.to_string().contains("404 Not Found"), "{err}");
    // A 404 is an answer, not a break: asked once.
    assert_eq!(served.seen().len(), 1);
    assert!(!dir.target().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_is_asked_again_with_backoff() {
    let body = content();
    let served = Served {
        status: Some(axum::http::StatusCode::SERVICE_UNAVAILABLE),
        ..Served::new(body.clone())
    };
    let addr = start(served.clone()).await;
    let dir = TempDir::new("503");
    let (options, notes) = options_with_notes();

    let plan = plan(vec![url_source(addr, "/model.onnx")], &body);
    let err = pull(&plan, &dir.0, &options).await.unwrap_err();

    assert!(
        matches!(only_failure(&err), Answer::Status { status: 503, .. }),
        "{err}"
    );
    assert_eq!(served.seen().len(), 1 + options.retries as usize);
    let retries: Vec<_> = lines(&notes)
        .into_iter()
        .filter(|l| l.contains("asking http://"))
        .collect();
    assert_eq!(retries.len(), options.retries as usize, "{retries:?}");
    assert!(retries[1].contains("in 0.0 s, retry 2 of 4"), "{retries:?}");
}
