//! gRPC (`inference.GRPCInferenceService`) with a tonic client: health, metadata, inference
//! with raw and typed contents, the key, the message limit, the client's deadline and the
//! repository.

use std::time::Duration;

use serde_json::Value;
use server::routes::oip::proto::inference::{
    self as pb, grpc_inference_service_client::GrpcInferenceServiceClient,
};
use tonic::transport::Channel;
use tonic::{Code, Request};

use super::common::TestServer;
use super::{as_tensors, image, models_dir, v1_detections};

async fn client(server: &TestServer) -> GrpcInferenceServiceClient<Channel> {
    let addr = server
        .running
        .as_ref()
        .unwrap()
        .grpc_addr
        .expect("a gRPC address");
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    GrpcInferenceServiceClient::new(channel).max_decoding_message_size(64 << 20)
}

fn element(data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(data);
    out
}

fn image_input(
    contents: Option<pb::InferTensorContents>,
) -> pb::model_infer_request::InferInputTensor {
    pb::model_infer_request::InferInputTensor {
        name: "image".into(),
        datatype: "BYTES".into(),
        shape: vec![1],
        parameters: Default::default(),
        contents,
    }
}

fn raw_request(model: &str, image: &[u8]) -> pb::ModelInferRequest {
    pb::ModelInferRequest {
        model_name: model.into(),
        id: "g-1".into(),
        inputs: vec![image_input(None)],
        raw_input_contents: vec![element(image)],
        ..Default::default()
    }
}

fn with_key<T>(message: T, key: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    request
}

#[tokio::test]
async fn health_metadata_and_inference() {
    let server = TestServer::start(&["--grpc-addr", "127.0.0.1:0"]).await;
    let mut grpc = client(&server).await;
    assert!(
        grpc.server_live(pb::ServerLiveRequest {})
            .await
            .unwrap()
            .into_inner()
            .live
    );
    // The gRPC port answers HTTP/1 health probes too (Knative probes the serving port).
    let addr = server.running.as_ref().unwrap().grpc_addr.unwrap();
    let probe = server
        .client
        .get(format!("http://{addr}/v2/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 200);
    assert_eq!(probe.json::<Value>().await.unwrap()["ready"], true);
    assert!(
        grpc.server_ready(pb::ServerReadyRequest {})
            .await
            .unwrap()
            .into_inner()
            .ready
    );
    let meta = grpc
        .server_metadata(pb::ServerMetadataRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(meta.name, "lookout");
    assert!(meta.extensions.contains(&"binary_tensor_data".to_owned()));
    let ready = grpc
        .model_ready(pb::ModelReadyRequest {
            name: "shapes".into(),
            version: String::new(),
        })
        .await
        .unwrap();
    assert!(ready.into_inner().ready);
    let model = grpc
        .model_metadata(pb::ModelMetadataRequest {
            name: "shapes".into(),
            version: "1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(model.inputs[0].datatype, "BYTES");
    let outputs: Vec<(String, String, Vec<i64>)> = model
        .outputs
        .into_iter()
        .map(|t| (t.name, t.datatype, t.shape))
        .collect();
    assert_eq!(outputs[0], ("boxes".into(), "FP32".into(), vec![-1, 4]));
    assert_eq!(outputs[2], ("labels".into(), "BYTES".into(), vec![-1]));

    let image = image();
    let (boxes, _, labels, ids) = as_tensors(&v1_detections(&server, &image).await);
    let answer = grpc
        .model_infer(raw_request("shapes", &image))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (answer.model_name.as_str(), answer.id.as_str()),
        ("shapes", "g-1")
    );
    let names: Vec<&str> = answer.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["boxes", "scores", "labels", "class_ids"]);
    assert_eq!(answer.outputs[0].shape, vec![labels.len() as i64, 4]);
    let got: Vec<f64> = answer.raw_output_contents[0]
        .chunks_exact(4)
        .map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap())))
        .collect();
    assert!(got.iter().zip(&boxes).all(|(a, b)| (a - b).abs() < 1e-3));
    let mut got_labels = Vec::new();
    let raw = &answer.raw_output_contents[2];
    let mut at = 0;
    while at < raw.len() {
        let n = u32::from_le_bytes(raw[at..at + 4].try_into().unwrap()) as usize;
        got_labels.push(String::from_utf8(raw[at + 4..at + 4 + n].to_vec()).unwrap());
        at += 4 + n;
    }
    assert_eq!(got_labels, labels);
    let got_ids: Vec<i64> = answer.raw_output_contents[3]
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(got_ids, ids);

    // The image in typed contents, options as parameters, one output asked for.
    let mut request = pb::ModelInferRequest {
        model_name: "shapes".into(),
        inputs: vec![image_input(Some(pb::InferTensorContents {
            bytes_contents: vec![image.clone()],
            ..Default::default()
        }))],
        outputs: vec![pb::model_infer_request::InferRequestedOutputTensor {
            name: "class_ids".into(),
            parameters: Default::default(),
        }],
        ..Default::default()
    };
    request.parameters.insert(
        "max_detections".into(),
        pb::InferParameter {
            parameter_choice: Some(pb::infer_parameter::ParameterChoice::Int64Param(1)),
        },
    );
    let answer = grpc.model_infer(request).await.unwrap().into_inner();
    assert_eq!(answer.outputs.len(), 1);
    assert_eq!(answer.outputs[0].shape, vec![1]);
}

