//! Ordered sources against loopback servers that behave like the Hugging Face Hub (a front
//! that answers 302 to a storage host with a single-use signed token) and like other
//! mirrors: breaks resumed through the first URL, sources that fail giving way to the next,
//! the token kept to the Hub's own host, and bytes that are not the pinned file refused.
//! Nothing here contacts anything but 127.0.0.1.

mod common;

use axum::http::StatusCode;
use common::*;
use pull::{pull, Answer, PullError, PullOptions};

const TOKEN: &str = "hf_test_token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_transfer_resumes_through_the_first_url_with_a_fresh_token() {
    let body = content();
    let storage = Served {
        break_after: Some(MIB),
        ..Served::new(body.clone())
    }
    .with_tokens(&[]);
    let storage_addr = start(storage.clone()).await;
    let hub = Hub::default();
    let hub_addr = start_hub(hub.clone(), storage_addr).await;
    let dir = TempDir::new("hub-break");
    let (options, notes) = options_with_notes();

    let plan = plan(vec![hub_source(hub_addr)], &body);
    let pulled = pull(&plan, &dir.0, &options).await.unwrap();

    assert_eq!(read(&dir.target()), body);
    assert!(!dir.part().exists());
    assert_eq!(pulled.retries, 1);
    assert_eq!(pulled.fetched, LEN as u64);
    assert_eq!(pulled.source, Some(hub_addr.to_string()));
    // The first URL was asked again, from the end of the part, for a fresh signed URL.
    let resumed = Some(format!("bytes={MIB}-"));
    let hub_ranges: Vec<_> = hub.seen().into_iter().map(|s| s.range).collect();
    assert_eq!(hub_ranges, vec![None, resumed.clone()]);
    let storage_seen = storage.seen();
    let asked: Vec<_> = storage_seen
        .iter()
        .map(|s| (s.token.as_deref(), s.range.clone(), s.status))
        .collect();
    assert_eq!(
        asked,
        vec![(Some("t1"), None, 200), (Some("t2"), resumed, 206)],
        "no used token was sent again"
    );
    // The file once: the broken part (1 MiB, asked from 0) plus the rest (asked from 1 MiB);
    // no byte was sent twice.
    assert_eq!(storage.sent(), LEN as u64);
    let notes = lines(&notes);
    assert!(
        notes.iter().any(|l| l.contains("retry 1 of 4")
            && l.contains(&format!("from byte {MIB}"))
            && l.contains(&hub_addr.to_string())),
        "{notes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_signed_url_is_asked_for_again() {
    let body = content();
    // The first token the front issues has already expired when it is used: 403, as the
    // Hub's storage answers a stale signed URL.
    let storage = Served::new(body.clone()).with_tokens(&["t1"]);
    let storage_addr = start(storage.clone()).await;
    let hub = Hub::default();
    let hub_addr = start_hub(hub.clone(), storage_addr).await;
    let dir = TempDir::new("hub-expired");

    let plan = plan(vec![hub_source(hub_addr)], &body);
    let pulled = pull(&plan, &dir.0, &options()).await.unwrap();

    assert_eq!(read(&dir.target()), body);
    assert_eq!(pulled.retries, 1);
    assert_eq!(hub.seen().len(), 2);
    let statuses: Vec<_> = storage.seen().into_iter().map(|s| s.status).collect();
    assert_eq!(statuses, vec![403, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_token_never_reaches_another_host() {
    let body = content();
    let storage = Served {
        break_after: Some(MIB),
        ..Served::new(body.clone())
    }
    .with_tokens(&[]);
    let storage_addr = start(storage.clone()).await;
    let hub = Hub::default();
    let hub_addr = start_hub(hub.clone(), storage_addr).await;
    let mirror = Served {
        status: Some(StatusCode::NOT_FOUND),
        ..Served::new(body.clone())
    };
    let mirror_addr = start(mirror.clone()).await;
    let dir = TempDir::new("hub-token");
    let options = PullOptions {
        hub_token: Some(TOKEN.to_owned()),
        ..options()
    };

    // A mirror first (never sent the token), then the Hub through a same-host redirect (a
    // renamed repository), which then redirects to its storage host.
    let mut renamed = hub_source(hub_addr);
    renamed
        .url
        .set_path(&format!("/renamed/resolve/main/{HUB_PATH}"));
    let plan = plan(vec![url_source(mirror_addr, "/model.onnx"), renamed], &body);
    pull(&plan, &dir.0, &options).await.unwrap();

    assert_eq!(read(&dir.target()), body);
    assert_eq!(mirror.seen().len(), 1);
    assert_eq!(mirror.seen()[0].authorization, None);
    let hub_seen = hub.seen();
    assert_eq!(
        hub_seen.len(),
        4,
        "renamed + canonical, twice: {hub_seen:?}"
    );
    for seen in &hub_seen {
        assert_eq!(
            seen.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{seen:?}"
        );
    }
    let storage_seen = storage.seen();
    assert_eq!(storage_seen.len(), 2);
    for seen in &storage_seen {
        assert_eq!(seen.authorization, None, "{seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_file_moves_on_to_the_next_source_with_one_line() {
    let body = content();
    let hub = Hub {
        missing: true,
        ..Hub::default()
    };
    let storage = Served::new(body.clone()).with_tokens(&[]);
    let hub_addr = start_hub(hub.clone(), start(storage.clone()).await).await;
    let github = Served::new(body.clone());
    let github_addr = start(github.clone()).await;
    let dir = TempDir::new("next-source");
    let (options, notes) = options_with_notes();

    let plan = plan(
        vec![hub_source(hub_addr), url_source(github_addr, "/moved")],
        &body,
    );
    let pulled = pull(&plan, &dir.0, &options).await.unwrap();

    assert_eq!(read(&dir.target()), body);
    assert_eq!(pulled.source, Some(github_addr.to_string()));
    assert_eq!(pulled.retries, 0);
    assert_eq!(hub.seen().len(), 1, "a 404 is not asked again");
    assert!(storage.seen().is_empty());
    let switches: Vec<_> = lines(&notes)
        .into_iter()
        .filter(|l| l.starts_with("source "))
        .collect();
    assert_eq!(
        switches,
        vec![format!(
            "source 1/2 {hub_addr}: 404 Not Found; trying {github_addr}"
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_offering_another_size_is_refused_and_the_next_serves() {
    let body = content();
    let mut longer = body.clone();
    longer.extend_from_slice(b"not the pinned file");
    let wrong = Served::new(longer);
    let wrong_addr = start(wrong.clone()).await;
    let right = Served::new(body.clone());
    let right_addr = start(right.clone()).await;
    let dir = TempDir::new("size-next");
    let (options, notes) = options_with_notes();

    let plan = plan(
        vec![
            url_source(wrong_addr, "/model.onnx"),
            url_source(right_addr, "/model.onnx"),
        ],
        &body,
    );
    pull(&plan, &dir.0, &options).await.unwrap();

    assert_eq!(read(&dir.target()), body);
    assert_eq!(right.ranges_seen(), vec![None]);
    let notes = lines(&notes);
    assert!(
        notes
            .iter()
            .any(|l| l.starts_with("source 1/2")
                && l.contains(&format!("offers {} bytes", LEN + 19))),
        "{notes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_source_resumes_where_the_last_one_broke_off() {
    let body = content();
    let breaking = Served {
        break_after: Some(MIB),
        ..Served::new(body.clone())
    };
    let breaking_addr = start(breaking.clone()).await;
    let next = Served::new(body.clone());
    let next_addr = start(next.clone()).await;
    let dir = TempDir::new("resume-next");
    let no_retries = PullOptions {
        retries: 0,
        ..options()
    };

    let plan = plan(
        vec![
            url_source(breaking_addr, "/model.onnx"),
            url_source(next_addr, "/model.onnx"),
        ],
        &body,
    );
    let pulled = pull(&plan, &dir.0, &no_retries).await.unwrap();

    assert_eq!(read(&dir.target()), body);
    assert_eq!(next.ranges_seen(), vec![Some(format!("bytes={MIB}-"))]);
    assert_eq!(pulled.fetched, LEN as u64);
    assert_eq!(breaking.sent() + next.sent(), LEN as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_source_fails_one_error_names_each() {
    let body = content();
    let hub = Hub {
        missing: true,
        ..Hub::default()
    };
    let hub_addr = start_hub(hub.clone(), refused_addr()).await;
    let unreachable = refused_addr();
    let failing = Served {
        status: Some(StatusCode::BAD_GATEWAY),
        ..Served::new(body.clone())
    };
    let failing_addr = start(failing.clone()).await;
    let dir = TempDir::new("all-fail");
    let (options, notes) = options_with_notes();

    let plan = plan(
        vec![
            hub_source(hub_addr),
            url_source(unreachable, "/model.onnx"),
            url_source(failing_addr, "/model.onnx"),
        ],
        &body,
    );
    let err = pull(&plan, &dir.0, &options).await.unwrap_err();

    let PullError::AllSourcesFailed(failed) = &err else {
        panic!("expected every source to fail, got {err:?}");
    };
    let (failures, target) = (&failed.failures, &failed.target);
    let labels: Vec<_> = failures.iter().map(|f| f.label.clone()).collect();
    assert_eq!(
        labels,
        vec![
            hub_addr.to_string(),
            unreachable.to_string(),
            failing_addr.to_string()
        ]
    );
    assert_eq!(
        failures[0].answer,
        Answer::Status {
            status: 404,
            via: None
        }
    );
    assert!(matches!(failures[1].answer, Answer::Unreachable { .. }));
    assert!(matches!(
        failures[2].answer,
        Answer::Status { status: 502, .. }
    ));
    assert_eq!(
        failing.seen().len(),
        1 + options.retries as usize,
        "a 502 is asked again"
    );
    assert!(target.is_absolute());
    let message = err.to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    for expected in [
        format!("[1/3 {hub_addr}]"),
        "404 Not Found".to_owned(),
        format!("[2/3 {unreachable}]"),
        "cannot connect".to_owned(),
        format!("[3/3 {failing_addr}]"),
        "502 Bad Gateway".to_owned(),
        format!("put the file at {}", target.display()),
        sha256_hex(&body),
        "--url".to_owned(),
    ] {
        assert!(message.contains(&expected), "{expected:?} in {message}");
    }
    let switches = lines(&notes)
        .into_iter()
        .filter(|l| l.starts_with("source "))
        .count();
    assert_eq!(switches, 2, "one line per source given up, but the last");
    assert!(!dir.part().exists());
    assert!(!dir.target().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_serving_other_bytes_is_refused_and_they_are_removed() {
    let pinned = content();
    let mut corrupt = pinned.clone();
    corrupt[LEN - 1] ^= 0x80;
    let storage = Served::new(corrupt.clone()).with_tokens(&[]);
    let storage_addr = start(storage.clone()).await;
    let hub = Hub::default();
    let hub_addr = start_hub(hub.clone(), storage_addr).await;
    let good = Served::new(pinned.clone());
    let good_addr = start(good.clone()).await;
    let dir = TempDir::new("wrong-hash");

    let plan = plan(
        vec![hub_source(hub_addr), url_source(good_addr, "/model.onnx")],
        &pinned,
    );
    let err = pull(&plan, &dir.0, &options()).await.unwrap_err();

    match &err {
        PullError::HashMismatch(mismatch) => {
            assert_eq!(mismatch.from, hub_addr.to_string());
            assert_eq!(mismatch.expected, sha256_hex(&pinned));
            assert_eq!(mismatch.actual, sha256_hex(&corrupt));
        }
        other => panic!("expected a hash mismatch, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(&hub_addr.to_string()), "{message}");
    assert!(message.contains("no other source was tried"), "{message}");
    // Fail closed: the bytes are gone and nothing else was asked.
    assert!(!dir.part().exists());
    assert!(!dir.target().exists());
    assert!(good.seen().is_empty());
}
