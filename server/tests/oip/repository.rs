//! The model repository: the admin key, the index, unload and load, and reloads while
//! requests run (none fails; a broken file leaves the old model serving).

use std::sync::Arc;

use serde_json::{json, Value};

use super::common::TestServer;
use super::{error, image, infer, infer_json, models_dir, output, Busy};

async fn admin(server: &TestServer, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut request = server.client.post(server.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

async fn model_names(server: &TestServer) -> Vec<String> {
    let models = server.get_json("/v1/models").await;
    models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn without_an_admin_key_the_repository_is_closed() {
    let server = TestServer::start(&[]).await;
    for path in [
        "/v2/repository/index",
        "/v2/repository/models/shapes/load",
        "/v2/repository/models/shapes/unload",
    ] {
        let words = error(admin(&server, path, Some("anything")).await, 403).await;
        assert!(words.contains("--admin-key"), "{words}");
    }
}

#[tokio::test]
async fn index_unload_and_load() {
    let dir = models_dir("oip_repository");
    let dir_arg = dir.display().to_string();
    let server = TestServer::start(&[
        "--models-dir",
        &dir_arg,
        "--default-model",
        "shapes",
        "--admin-key",
        "adm1n",
        "--api-key",
        "user",
    ])
    .await;
    // The admin key, not the API key.
    error(admin(&server, "/v2/repository/index", None).await, 401).await;
    let words = error(
        admin(&server, "/v2/repository/index", Some("user")).await,
        401,
    )
    .await;
    assert!(words.contains("admin key is not valid"), "{words}");

    let index: Value = admin(&server, "/v2/repository/index", Some("adm1n"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        index,
        json!([{"name": "shapes", "version": "1", "state": "READY"},
               {"name": "spare", "version": "1", "state": "READY"}])
    );
    let unloaded = admin(&server, "/v2/repository/models/spare/unload", Some("adm1n")).await;
    assert_eq!(unloaded.status(), 200);
    let index: Value = admin(&server, "/v2/repository/index", Some("adm1n"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        index[1],
        json!({"name": "spare", "version": "1", "state": "UNAVAILABLE", "reason": "unloaded"})
    );

    // Unloaded: gone from /v1/models, /readyz and the protocol; its requests are 404s.
    let user = |r: reqwest::RequestBuilder| r.bearer_auth("user");
    let models: Value = user(server.client.get(server.url("/v1/models")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["models"].as_array().unwrap().len(), 1);
    let readyz = server.get_json("/readyz").await;
    assert_eq!(readyz["models"].as_array().unwrap().len(), 1);
    let image = image();
    let response = user(server.client.post(server.url("/v2/models/spare/infer")))
        .json(&infer_json(&image, json!({})))
        .send()
        .await
        .unwrap();
    error(response, 404).await;
    let words = error(
        admin(
            &server,
            "/v2/repository/models/shapes/unload",
            Some("adm1n"),
        )
        .await,
        400,
    )
    .await;
    assert!(words.contains("default model"), "{words}");
    error(
        admin(&server, "/v2/repository/models/nothing/load", Some("adm1n")).await,
        404,
    )
    .await;

    // Loaded again: serves.
    assert_eq!(
        admin(&server, "/v2/repository/models/spare/load", Some("adm1n"))
            .await
            .status(),
        200
    );
    let response = user(server.client.post(server.url("/v2/models/spare/infer")))
        .json(&infer_json(&image, json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["model_name"], "spare");

    // A file added after start is loaded by name.
    std::fs::copy(dir.join("shapes.onnx"), dir.join("late.onnx")).unwrap();
    assert_eq!(
        admin(&server, "/v2/repository/models/late/load", Some("adm1n"))
            .await
            .status(),
        200
    );
    let models: Value = user(server.client.get(server.url("/v1/models")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shapes", "spare", "late"]);
}

#[tokio::test]
async fn reloads_while_requests_run_fail_none_and_a_broken_file_keeps_the_old_model() {
    let dir = models_dir("oip_reload");
    let dir_arg = dir.display().to_string();
    let server = Arc::new(
        TestServer::start(&[
            "--models-dir",
            &dir_arg,
            "--default-model",
            "shapes",
            "--admin-key",
            "k",
        ])
        .await,
    );
    let image = Arc::new(image());
    let reference: Value = infer(&server, "spare", &infer_json(&image, json!({})))
        .await
        .json()
        .await
        .unwrap();

    // Clients keep asking the model being reloaded; each answer must be a full success.
    let busy = Busy::start(&server, &image, "spare", 3);
    for _ in 0..3 {
        let response = admin(&server, "/v2/repository/models/spare/load", Some("k")).await;
        assert_eq!(response.status(), 200);
    }
    let sha_before = server.model_sha("spare").await;

    // A broken file: the load says why, and the old engine keeps serving.
    std::fs::write(dir.join("spare.onnx"), b"this is not an onnx model").unwrap();
    let words = error(
        admin(&server, "/v2/repository/models/spare/load", Some("k")).await,
        400,
    )
    .await;
    assert!(
        words.contains("could not be loaded") && words.contains("keeps serving"),
        "{words}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let total = busy.stop().await;
    assert!(total >= 3, "the clients got answers ({total})");
    assert_eq!(server.model_sha("spare").await, sha_before);
    assert!(model_names(&server).await.contains(&"spare".to_owned()));
    let after: Value = infer(&server, "spare", &infer_json(&image, json!({})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(output(&after, "labels"), output(&reference, "labels"));
    let ready = server.get_json("/v2/models/spare/ready").await;
    assert_eq!(ready["ready"], true);
}