#[tokio::test]
async fn refusals_carry_codes_and_lookouts_words() {
    let server = TestServer::start(&[
        "--grpc-addr",
        "127.0.0.1:0",
        "--api-key",
        "k3y",
        "--max-body-bytes",
        "3000000",
    ])
    .await;
    let mut grpc = client(&server).await;
    let image = image();

    let err = grpc
        .model_infer(raw_request("shapes", &image))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    assert!(err.message().contains("API key"), "{err:?}");
    let err = grpc
        .model_infer(with_key(raw_request("shapes", &image), "nope"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    // Health stays open.
    assert!(
        grpc.server_ready(pb::ServerReadyRequest {})
            .await
            .unwrap()
            .into_inner()
            .ready
    );

    let err = grpc
        .model_infer(with_key(raw_request("nope", &image), "k3y"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("no model called `nope`"), "{err:?}");
    let mut fp32 = raw_request("shapes", &image);
    fp32.inputs[0].datatype = "FP32".into();
    let err = grpc.model_infer(with_key(fp32, "k3y")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("must have datatype BYTES"),
        "{err:?}"
    );
    let mut missing = raw_request("shapes", &image);
    missing.inputs.clear();
    missing.raw_input_contents.clear();
    let err = grpc
        .model_infer(with_key(missing, "k3y"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("no input `image`"), "{err:?}");
    let mut threshold = raw_request("shapes", &image);
    threshold.parameters.insert(
        "threshold".into(),
        pb::InferParameter {
            parameter_choice: Some(pb::infer_parameter::ParameterChoice::DoubleParam(2.0)),
        },
    );
    let err = grpc
        .model_infer(with_key(threshold, "k3y"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("threshold"), "{err:?}");
    let err = grpc
        .model_infer(with_key(
            raw_request("shapes", b"not an image at all"),
            "k3y",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // A message over --max-body-bytes is refused by the transport's limit.
    let err = grpc
        .model_infer(with_key(
            raw_request("shapes", &vec![0u8; 4_000_000]),
            "k3y",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{err:?}"
    );

    // The client's deadline, when shorter than the server's, ends the request.
    let mut request = with_key(raw_request("shapes", &image), "k3y");
    request.set_timeout(Duration::from_micros(1));
    let err = grpc.model_infer(request).await.unwrap_err();
    assert!(
        matches!(err.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_repository_over_grpc() {
    let dir = models_dir("oip_grpc_repository");
    let dir_arg = dir.display().to_string();
    let server = TestServer::start(&[
        "--grpc-addr",
        "127.0.0.1:0",
        "--models-dir",
        &dir_arg,
        "--default-model",
        "shapes",
        "--admin-key",
        "adm",
    ])
    .await;
    let mut grpc = client(&server).await;
    let err = grpc
        .repository_index(pb::RepositoryIndexRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let index = grpc
        .repository_index(with_key(pb::RepositoryIndexRequest::default(), "adm"))
        .await
        .unwrap()
        .into_inner();
    let states: Vec<(String, String)> = index
        .models
        .into_iter()
        .map(|m| (m.name, m.state))
        .collect();
    assert_eq!(
        states,
        [
            ("shapes".into(), "READY".into()),
            ("spare".into(), "READY".into())
        ]
    );
    let unload = pb::RepositoryModelUnloadRequest {
        model_name: "spare".into(),
        ..Default::default()
    };
    grpc.repository_model_unload(with_key(unload, "adm"))
        .await
        .unwrap();
    let ready = grpc
        .model_ready(pb::ModelReadyRequest {
            name: "spare".into(),
            version: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(ready.code(), Code::NotFound);
    let load = pb::RepositoryModelLoadRequest {
        model_name: "spare".into(),
        ..Default::default()
    };
    grpc.repository_model_load(with_key(load, "adm"))
        .await
        .unwrap();
    let answer = grpc
        .model_infer(raw_request("spare", &image()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.model_name, "spare");
    let models = server.get_json("/v1/models").await;
    assert_eq!(models["models"].as_array().unwrap().len(), 2);
}
