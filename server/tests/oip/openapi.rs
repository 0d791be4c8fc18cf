//! The protocol's REST routes in the API description (`/openapi.json`): each with its
//! schemas, the binary extension described, and errors as `{"error"}`.

use serde_json::Value;

#[test]
fn every_v2_route_is_described_with_its_errors() {
    use utoipa::OpenApi;
    let api = serde_json::to_value(server::routes::docs::ApiDoc::openapi()).unwrap();
    let paths = api["paths"].as_object().unwrap();
    let v2: Vec<(&str, &str)> = vec![
        ("get", "/v2"),
        ("get", "/v2/health/live"),
        ("get", "/v2/health/ready"),
        ("get", "/v2/models/{name}"),
        ("get", "/v2/models/{name}/versions/{version}"),
        ("get", "/v2/models/{name}/ready"),
        ("get", "/v2/models/{name}/versions/{version}/ready"),
        ("post", "/v2/models/{name}/infer"),
        ("post", "/v2/models/{name}/versions/{version}/infer"),
        ("post", "/v2/repository/index"),
        ("post", "/v2/repository/models/{name}/load"),
        ("post", "/v2/repository/models/{name}/unload"),
    ];
    let described: Vec<&String> = paths.keys().filter(|p| p.starts_with("/v2")).collect();
    assert_eq!(described.len(), v2.len(), "{described:?}");
    for (method, path) in v2 {
        let operation = &paths[path][method];
        assert_eq!(
            operation["tags"][0], "open inference protocol",
            "{method} {path}"
        );
        let responses = operation["responses"].as_object().unwrap();
        assert!(responses.contains_key("200"), "{method} {path}");
        for (status, response) in responses {
            let schema = &response["content"]["application/json"]["schema"]["$ref"];
            if status.starts_with('4') || (status.starts_with('5') && !path.ends_with("ready")) {
                assert_eq!(
                    schema, "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
    }
    let infer = &paths["/v2/models/{name}/infer"]["post"];
    let words = infer["description"].as_str().unwrap();
    assert!(
        words.contains("Inference-Header-Content-Length") && words.contains("binary_data_size"),
        "{words}"
    );
    assert!(infer["requestBody"]["content"]["application/octet-stream"].is_object());
    let schemas = &api["components"]["schemas"];
    let required = |name: &str| -> Vec<Value> {
        schemas[name]["required"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(required("ErrorBody"), ["error"]);
    for field in ["name", "datatype", "shape"] {
        assert!(required("InputJson").contains(&Value::from(field)));
    }
    for field in ["model_name", "model_version", "outputs"] {
        assert!(required("InferResponse").contains(&Value::from(field)));
    }
    assert!(api["components"]["securitySchemes"]["admin_key"].is_object());
}
