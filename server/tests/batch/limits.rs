//! What a batch refuses: too many images, too large a body, bad fields, and a missing key.

use reqwest::header;
use reqwest::multipart::Form;
use serde_json::json;

use crate::common::{b64, post_png, problem, TestServer};
use crate::{image_part, png_of, shapes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_limits_and_refusals() {
    let server = TestServer::start(&[
        "--max-batch-images",
        "2",
        "--max-body-bytes",
        "600000",
        "--max-batch-body-bytes",
        "1500000",
    ])
    .await;
    let url = server.url("/v1/detect/batch");
    let small = png_of(64, 64);
    let three = || {
        Form::new()
            .part("image", image_part(small.clone(), "a.png"))
            .part("image", image_part(small.clone(), "b.png"))
            .part("image", image_part(small.clone(), "c.png"))
    };
    let d = problem(
        server
            .client
            .post(&url)
            .multipart(three())
            .send()
            .await
            .unwrap(),
        413,
    )
    .await;
    assert!(d.contains("more than 2 images"), "{d}");
    let json_three = json!({"images": [{"image": "AA"}, {"image": "AA"}, {"image": "AA"}]});
    problem(
        server
            .client
            .post(&url)
            .json(&json_three)
            .send()
            .await
            .unwrap(),
        413,
    )
    .await;
    // Two fit, although together they are over the single-image body limit: a batch has
    // its own (--max-batch-body-bytes).
    let two = Form::new()
        .part("image", image_part(shapes(1), "a.png"))
        .part("image", image_part(shapes(3), "b.png"));
    let r = server
        .client
        .post(&url)
        .multipart(two)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A 1 MB image: too large alone on /v1/detect, taken in a batch.
    let one_mb = shapes(0);
    let d = problem(post_png(&server, "/v1/detect", one_mb.clone()).await, 413).await;
    assert!(d.contains("body"), "{d}");
    let r = server
        .client
        .post(&url)
        .multipart(Form::new().part("image", image_part(one_mb, "a.png")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The batch limit applies to the whole batch: two images of about 1 MB each are too much.
    let big = Form::new()
        .part("image", image_part(shapes(0), "a.png"))
        .part("image", image_part(shapes(4), "b.png"));
    let d = problem(
        server
            .client
            .post(&url)
            .multipart(big)
            .send()
            .await
            .unwrap(),
        413,
    )
    .await;
    assert!(d.contains("body"), "{d}");
    // No images, a picture format, an unknown option, an unknown model, a raw image body.
    let d = problem(
        server
            .client
            .post(&url)
            .json(&json!({"images": []}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(d.contains("no images"), "{d}");
    let one = || Form::new().part("image", image_part(shapes(0), "a.png"));
    let d = problem(
        server
            .client
            .post(format!("{url}?format=png"))
            .multipart(one())
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(d.contains("format=zip"), "{d}");
    problem(
        server
            .client
            .post(format!("{url}?colour=red"))
            .multipart(one())
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    problem(
        server
            .client
            .post(format!("{url}?model=nope"))
            .multipart(one())
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    problem(
        server
            .client
            .post(&url)
            .header(header::CONTENT_TYPE, "image/png")
            .body(shapes(0))
            .send()
            .await
            .unwrap(),
        415,
    )
    .await;
    problem(
        server
            .client
            .post(&url)
            .json(&json!({"images": [{"image": "AA", "colour": "red"}]}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_needs_the_key() {
    let server = TestServer::start(&["--api-key", "s3cret"]).await;
    let url = server.url("/v1/detect/batch");
    let one = || Form::new().part("image", image_part(shapes(0), "a.png"));
    problem(
        server
            .client
            .post(&url)
            .multipart(one())
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(
        server
            .client
            .post(&url)
            .json(&json!({"images": [{"image": b64(&shapes(0))}]}))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(
        server
            .client
            .post(&url)
            .bearer_auth("wrong")
            .multipart(one())
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    let r = server
        .client
        .post(&url)
        .bearer_auth("s3cret")
        .multipart(one())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A form may carry the key as a field, before the images.
    let form = Form::new()
        .text("api_key", "s3cret")
        .part("image", image_part(shapes(0), "a.png"));
    let r = server
        .client
        .post(&url)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
