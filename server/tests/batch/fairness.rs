//! The fairness rule: a single request is answered while a batch runs, and a batch's items wait
//! for a place instead of failing; and the batch route documents it.

use std::time::{Duration, Instant};

use reqwest::header;
use reqwest::multipart::Form;
use serde_json::Value;

use crate::common::{self, gauge, TestServer};
use crate::{image_part, png_of, shapes};

async fn wait_until_running(server: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while gauge(server, "lookout_inferences_in_flight").await < 1.0 {
        assert!(Instant::now() < deadline, "nothing started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_request_is_answered_while_a_big_batch_runs() {
    let server = TestServer::start(&["--threads", "1", "--sessions", "1"]).await;
    let big = png_of(1333, 1000);
    let mut form = Form::new();
    for i in 0..10 {
        form = form.part("image", image_part(big.clone(), &format!("{i}.png")));
    }
    let batch = {
        let request = server
            .client
            .post(server.url("/v1/detect/batch"))
            .multipart(form);
        tokio::spawn(async move {
            let answer: Value = request.send().await.unwrap().json().await.unwrap();
            answer
        })
    };
    wait_until_running(&server).await;
    let single = common::post_png(&server, "/v1/detect", shapes(0)).await;
    assert_eq!(single.status(), 200);
    assert!(
        !batch.is_finished(),
        "the single request waited for the whole batch"
    );
    let answer = batch.await.unwrap();
    assert_eq!(answer["succeeded"], 10, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_items_wait_for_a_place_instead_of_failing() {
    // One place in all: a single request holds it, and the batch waits rather than failing.
    let server =
        TestServer::start(&["--threads", "1", "--sessions", "1", "--queue-depth", "0"]).await;
    let single = {
        let client = server.client.clone();
        let url = server.url("/v1/detect");
        let png = png_of(1333, 1333);
        tokio::spawn(async move {
            client
                .post(url)
                .header(header::CONTENT_TYPE, "image/png")
                .body(png)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    wait_until_running(&server).await;
    // A single request now is refused at once: the engine is full.
    let refused = common::post_png(&server, "/v1/detect", shapes(0)).await;
    assert_eq!(refused.status(), 503);
    let form = Form::new()
        .part("image", image_part(shapes(0), "a.png"))
        .part("image", image_part(shapes(1), "b.png"));
    let answer: Value = server
        .client
        .post(server.url("/v1/detect/batch"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["succeeded"], 2, "{answer}");
    assert_eq!(single.await.unwrap(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_route_is_documented() {
    let server = TestServer::start(&[]).await;
    let doc = server.get_json("/openapi.json").await;
    let batch = &doc["paths"]["/v1/detect/batch"]["post"];
    let description = batch["description"].as_str().unwrap();
    assert!(description.contains("Fairness"), "{description}");
    assert!(
        description.contains("Lookout-Failed-Items"),
        "{description}"
    );
    assert!(doc["components"]["schemas"]["BatchResponse"].is_object());
}
