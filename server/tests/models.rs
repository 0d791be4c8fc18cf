//! Several models in one server: routing, listing, readiness, metrics, and a model that
//! fails to load without taking the others down.

mod common;

use common::{problem, repo, shapes_image, TestServer};
use serde_json::Value;

fn model_arg(name: &str, file: &str) -> String {
    format!("{name}={}", repo().join(file).display())
}

async fn detect(server: &TestServer, query: &str, png: &[u8]) -> reqwest::Response {
    server
        .client
        .post(server.url(&format!("/v1/detect{query}")))
        .header("content-type", "image/png")
        .body(png.to_vec())
        .send()
        .await
        .unwrap()
}

fn boxes(body: &Value) -> Vec<(String, [f64; 4])> {
    body["detections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let b = &d["box"];
            (
                d["label"].as_str().unwrap().to_owned(),
                [
                    b["x1"].as_f64().unwrap(),
                    b["y1"].as_f64().unwrap(),
                    b["x2"].as_f64().unwrap(),
                    b["y2"].as_f64().unwrap(),
                ],
            )
        })
        .collect()
}

/// The model settings a command line gives, as `lookout` parses them.
fn model_args(argv: &[&str]) -> Result<server::config::ModelArgs, clap::Error> {
    use clap::Parser;
    let mut all = vec!["lookout"];
    all.extend_from_slice(argv);
    server::config::Cli::try_parse_from(all).map(|c| c.serve.model)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_models_are_served_side_by_side() {
    let shapes = model_arg("shapes", "models/shapes.onnx");
    let zoo = model_arg("zoo", "models/shapes-zoo.onnx");
    let server = TestServer::start(&["--model", &shapes, "--model", &zoo]).await;
    let (png, truth) = shapes_image();

    // The default is the first; ?model= picks; both find the same objects.
    let default: Value = detect(&server, "", &png).await.json().await.unwrap();
    assert_eq!(default["model"]["name"], "shapes");
    let by_name: Value = detect(&server, "?model=zoo", &png)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_name["model"]["name"], "zoo");
    assert_eq!(by_name["model"]["layout"], "zoo");
    let (a, b) = (boxes(&default), boxes(&by_name));
    assert_eq!(a.len(), truth.len());
    assert_eq!(b.len(), truth.len(), "the zoo twin finds the same objects");
    for (label, bx) in &a {
        assert!(
            b.iter().any(|(l, by)| l == label
                && common::close(bx.map(|v| v as f32), by.map(|v| v as f32), 8.0)),
            "{label} {bx:?} in {b:?}"
        );
    }
    // The model as a form field, and through the page's door too.
    let form = reqwest::multipart::Form::new().text("model", "zoo").part(
        "image",
        reqwest::multipart::Part::bytes(png.clone()).file_name("a.png"),
    );
    let r: Value = server
        .client
        .post(server.url("/api/detect_upload"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["model"]["name"], "zoo");

    // An unknown model is a 404 naming the ones there are.
    let d = problem(detect(&server, "?model=nope", &png).await, 404).await;
    assert!(
        d.contains("nope") && d.contains("`shapes`") && d.contains("`zoo`"),
        "{d}"
    );

    // /v1/models lists both, with hashes and without file paths.
    let models = server.get_json("/v1/models").await;
    assert_eq!(models["default"], "shapes");
    let list = models["models"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    for (m, layout) in list.iter().zip(["torchvision", "zoo"]) {
        assert_eq!(m["state"], "ready");
        assert_eq!(m["layout"], layout);
        assert_eq!(m["sha256"].as_str().unwrap().len(), 64);
        assert!(m["resize"].as_str().is_some());
    }
    let text = models.to_string();
    assert!(
        !text.contains("models/") && !text.contains(".onnx"),
        "no file paths: {text}"
    );

    // Readiness lists each model; metrics are labelled per model.
    let ready = server.get_json("/readyz").await;
    assert_eq!(ready["status"], "ok");
    assert_eq!(ready["models"].as_array().unwrap().len(), 2);
    let metrics = common::metrics_text(&server).await;
    for name in ["shapes", "zoo"] {
        assert!(
            metrics.contains(&format!("lookout_inferences_in_flight{{model=\"{name}\"}}")),
            "{metrics}"
        );
        assert!(
            metrics.contains(&format!("lookout_model_info{{name=\"{name}\"")),
            "{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_fails_to_load_does_not_take_the_others_down() {
    let shapes = model_arg("shapes", "models/shapes.onnx");
    let server =
        TestServer::start(&["--model", &shapes, "--model", "gone=/nonexistent/gone.onnx"]).await;
    let (png, _) = shapes_image();
    assert_eq!(detect(&server, "", &png).await.status(), 200);
    let d = problem(detect(&server, "?model=gone", &png).await, 503).await;
    assert!(
        d.contains("gone") && d.contains("could not be loaded"),
        "{d}"
    );
    assert!(!d.contains("/nonexistent"), "no file paths to clients: {d}");
    let ready = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "ready: the default model serves");
    let ready: Value = ready.json().await.unwrap();
    let states: Vec<_> = ready["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                m["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("shapes".to_owned(), "ready".to_owned()),
            ("gone".to_owned(), "failed".to_owned())
        ]
    );
}

#[test]
fn model_lists_are_checked_before_anything_loads() {
    let parse = |argv: &[&str]| model_args(argv).map(|m| m.specs());
    let specs = parse(&["--model", "a=x/one.onnx", "--model", "x/two.onnx"])
        .unwrap()
        .unwrap();
    assert_eq!(
        specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["a", "two"]
    );
    let err = parse(&["--model", "x/one.onnx", "--model", "y/one.onnx"])
        .unwrap()
        .unwrap_err();
    assert!(err.contains("two models are called `one`"), "{err}");
    let err = parse(&["--model", "a=x.onnx", "--default-model", "b"])
        .unwrap()
        .unwrap_err();
    assert!(err.contains("--default-model `b`"), "{err}");
    assert!(parse(&["--model", "bad name=x.onnx"]).is_err());
    let dir = repo().join("models");
    let specs = parse(&["--models-dir", dir.to_str().unwrap()])
        .unwrap()
        .unwrap();
    let names: Vec<_> = specs.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"shapes") && names.contains(&"shapes-zoo"),
        "{names:?}"
    );
}

/// `--layout` per model: a torchvision and a zoo model side by side, each with its own
/// convention, and a forced layout that does not fit fails that model alone, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_model_has_its_own_layout() {
    let shapes = model_arg("shapes", "models/shapes.onnx");
    let zoo = model_arg("zoo", "models/shapes-zoo.onnx");
    let layouts = "zoo=zoo,shapes=torchvision";
    let server =
        TestServer::start(&["--model", &shapes, "--model", &zoo, "--layout", layouts]).await;
    let (png, truth) = shapes_image();
    for (model, layout) in [("shapes", "torchvision"), ("zoo", "zoo")] {
        let r = detect(&server, &format!("?model={model}"), &png).await;
        assert_eq!(r.status(), 200, "{model}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["model"]["layout"], layout);
        assert_eq!(boxes(&body).len(), truth.len(), "{model}");
    }
    drop(server);

    // The zoo layout forced on the torchvision model: that model fails, the other serves.
    let server = TestServer::start(&[
        "--model",
        &zoo,
        "--model",
        &shapes,
        "--layout",
        "shapes=zoo",
    ])
    .await;
    assert_eq!(detect(&server, "?model=zoo", &png).await.status(), 200);
    let d = problem(detect(&server, "?model=shapes", &png).await, 503).await;
    assert!(d.contains("could not be loaded"), "{d}");

    let parse = model_args;
    let args = parse(&[
        "--model",
        "a=x.onnx",
        "--model",
        "b=y.onnx",
        "--layout",
        "zoo",
        "--layout",
        "b=torchvision",
    ])
    .unwrap();
    assert_eq!(
        args.layout_for("a"),
        Some(detector::Layout::Zoo),
        "bare: every model"
    );
    assert_eq!(
        args.layout_for("b"),
        Some(detector::Layout::Torchvision),
        "its own wins"
    );
    assert_eq!(
        parse(&["--model", "a=x.onnx"]).unwrap().layout_for("a"),
        None
    );
    let err = parse(&["--model", "a=x.onnx", "--layout", "c=zoo"])
        .unwrap()
        .specs()
        .unwrap_err();
    assert!(err.contains("--layout names `c`"), "{err}");
    assert!(
        parse(&["--layout", "a=yolo"]).is_err(),
        "unknown layouts are refused"
    );
}
